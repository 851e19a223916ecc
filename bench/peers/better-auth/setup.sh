#!/usr/bin/env bash
# Idempotent setup of the better-auth + @better-auth/api-key peer on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")"

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
DB="${DB_NAME:-keyward_bench_better_auth}"
export DATABASE_URL="${DATABASE_URL:-postgres://${PGUSER}@${PGHOST}:${PGPORT}/${DB}}"

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found (need Node >= 20)"
command -v npm  >/dev/null || die "npm not found"
command -v psql >/dev/null || die "psql not found (apt-get install -y postgresql-client)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
  || die "Node >= 20 required, found $(node -v)"

echo "== npm ci (versions pinned in package-lock.json)"
npm ci --legacy-peer-deps --no-audit --no-fund || die "npm ci failed"

echo "== database ${DB} on ${PGHOST}:${PGPORT} as ${PGUSER}"
pg_isready -h "$PGHOST" -p "$PGPORT" >/dev/null 2>&1 || die "PostgreSQL not reachable at ${PGHOST}:${PGPORT}"
exists="$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
  "select 1 from pg_database where datname = '${DB}'")" || die "cannot query pg_database as ${PGUSER}"
if [ "$exists" = "1" ]; then
  echo "database ${DB} already exists"
else
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 \
    -c "create database \"${DB}\"" || die "create database ${DB} failed"
fi

echo "== better-auth schema migration (getMigrations from better-auth/db/migration)"
node migrate.mjs || die "schema migration failed"

echo "setup.sh: OK"
