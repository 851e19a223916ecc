#!/usr/bin/env bash
# Every figure of BENCHMARKS.md from one command, on this machine, in one run:
#
#   bench/run.sh            # the full run (1,000,000-key fixture, 10 s per load point)
#   bench/run.sh --quick    # a smoke test: 100,000 keys, 3 s per point
#   bench/run.sh --no-peers # keyward and the hyper baseline only
#
# Every server gets one worker (keyward --workers 1, the hyper baseline 1 thread,
# nginx worker_processes 1, gunicorn 1 sync worker, node one process) and wrk one
# thread, because load generator and servers share the machine's 2 cores. Results go
# to bench/results/<UTC time>/ (raw wrk output, summary.tsv, summary.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIG=1000000
DUR=10
PEERS=1
for arg in "$@"; do
    case "$arg" in
        --quick) BIG=100000; DUR=3 ;;
        --no-peers) PEERS=0 ;;
        *) echo "usage: bench/run.sh [--quick] [--no-peers]" >&2; exit 2 ;;
    esac
done
OUT=${BENCH_OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.tsv
printf 'server\tkeys\tconnections\trequests_per_s\tp50_ms\tp99_ms\trss_mb\n' > "$SUMMARY"
log() { printf '\n==> %s\n' "$*" | tee -a "$OUT/log.txt" >&2; }

# ---- tools ----------------------------------------------------------------------
missing=()
for tool in wrk nginx curl jq; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
log "building release binaries"
cargo build --release --locked -p keyward -p keyward-bench
KW=$ROOT/target/release/keyward
KB=$ROOT/target/release/keyward-bench
export KEYWARD_PEPPER="1:bench-pepper-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export KEYWARD_LOG=warn

{
    echo "date: $(date -u +%FT%TZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
    echo "memory: $(free -h | awk '/Mem:/ {print $2}')"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$OUT/machine.txt"

# ---- helpers --------------------------------------------------------------------
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

wait_http() { # url: until anything answers
    for _ in $(seq 300); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2; return 1
}

# to_ms VALUE: wrk's "1.23ms", "456.00us", "1.01s" in milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else print v }'
}

# load NAME KEYS PID URL SCRIPT: wrk at 1, 32 and 128 connections; one summary row each
load() {
    local name=$1 keys=$2 pid=$3 url=$4 script=$5 c raw rps p50 p99
    wrk -t1 -c8 -d2s -s "$script" "$url" > /dev/null 2>&1 || true   # warm-up
    for c in 1 32 128; do
        raw=$OUT/wrk-$name-$keys-c$c.txt
        wrk -t1 -c"$c" -d"${DUR}s" --latency -s "$script" "$url" > "$raw" 2>&1
        if grep -q "Non-2xx" "$raw"; then
            echo "$name at $c connections: non-2xx answers, see $raw" >&2
        fi
        rps=$(awk '/Requests\/sec/ {print $2}' "$raw")
        p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$raw")")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$raw")")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$keys" "$c" "$rps" "$p50" "$p99" "$(rss_mb "$pid")" | tee -a "$SUMMARY" >&2
    done
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# flood PID URL: valid-key verify throughput (32 connections) alone, then while a second
# client floods the same server with well-formed keys that exist nowhere, at a bounded
# rate (8 connections, one request per ms each: about 8,000/s) and unbounded (32
# connections); three rounds, alone and flooded in turn. Rows of flood.tsv: kind, round,
# valid-key requests/s, the flooder's requests/s.
flood() {
    local pid=$1 url=$2 r kind raw
    printf 'kind\tround\tvalid_per_s\tflood_per_s\n' > "$OUT/flood.tsv"
    "$KB" unknown --count 100000 --out "$OUT/unknown-keys.txt"
    for r in 1 2 3; do
        raw=$OUT/wrk-flood-alone-$r.txt
        wrk -t1 -c32 -d"${DUR}s" -s bench/verify.lua "$url" > "$raw" 2>&1
        printf 'alone\t%s\t%s\t\n' "$r" "$(awk '/Requests\/sec/ {print $2}' "$raw")" | tee -a "$OUT/flood.tsv" >&2
        for kind in bounded unbounded; do
            local c=32 delay=0
            [ "$kind" = bounded ] && { c=8; delay=1; }
            KEYS_FILE=$OUT/unknown-keys.txt DELAY_MS=$delay \
                wrk -t1 -c"$c" -d"$((DUR + 2))s" -s bench/flood.lua "$url" > "$OUT/wrk-flooder-$kind-$r.txt" 2>&1 &
            local flooder=$!
            sleep 1
            raw=$OUT/wrk-flood-$kind-$r.txt
            wrk -t1 -c32 -d"${DUR}s" -s bench/verify.lua "$url" > "$raw" 2>&1
            wait "$flooder" || true
            printf '%s\t%s\t%s\t%s\n' "$kind" "$r" "$(awk '/Requests\/sec/ {print $2}' "$raw")" \
                "$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-flooder-$kind-$r.txt")" | tee -a "$OUT/flood.tsv" >&2
        done
    done
}

