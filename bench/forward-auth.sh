#!/usr/bin/env bash
# Issue 11's figures, side by side in one run: every server up at once, then ROUNDS
# rounds of one DUR-second `wrk -t1 -cCONNS --latency` run against each, in an order
# that alternates between rounds, so that a change in the machine's load hits all alike.
#
#   bare-hyper        keyward-bench bare-hyper: a fixed 200, the HTTP ceiling
#   hyper-hash        the same, also computing each request's keyed hash (HMAC-SHA-256
#                     under a pepper) as keyward's check does: the ceiling for any
#                     server that checks keys
#   hyper-answer      the same again, answering with the header fields of keyward's
#                     forward-auth answer (fixed values): the floor for any server that
#                     checks a key and answers as forward auth must
#   forward-auth      keyward's /v1/forward-auth, as nginx auth_request calls it
#   verify            keyward's POST /v1/keys/verify (bench/verify.lua)
#   bare-hyper-post   the hyper baseline given the verify requests
#   nginx             nginx alone in front of a static upstream (bare hyper)
#   nginx-keyward     the same nginx with auth_request to keyward (deploy/nginx)
#
#   bench/forward-auth.sh [OUT_DIR]     # default /tmp/kw-forward-auth
#
# One worker each (keyward --workers 1, hyper 1 thread, nginx worker_processes 1) and
# wrk one thread. keyward runs bench/forward-auth.toml: every check metered (a rate
# limit and a quota, never reached) on a 1,000-key fixture. Builds nothing: uses
# target/release (CARGO_TARGET_DIR if set); `cargo build --release -p keyward -p
# keyward-bench` first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/kw-forward-auth}
source bench/rounds.sh
export KEYWARD_PEPPER=1:forward-auth-bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz
export KEYWARD_LOG=warn
need wrk nginx curl python3
rm -rf "$OUT" && mkdir -p "$OUT/nginx"
"$KB" fixture --data-dir "$OUT/data" --keys 1000 --sample 1000 --out "$OUT/keys.txt" > /dev/null
export KEYS_FILE=$OUT/keys.txt
ADMIN_TOKEN=$(KEYWARD_DATA_DIR=$OUT/data "$KW" admin token create --name bench)
export ADMIN_TOKEN

HYPER=18301 KEYWARD=18302 NGINX_ALONE=18303 NGINX_AUTH=18304 HASHING=18305 ANSWERING=18306
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true' EXIT
# The process answering each direct server, whose CPU time each run reads.
declare -A pid
"$KB" bare-hyper --listen 127.0.0.1:$HYPER --workers 1 > /dev/null &
pids+=($!) && pid[bare-hyper]=$! && pid[bare-hyper-post]=$!
"$KB" bare-hyper --listen 127.0.0.1:$HASHING --workers 1 --keyed-hash > /dev/null &
pids+=($!) && pid[hyper-hash]=$!
"$KB" bare-hyper --listen 127.0.0.1:$ANSWERING --workers 1 --keyed-hash --forward-auth-answer > /dev/null &
pids+=($!) && pid[hyper-answer]=$!
KEYWARD_CONFIG=bench/forward-auth.toml KEYWARD_DATA_DIR=$OUT/data \
    "$KW" serve --listen 127.0.0.1:$KEYWARD --workers 1 > "$OUT/keyward.log" 2>&1 &
pids+=($!)
kw_pid=$!
pid[forward-auth]=$kw_pid && pid[verify]=$kw_pid

# nginx: the shipped deploy/nginx/keyward.conf with its upstreams and port replaced, and
# next to it a server with the same proxy settings and no auth_request.
bash bench/nginx-forward-auth.sh "$OUT/nginx" $NGINX_AUTH $NGINX_ALONE 127.0.0.1:$KEYWARD 127.0.0.1:$HYPER
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf"

for port in $HYPER $HASHING $ANSWERING $KEYWARD $NGINX_ALONE; do
    for _ in $(seq 100); do
        curl -s -o /dev/null --max-time 1 http://127.0.0.1:$port/ && break
        sleep 0.1
    done
done

declare -A url=(
    [bare-hyper]=http://127.0.0.1:$HYPER [hyper-hash]=http://127.0.0.1:$HASHING
    [hyper-answer]=http://127.0.0.1:$ANSWERING
    [forward-auth]=http://127.0.0.1:$KEYWARD
    [verify]=http://127.0.0.1:$KEYWARD [bare-hyper-post]=http://127.0.0.1:$HYPER
    [nginx]=http://127.0.0.1:$NGINX_ALONE [nginx-keyward]=http://127.0.0.1:$NGINX_AUTH
)
declare -A script=(
    [bare-hyper]=forward [hyper-hash]=forward [hyper-answer]=forward [forward-auth]=forward [verify]=verify [bare-hyper-post]=verify
    [nginx]=forward [nginx-keyward]=forward
)
declare -A direct=([nginx]=0 [nginx-keyward]=0)
servers="bare-hyper hyper-hash hyper-answer forward-auth bare-hyper-post verify nginx nginx-keyward"

# Every keyward answer of a validation pass must be a pass: the load is real checks.
for s in forward-auth verify nginx-keyward; do
    DIRECT=${direct[$s]:-1} VALIDATE=1 wrk -t1 -c8 -d2s -s "bench/${script[$s]}.lua" "${url[$s]}" \
        2> "$OUT/validate-$s.txt" > /dev/null
    grep -q '^invalid_answers 0$' "$OUT/validate-$s.txt" \
        || { echo "$s: refused answers: $(cat "$OUT/validate-$s.txt")" >&2; exit 1; }
done

# The server's CPU time (user + system, all its threads) per request: what it spent,
# whether or not wrk, on the other core, was what held the rate back.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf 'server\tround\tcpu_us_per_request\n' > "$OUT/cpu.tsv"
run() { # server round output
    local s=$1 r=$2 raw=$3 before
    before=$([ -n "${pid[$s]:-}" ] && cpu_ticks "${pid[$s]}" || echo 0)
    DIRECT=${direct[$s]:-1} wrk -t1 -c"$CONNS" -d"${DUR}s" --latency \
        -s "bench/${script[$s]}.lua" "${url[$s]}" > "$raw" 2>&1
    if [ -n "${pid[$s]:-}" ]; then
        printf '%s\t%s\t%s\n' "$s" "$r" "$(awk -v t="$(( $(cpu_ticks "${pid[$s]}") - before ))" \
            -v hz="$(getconf CLK_TCK)" '/requests in/ {printf "%.2f", t / hz * 1e6 / $1}' "$raw")" \
            >> "$OUT/cpu.tsv"
    fi
}
# shellcheck disable=SC2086 # one server per word
rounds run $servers
echo "keyward_rss_mb $(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$kw_pid/status)" | tee "$OUT/memory.txt"
python3 bench/forward-auth-summary.py "$OUT/runs.tsv" | tee "$OUT/summary.md"
python3 bench/forward-auth-summary.py --cpu "$OUT/cpu.tsv" | tee -a "$OUT/summary.md"
