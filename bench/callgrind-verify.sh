#!/usr/bin/env bash
# Instructions per verify request, metered and unmetered, counted by callgrind: a
# figure the machine's load cannot move.
#
#   bench/callgrind-verify.sh [OUT_DIR]      # default /tmp/kw-callgrind
#
# Builds nothing: uses target/release/{keyward,keyward-bench} (CARGO_TARGET_DIR, if
# set, else ./target). For each plan (bench/metered.toml, bench/unmetered.toml) it
# starts `keyward serve --workers 1` under callgrind on a 1,000-key fixture, sends
# WARMUP verify requests (1,500 by default: every key is cached before counting),
# zeroes the counters, sends COUNT more on one kept-alive connection
# (bench/seqverify.py), dumps, and prints the instructions per request: on the request
# path, and in the whole process. The dumps stay in OUT_DIR as <plan>.callgrind, for
# callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/kw-callgrind}
WARMUP=${WARMUP:-1500}
COUNT=${COUNT:-3000}
PORT=${PORT:-18251}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
KW=$TARGET/release/keyward
KB=$TARGET/release/keyward-bench
export KEYWARD_PEPPER=1:callgrind-pepper-0123456789abcdefghijklmnopqrstuvwxyz
export KEYWARD_LOG=warn
mkdir -p "$OUT"
if [ ! -d "$OUT/d" ]; then
    "$KB" fixture --data-dir "$OUT/d" --keys 1000 --sample 1000 --out "$OUT/keys.txt" > /dev/null
fi
ADMIN_TOKEN=$(KEYWARD_DATA_DIR=$OUT/d "$KW" admin token create --name callgrind)
export ADMIN_TOKEN

for plan in ${PLANS:-metered unmetered}; do
    rm -f "$OUT/cg-$plan".*
    KEYWARD_CONFIG=bench/$plan.toml KEYWARD_DATA_DIR=$OUT/d \
        valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-$plan.%p" \
        "$KW" serve --listen 127.0.0.1:$PORT --workers 1 2> "$OUT/valgrind-$plan.log" &
    pid=$!
    for _ in $(seq 600); do
        curl -s -o /dev/null --max-time 1 http://127.0.0.1:$PORT/healthz && break
        sleep 0.2
    done
    python3 bench/seqverify.py $PORT "$OUT/keys.txt" "$WARMUP" > /dev/null
    CALLGRIND_PID=$pid DUMP_NAME=$plan python3 bench/seqverify.py $PORT "$OUT/keys.txt" "$COUNT"
    kill -TERM $pid
    wait $pid || true
    dump=$(ls "$OUT/cg-$plan.$pid".* | head -1)
    cp "$dump" "$OUT/$plan.callgrind"
    total=$(awk '/^summary:/ {print $2}' "$dump")
    # The request path: everything done for the connection's requests (hyper, axum,
    # the handler, the check), without what the server does on a timer (writing usage
    # every 5 s, reading the change log), which a run slowed down by callgrind
    # inflates per request. awk reads to the end: stopping early would kill
    # callgrind_annotate with SIGPIPE, and pipefail this script.
    path=$(callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$dump" 2>/dev/null \
        | awk '/serve::serve_connection::\{\{closure\}\}/ && !found {gsub(",", "", $1); print $1; found = 1}')
    printf '%s\tper request: request path %s, whole process %s\n' "$plan" "$((path / COUNT))" "$((total / COUNT))"
done