# ---- fixtures and in-process figures ---------------------------------------------
for n in 1000 "$BIG"; do
    log "fixture: $n keys"
    rm -rf "$OUT/d$n"
    "$KB" fixture --data-dir "$OUT/d$n" --keys "$n" --sample 10000 --out "$OUT/keys-$n.txt" | tee "$OUT/fixture-$n.txt"
    log "in-process check, $n keys"
    "$KB" inproc --data-dir "$OUT/d$n" --sample "$OUT/keys-$n.txt" | tee "$OUT/inproc-$n.txt"
done

# ---- HTTP: the hyper baseline and keyward ------------------------------------------
log "bare hyper baseline"
"$KB" bare-hyper --listen 127.0.0.1:18200 --workers 1 > /dev/null &
pid=$!
wait_http http://127.0.0.1:18200/
KEYS_FILE=$OUT/keys-1000.txt ADMIN_TOKEN=none load bare-hyper 0 "$pid" http://127.0.0.1:18200 bench/verify.lua
stop "$pid"

# keyward with every check metered (bench/metered.toml: a rate limit and the monthly
# quota, never reached); at 1,000 keys also unmetered (bench/unmetered.toml), as
# "keyward-unmetered", for the cost of step 8 side by side.
for run in "1000 metered" "1000 unmetered" "$BIG metered"; do
    set -- $run
    n=$1 plan=$2 name=keyward
    [ "$plan" = unmetered ] && name=keyward-unmetered
    log "keyward verify API, $n keys, $plan"
    ADMIN_TOKEN=$(KEYWARD_DATA_DIR=$OUT/d$n "$KW" admin token create --name bench)
    export ADMIN_TOKEN KEYS_FILE=$OUT/keys-$n.txt
    KEYWARD_CONFIG=bench/$plan.toml KEYWARD_DATA_DIR=$OUT/d$n "$KW" serve --listen 127.0.0.1:18201 --workers 1 > /dev/null &
    pid=$!
    wait_http http://127.0.0.1:18201/healthz
    # Every answer of a validation pass must be {"valid":true}: the load is real checks.
    VALIDATE=1 wrk -t1 -c8 -d2s -s bench/verify.lua http://127.0.0.1:18201 2> "$OUT/validate-$n-$plan.txt" > /dev/null
    grep -q '^invalid_answers 0$' "$OUT/validate-$n-$plan.txt" || { echo "keyward gave invalid answers: $(cat "$OUT/validate-$n-$plan.txt")" >&2; exit 1; }
    load "$name" "$n" "$pid" http://127.0.0.1:18201 bench/verify.lua
    echo "${name}_rss_mb_after_load_$n $(rss_mb "$pid")" | tee -a "$OUT/memory.txt"
    if [ "$n" = 1000 ] && [ "$plan" = metered ]; then flood "$pid" http://127.0.0.1:18201; fi
    stop "$pid"
done

# ---- peers ------------------------------------------------------------------------
# The worker process of a pre-forking server (nginx, gunicorn): the one doing the work.
worker_of() { pgrep -P "$1" | head -1 || echo "$1"; }

peer_nginx() { # N plaintext keys in a map: the ceiling of a check that does nothing else
    local n=$1
    bash bench/peers/nginx/start.sh 18203 "$OUT/nginx-key-$n.txt" "$n" > "$OUT/nginx-start-$n.txt"
    local master; master=$(cat bench/peers/nginx/run/nginx.pid)
    KEYS_FILE=$OUT/nginx-key-$n.txt load nginx-map "$n" "$(worker_of "$master")" http://127.0.0.1:18203 bench/header.lua
    bash bench/peers/nginx/stop.sh > /dev/null
}

peer_drf() { # djangorestframework-api-key behind gunicorn
    bash bench/peers/drf/setup.sh > "$OUT/drf-setup.txt" 2>&1
    bash bench/peers/drf/make-keys.sh 1000 "$OUT/drf-key.txt" > /dev/null
    bash bench/peers/drf/start.sh 18202 > /dev/null
    local master; master=$(cat bench/peers/drf/run/gunicorn.pid)
    KEYS_FILE=$OUT/drf-key.txt load drf-api-key 1000 "$(worker_of "$master")" http://127.0.0.1:18202 bench/header.lua
    bash bench/peers/drf/stop.sh > /dev/null
}

peer_better_auth() { # better-auth + @better-auth/api-key on PostgreSQL
    (cd bench/peers/better-auth && ./setup.sh > "$OUT/better-auth-setup.txt" 2>&1 \
        && FRESH=1 ALL_KEYS=$OUT/better-auth-keys.txt node make-keys.mjs 1000 "$OUT/better-auth-key.txt" > /dev/null)
    (cd bench/peers/better-auth && PORT=18204 exec node server.mjs > /dev/null) &
    local pid=$!
    wait_http http://127.0.0.1:18204/check
    KEYS_FILE=$OUT/better-auth-keys.txt HEADER=x-api-key load better-auth 1000 "$(pgrep -P "$pid" node || echo "$pid")" http://127.0.0.1:18204 bench/header.lua
    stop "$pid"
}

if [ "$PEERS" = 1 ]; then
    for peer in "nginx 1000" "nginx $BIG" drf better_auth; do
        set -- $peer
        log "peer: $peer"
        "peer_${1}" "${2:-}" || log "peer $peer failed; see $OUT"
    done
fi

python3 bench/summarize.py "$OUT" | tee "$OUT/summary.md"
echo "results in $OUT"
