#!/usr/bin/env bash
# Issue 12's figure: how long after one node acknowledges a revocation the other
# nodes refuse the key, with three `keyward serve` processes sharing one PostgreSQL
# database (LISTEN/NOTIFY), on loopback.
#
#   bench/propagation.sh [ROUNDS]        # default 200
#
# Builds nothing: uses target/release/keyward (CARGO_TARGET_DIR if set); `cargo build
# --release -p keyward` first. Makes a fresh database on PGADMIN (default this
# machine's PostgreSQL, trust authentication) and drops it at the end; runs `keyward
# migrate` once and the nodes with migrate_on_start off and a 5-minute cache ttl, so
# that only the notifications (not the poll) can make a node see the change in time.
# bench/propagation.py then revokes ROUNDS keys through node A, each cached valid on
# B and C beforehand, polls B and C from A's 200 until they refuse, and prints
# p50/p99/max. The poller runs on the same cores as the three nodes and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${1:-200}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
KW=$TARGET/release/keyward
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
DB=kw_propagation_$$
URL=${PGADMIN%/*}/$DB
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$PGADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql "$PGADMIN" -qc "CREATE DATABASE $DB" >/dev/null
export KEYWARD_DATABASE_URL=$URL
export KEYWARD_PEPPER=1:propagation-pepper-0123456789abcdefghijklmnopqrs
export KEYWARD_MIGRATE_ON_START=false
export KEYWARD_CACHE_TTL=5m
export KEYWARD_LOG=warn
mkdir -p "$WORK/cli"
KEYWARD_DATA_DIR=$WORK/cli "$KW" migrate >/dev/null
TOKEN=$(KEYWARD_DATA_DIR=$WORK/cli "$KW" admin tokens create --name propagation)
# Free loopback ports, asked of the kernel (other benchmarks may hold fixed ones).
read -r -a PORTS <<< "$(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
URLS=()
for i in 0 1 2; do
    port=${PORTS[$i]}
    KEYWARD_DATA_DIR=$WORK/n$i "$KW" serve --listen 127.0.0.1:$port >/dev/null 2>"$WORK/n$i.log" &
    PIDS+=($!)
    URLS+=("http://127.0.0.1:$port")
done
for i in 0 1 2; do
    for _ in $(seq 1 300); do
        kill -0 "${PIDS[$i]}" 2>/dev/null || { cat "$WORK/n$i.log"; exit 1; }
        curl -fs -o /dev/null "${URLS[$i]}/readyz" && break
        sleep 0.1
    done
    curl -fsS -o /dev/null "${URLS[$i]}/readyz"
done
echo "3 nodes ($KW), PostgreSQL $(psql "$PGADMIN" -tAc 'SHOW server_version'), $ROUNDS revocations through node A"
python3 bench/propagation.py "$TOKEN" "$ROUNDS" "${URLS[@]}"
