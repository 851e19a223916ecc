#!/usr/bin/env bash
# Verify API throughput metered and unmetered, side by side: both servers up at once
# (each `keyward serve --workers 1` on its own copy of a 1,000-key fixture), then
# ROUNDS rounds of one DUR-second `wrk -t1 -cCONNS` run against each, in alternating
# order, so that a change in the machine's load hits both alike. Prints every run and
# the medians.
#
#   bench/side-by-side.sh [OUT_DIR]     # default /tmp/kw-side-by-side
#
# Builds nothing: uses target/release (CARGO_TARGET_DIR, if set, else ./target).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/kw-side-by-side}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-5}
CONNS=${CONNS:-32}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
KW=$TARGET/release/keyward
KB=$TARGET/release/keyward-bench
export KEYWARD_PEPPER=1:side-by-side-pepper-0123456789abcdefghijklmnopqrstuvwxyz
export KEYWARD_LOG=warn
mkdir -p "$OUT"
if [ ! -d "$OUT/d-metered" ]; then
    "$KB" fixture --data-dir "$OUT/d-metered" --keys 1000 --sample 1000 --out "$OUT/keys.txt" > /dev/null
    cp -r "$OUT/d-metered" "$OUT/d-unmetered"
fi
export KEYS_FILE=$OUT/keys.txt
declare -A port=([metered]=18271 [unmetered]=18272) pid=()
for plan in metered unmetered; do
    token=$(KEYWARD_DATA_DIR=$OUT/d-$plan "$KW" admin token create --name side-by-side)
    echo "$token" > "$OUT/token-$plan"
    KEYWARD_CONFIG=bench/$plan.toml KEYWARD_DATA_DIR=$OUT/d-$plan \
        "$KW" serve --listen 127.0.0.1:${port[$plan]} --workers 1 > /dev/null 2>&1 &
    pid[$plan]=$!
done
trap 'kill ${pid[metered]} ${pid[unmetered]} 2>/dev/null || true' EXIT
for plan in metered unmetered; do
    for _ in $(seq 100); do
        curl -s -o /dev/null --max-time 1 http://127.0.0.1:${port[$plan]}/healthz && break
        sleep 0.1
    done
    # Every answer must be {"valid":true,...}; this also warms the caches.
    ADMIN_TOKEN=$(cat "$OUT/token-$plan") VALIDATE=1 wrk -t1 -c8 -d2s -s bench/verify.lua \
        http://127.0.0.1:${port[$plan]} 2> "$OUT/validate-$plan.txt" > /dev/null
    grep -q '^invalid_answers 0$' "$OUT/validate-$plan.txt" \
        || { echo "$plan: invalid answers: $(cat "$OUT/validate-$plan.txt")" >&2; exit 1; }
done
: > "$OUT/runs.tsv"
for r in $(seq "$ROUNDS"); do
    order="metered unmetered"
    [ $((r % 2)) = 0 ] && order="unmetered metered"
    for plan in $order; do
        raw=$OUT/wrk-$plan-$r.txt
        ADMIN_TOKEN=$(cat "$OUT/token-$plan") wrk -t1 -c"$CONNS" -d"${DUR}s" -s bench/verify.lua \
            http://127.0.0.1:${port[$plan]} > "$raw" 2>&1
        rps=$(awk '/Requests\/sec/ {print $2}' "$raw")
        printf '%s\t%s\t%s\n' "$plan" "$r" "$rps" | tee -a "$OUT/runs.tsv"
    done
done
python3 - "$OUT/runs.tsv" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    plan, _, rps = line.split()
    runs.setdefault(plan, []).append(float(rps))
m, u = statistics.median(runs["metered"]), statistics.median(runs["unmetered"])
pairs = [a / b for a, b in zip(runs["metered"], runs["unmetered"])]
print(f"median requests/s: metered {m:,.0f}, unmetered {u:,.0f}; ratio of medians {m / u:.3f}; "
      f"median of per-round ratios {statistics.median(pairs):.3f}")
EOF
