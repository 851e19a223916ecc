#!/usr/bin/env bash
# Issue 12's rate-limit figures, side by side in one run: two keyward servers on the
# same fixture and config, every check metered against a rate limit (never reached)
# and a quota, one keeping the limits in its own memory (the single-node limiter), the
# other in Redis (KEYWARD_REDIS_URL: one EVALSHA round trip per check). Then ROUNDS
# rounds of one DUR-second `wrk -t1 -cCONNS --latency` run of POST /v1/keys/verify
# (bench/verify.lua) against each, in an order that alternates between rounds.
#
#   bench/redis-limits.sh [OUT_DIR]     # default /tmp/kw-redis-limits
#
# One worker each (keyward --workers 1) and wrk one thread. The Redis server runs with
# redis_unreachable = "closed" and a 1 s timeout (REDIS_TIMEOUT): a check Redis did not
# decide is a 503, which fails the run, so the figures are of Redis deciding every
# check, not of the fallback; the default 50 ms can be exceeded on a loaded 2-core
# machine (see BENCHMARKS.md). Needs Redis at
# REDIS_URL (default redis://127.0.0.1:6379/0); writes under the prefix
# keyward-bench-<pid>: and deletes it after. Builds nothing: uses target/release
# (CARGO_TARGET_DIR if set); `cargo build --release -p keyward -p keyward-bench` first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/kw-redis-limits}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PREFIX=keyward-bench-$$:
source bench/rounds.sh
export KEYWARD_PEPPER=1:redis-limits-bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz
export KEYWARD_LOG=warn
need wrk curl python3 redis-cli
redis-cli -u "$REDIS_URL" ping > /dev/null || { echo "Redis does not answer at $REDIS_URL" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT"
"$KB" fixture --data-dir "$OUT/data" --keys 1000 --sample 1000 --out "$OUT/keys.txt" > /dev/null
export KEYS_FILE=$OUT/keys.txt
ADMIN_TOKEN=$(KEYWARD_DATA_DIR=$OUT/data "$KW" admin token create --name bench)
export ADMIN_TOKEN

LOCAL=18311 REDIS=18312
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS_URL" del > /dev/null
}
trap cleanup EXIT
KEYWARD_CONFIG=bench/forward-auth.toml KEYWARD_DATA_DIR=$OUT/data \
    "$KW" serve --listen 127.0.0.1:$LOCAL --workers 1 > "$OUT/keyward-local.log" 2>&1 &
pids+=($!)
KEYWARD_CONFIG=bench/forward-auth.toml KEYWARD_DATA_DIR=$OUT/data \
    KEYWARD_REDIS_URL=$REDIS_URL KEYWARD_REDIS_KEY_PREFIX=$PREFIX KEYWARD_REDIS_UNREACHABLE=closed \
    KEYWARD_REDIS_TIMEOUT=${REDIS_TIMEOUT:-1s} \
    "$KW" serve --listen 127.0.0.1:$REDIS --workers 1 > "$OUT/keyward-redis.log" 2>&1 &
pids+=($!)
for port in $LOCAL $REDIS; do
    for _ in $(seq 100); do
        curl -s -o /dev/null --max-time 1 http://127.0.0.1:$port/readyz && break
        sleep 0.1
    done
done
curl -s http://127.0.0.1:$REDIS/readyz | grep -q '"ready"' \
    || { echo "the Redis server is not ready: $(curl -s http://127.0.0.1:$REDIS/readyz)" >&2; exit 1; }

declare -A url=([verify-local]=http://127.0.0.1:$LOCAL [verify-redis]=http://127.0.0.1:$REDIS)
servers="verify-local verify-redis"

evalsha_calls() {
    redis-cli -u "$REDIS_URL" info commandstats | awk -F'[=,:]' '/^cmdstat_evalsha:/ {print $3}' | grep . || echo 0
}
# Every answer of a validation pass must be valid: the load is real, metered checks;
# and the Redis server's must each have run the script.
for s in $servers; do
    before=$(evalsha_calls)
    VALIDATE=1 wrk -t1 -c8 -d2s -s bench/verify.lua "${url[$s]}" 2> "$OUT/validate-$s.txt" > "$OUT/validate-$s-wrk.txt"
    grep -q '^invalid_answers 0$' "$OUT/validate-$s.txt" \
        || { echo "$s: refused answers: $(cat "$OUT/validate-$s.txt")" >&2; exit 1; }
    requests=$(awk '/requests in/ {print $1}' "$OUT/validate-$s-wrk.txt")
    calls=$(( $(evalsha_calls) - before ))
    echo "$s: $requests requests, $calls EVALSHA in Redis"
    if [ "$s" = verify-redis ] && [ "$calls" -lt "$requests" ]; then
        echo "verify-redis ran the script $calls times for $requests requests: is it using Redis?" >&2; exit 1
    fi
done

run() { wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s bench/verify.lua "${url[$1]}" > "$3" 2>&1; } # server round output
# shellcheck disable=SC2086 # one server per word
rounds run $servers
grep -q "Redis fails" "$OUT/keyward-redis.log" && { echo "Redis failed during the run: $OUT/keyward-redis.log" >&2; exit 1; }
python3 bench/forward-auth-summary.py "$OUT/runs.tsv" | sed '/^- /d' | tee "$OUT/summary.md"
python3 - "$OUT/runs.tsv" <<'PY' | tee -a "$OUT/summary.md"
import statistics, sys
rps = {}
for line in list(open(sys.argv[1]))[1:]:
    s, _, r, _ = line.split()
    rps.setdefault(s, []).append(float(r))
a, b = rps["verify-redis"], rps["verify-local"]
print(f"- verify with limits in Redis / in memory: {statistics.median(a) / statistics.median(b):.3f} "
      f"(median of per-round ratios {statistics.median([x / y for x, y in zip(a, b)]):.3f})")
PY
