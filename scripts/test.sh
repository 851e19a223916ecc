#!/usr/bin/env bash
# Runs keyward's whole test suite on a fresh machine: installs what the tests need,
# checks formatting and lints, then runs every test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from your distribution or rustup first" >&2
    exit 2
fi

# Tools the tests call: curl and jq run the README's HTTP examples and set up the
# contract run; python3 with venv installs schemathesis (scripts/contract.sh).
missing=()
for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Lints are part of the suite: a warning fails it, as it does in review.
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The API contract against a running server. Its verdict is kept so the tests below
# still run, and the test summary still closes the log.
log "API contract (scripts/contract.sh)"
contract=0
bash scripts/contract.sh || contract=$?

# The dashboard in a headless Chromium (installs Chromium and the npm packages it
# needs). Its verdict is kept the same way.
log "browser tests (scripts/browser.sh)"
browser=0
bash scripts/browser.sh || browser=$?

log "cargo test"
if command -v cargo-nextest >/dev/null 2>&1 || cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests; run them first so the summary closes the log.
    cargo test --workspace --locked --doc
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

status=0
if [ "$contract" -ne 0 ]; then
    echo "the API contract failed (see 'contract summary' above)" >&2
    status=$contract
fi
if [ "$browser" -ne 0 ]; then
    echo "the browser tests failed (see 'browser summary' above)" >&2
    status=$browser
fi
exit "$status"
