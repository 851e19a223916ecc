# Sourced by the side-by-side wall-clock benches (forward-auth.sh, postgres.sh,
# redis-limits.sh): their shared settings, and the rounds they run, so that every
# figure they report is measured the same way.
#
#   ROUNDS (5), DUR (5 seconds), CONNS (32): the rounds' shape
#   KW, KB: keyward and keyward-bench from target/release (CARGO_TARGET_DIR if set)

ROUNDS=${ROUNDS:-5}
DUR=${DUR:-5}
CONNS=${CONNS:-32}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
KW=$TARGET/release/keyward
KB=$TARGET/release/keyward-bench

# need TOOL...: stops the bench, saying which, when a tool is missing.
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install $tool)" >&2; exit 2; }
    done
}

# rounds RUN SERVER...: ROUNDS rounds of `RUN SERVER ROUND OUTPUT_FILE` for every server,
# the order reversed every other round so that a change in the machine's load hits all
# alike. RUN writes wrk's output (`--latency`) to OUTPUT_FILE; a run with any non-2xx
# answer stops the bench. Each run's requests/s and p99 go to $OUT/runs.tsv, for
# bench/forward-auth-summary.py.
rounds() {
    local run=$1 r s raw order
    shift
    printf 'server\tround\trequests_per_s\tp99\n' > "$OUT/runs.tsv"
    for r in $(seq "$ROUNDS"); do
        order=("$@")
        if [ $((r % 2)) = 0 ]; then
            order=($(printf '%s\n' "$@" | tac))
        fi
        for s in "${order[@]}"; do
            raw=$OUT/wrk-$s-$r.txt
            "$run" "$s" "$r" "$raw"
            if grep -q "Non-2xx" "$raw"; then echo "$s: non-2xx answers, see $raw" >&2; exit 1; fi
            printf '%s\t%s\t%s\t%s\n' "$s" "$r" "$(awk '/Requests\/sec/ {print $2}' "$raw")" \
                "$(awk '$1 == "99%" {print $2}' "$raw")" | tee -a "$OUT/runs.tsv"
        done
    done
}
