#!/usr/bin/env bash
# Issue 12's store figures, side by side in one run: keyward on PostgreSQL against
# keyward on SQLite, and two nodes on PostgreSQL behind nginx against one.
#
#   in-process   keyward-bench inproc on each store: the cached check (which touches no
#                store, so the two should be within noise) and the cold check (cache
#                off: every check reads the store)
#   sqlite       keyward serve on the SQLite fixture, POST /v1/keys/verify
#   postgres     keyward serve on the PostgreSQL fixture, the same requests
#   nginx-one    nginx in front of one PostgreSQL node
#   nginx-two    the same nginx in front of two PostgreSQL nodes sharing the database
#
#   bench/postgres.sh [OUT_DIR]          # default /tmp/kw-postgres
#
# ROUNDS rounds of one DUR-second `wrk -t1 -cCONNS` run against each server, the order
# reversed every other round; every keyward node has one worker (`--workers 1`), nginx
# one worker process. Each store holds the same fixture (1,000 keys, plan bench/metered.toml:
# every check metered). PostgreSQL at PG_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) gets a fresh database, dropped at the end.
# Builds nothing: `cargo build --release -p keyward -p keyward-bench` first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/kw-postgres}
source bench/rounds.sh
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=keyward_bench_$$
PG_URL=${PG_ADMIN_URL%/*}/$DB
export KEYWARD_PEPPER=1:postgres-bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz
export KEYWARD_LOG=warn
export KEYWARD_CONFIG=bench/metered.toml
need wrk nginx curl psql python3
rm -rf "$OUT" && mkdir -p "$OUT/nginx/logs"

SQLITE=18401 PG1=18402 PG2=18403 NGINX_ONE=18404 NGINX_TWO=18405
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
    sleep 0.5
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
}
trap cleanup EXIT
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $DB"
KEYWARD_DATABASE_URL=$PG_URL "$KW" -q migrate > /dev/null

"$KB" fixture --data-dir "$OUT/sqlite" --keys 1000 --sample 1000 --out "$OUT/keys-sqlite.txt" > /dev/null
"$KB" fixture --data-dir "$OUT/pg" --database-url "$PG_URL" --keys 1000 --sample 1000 \
    --out "$OUT/keys-pg.txt" > /dev/null
SQLITE_TOKEN=$(KEYWARD_DATA_DIR=$OUT/sqlite "$KW" -q admin token create --name bench)
PG_TOKEN=$(KEYWARD_DATA_DIR=$OUT/pg KEYWARD_DATABASE_URL=$PG_URL "$KW" -q admin token create --name bench)

echo "== in-process check, SQLite" | tee "$OUT/inproc.txt"
"$KB" inproc --data-dir "$OUT/sqlite" --sample "$OUT/keys-sqlite.txt" | tee -a "$OUT/inproc.txt"
echo "== in-process check, PostgreSQL" | tee -a "$OUT/inproc.txt"
"$KB" inproc --data-dir "$OUT/pg" --database-url "$PG_URL" --sample "$OUT/keys-pg.txt" \
    | tee -a "$OUT/inproc.txt"

KEYWARD_DATA_DIR=$OUT/sqlite "$KW" -q serve --listen 127.0.0.1:$SQLITE --workers 1 \
    > "$OUT/sqlite.log" 2>&1 &
pids+=($!)
for port in $PG1 $PG2; do
    KEYWARD_DATA_DIR=$OUT/pg KEYWARD_DATABASE_URL=$PG_URL "$KW" -q serve \
        --listen 127.0.0.1:$port --workers 1 > "$OUT/pg-$port.log" 2>&1 &
    pids+=($!)
done

cat > "$OUT/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    upstream one { server 127.0.0.1:$PG1; keepalive 64; }
    upstream two { server 127.0.0.1:$PG1; server 127.0.0.1:$PG2; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_ONE;
        location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$NGINX_TWO;
        location / { proxy_pass http://two; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf"

for port in $SQLITE $PG1 $PG2 $NGINX_ONE $NGINX_TWO; do
    for _ in $(seq 100); do
        curl -sf -o /dev/null --max-time 1 http://127.0.0.1:$port/readyz && break
        sleep 0.1
    done
done

declare -A url=(
    [sqlite]=http://127.0.0.1:$SQLITE [postgres]=http://127.0.0.1:$PG1
    [nginx-one]=http://127.0.0.1:$NGINX_ONE [nginx-two]=http://127.0.0.1:$NGINX_TWO
)
declare -A keys=([sqlite]=$OUT/keys-sqlite.txt)
declare -A token=([sqlite]=$SQLITE_TOKEN)
servers="sqlite postgres nginx-one nginx-two"
run_wrk() { # server duration connections [VALIDATE]
    KEYS_FILE=${keys[$1]:-$OUT/keys-pg.txt} ADMIN_TOKEN=${token[$1]:-$PG_TOKEN} VALIDATE=${4:-0} \
        wrk -t1 -c"$3" -d"$2" --latency -s bench/verify.lua "${url[$1]}"
}

# Every answer of a validation pass must be a valid check: the load is real checks.
for s in $servers; do
    run_wrk "$s" 2s 8 1 2> "$OUT/validate-$s.txt" > /dev/null
    grep -q '^invalid_answers 0$' "$OUT/validate-$s.txt" \
        || { echo "$s: refused answers: $(cat "$OUT/validate-$s.txt")" >&2; exit 1; }
done

run() { run_wrk "$1" "${DUR}s" "$CONNS" > "$3" 2>&1; } # server round output
# shellcheck disable=SC2086 # one server per word
rounds run $servers
python3 bench/forward-auth-summary.py "$OUT/runs.tsv" \
    "postgres/sqlite:PostgreSQL / SQLite, HTTP verify (target within 10%)" \
    "nginx-two/nginx-one:two nodes / one node behind nginx" | tee "$OUT/summary.md"
