#!/usr/bin/env bash
# The API contract: schemathesis (PyPI) tests a real `keyward serve` against the OpenAPI
# document it serves, with every check and every phase (examples, coverage, fuzzing,
# stateful), once as the operator (an admin token) and once as an API key. Any failure
# fails the script. scripts/test.sh runs it; it also runs alone.
#
# Needs python3 (with venv), curl and jq; reaches no network but PyPI, and only on the
# first run: the virtualenv is kept under the cargo target directory.
#
# KEYWARD_CONTRACT_EXAMPLES sets the examples per operation and phase (default 50), to
# keep the two runs within a couple of minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${KEYWARD_CONTRACT_EXAMPLES:-50}
TARGET=${CARGO_TARGET_DIR:-target}
VENV="$TARGET/contract/schemathesis-$SCHEMATHESIS_VERSION"

log() { printf '\n==> %s\n' "$*"; }

for tool in python3 curl jq; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "contract: $tool is missing (scripts/test.sh installs curl and jq)" >&2
        exit 2
    }
done

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

VENV_ABS=$(cd "$VENV" && pwd)
CONFIG=$(pwd)/scripts/schemathesis.toml

log "building keyward"
cargo build --locked --quiet -p keyward
KEYWARD="$(cd "$TARGET" && pwd)/debug/keyward"

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export KEYWARD_DATA_DIR="$WORK/data"
export KEYWARD_LOG=warn
# The CLI and the server share the data directory: the token made here works there.
# Only `init` (or `serve`) creates the data directory; other commands refuse a missing one.
"$KEYWARD" --quiet init >/dev/null
ADMIN_TOKEN=$("$KEYWARD" --quiet admin tokens create --name contract)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A port picked this way can be taken before the server binds it: try a few.
for _ in 1 2 3; do
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$KEYWARD" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
done
if [ -z "$SERVER_PID" ]; then
    echo "contract: keyward serve did not start:" >&2
    cat "$WORK/serve.log" >&2
    exit 1
fi

api() {
    local method=$1 path=$2 body=$3
    curl -fsS -X "$method" "$URL$path" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'content-type: application/json' -d "$body"
}
# The largest default plan (25 keys), and a key whose own limit the run cannot reach
# (only the operator may give one looser than the plan's): the run explores the API,
# and 429 is tested on its own (tests/api/ratelimits.rs).
api POST /v1/orgs '{"name": "Contract", "plan": "max"}' >/dev/null
api POST /v1/orgs/Contract/projects '{"name": "Website"}' >/dev/null
KEY=$(api POST /v1/keys '{"org": "Contract", "name": "contract key", "org_access": "manage",
    "grants": [{"project": "*", "environment": "*", "level": "manage"}],
    "rate_limits": [{"name": "contract", "limit": 1000000000, "period": "1s"}]}' | jq -r .key)

# Every check, every phase. A fixed budget per operation keeps the time bounded; the
# seed changes every run, so each run explores new inputs (a failure prints its seed).
# Run from the target directory, where schemathesis keeps its cache of failures
# (`cd target/contract && st replay ID` replays one) and its reports. One worker:
# Python 3.11's parser is not safe to call from several threads, which schemathesis
# does with more.
run_schemathesis() {
    local label=$1 credential=$2
    log "schemathesis $SCHEMATHESIS_VERSION as $label: $URL/openapi.json"
    (
        cd "$TARGET/contract"
        "$VENV_ABS/bin/st" --no-color --config-file "$CONFIG" run "$URL/openapi.json" \
            --checks all \
            --phases examples,coverage,fuzzing,stateful \
            --max-examples "$EXAMPLES" \
            --workers 1 \
            --request-timeout 10 \
            --header "Authorization: Bearer $credential" \
            --report junit --report-dir "report-$label"
    )
}

status=0
results=()
# The key runs first: the operator's run may revoke or delete it, as the API allows.
for run in key admin; do
    credential=$KEY
    [ "$run" = admin ] && credential=$ADMIN_TOKEN
    start=$SECONDS
    if run_schemathesis "$run" "$credential" >"$WORK/st-$run.log" 2>&1; then
        results+=("contract as $run: passed in $((SECONDS - start))s")
    else
        status=1
        results+=("contract as $run: FAILED in $((SECONDS - start))s")
    fi
    cat "$WORK/st-$run.log"
done

if kill -0 "$SERVER_PID" 2>/dev/null; then
    :
else
    echo "contract: the server died during the run:" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    log "server log"
    tail -n 50 "$WORK/serve.log"
fi
log "contract summary"
printf '%s\n' "${results[@]}"
exit "$status"
