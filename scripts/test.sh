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
# contract run; python3 with venv installs schemathesis (scripts/contract.sh); nginx
# and Caddy run the shipped proxy configs end to end (tests/cli/proxies/), which fail
# without them; dpkg-deb checks the Debian package (scripts/package.sh).
missing=()
for tool in curl jq nginx caddy dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null 2>&1 \
        || missing+=("$tool")
done
missing=("${missing[@]/dpkg-deb/dpkg}")
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
# PostgreSQL and Redis: the storage, HTTP and multi-node tests run against real ones,
# which this script does not install (a database server needs an operator's choices).
# Say at once which is missing rather than let dozens of tests fail one by one.
reachable() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
for service in "PostgreSQL 127.0.0.1 5432 KEYWARD_TEST_POSTGRES_URL" "Redis 127.0.0.1 6379 KEYWARD_TEST_REDIS_URL"; do
    set -- $service
    if [ -z "${!4:-}" ] && ! reachable "$2" "$3"; then
        echo "warning: $1 does not answer on $2:$3: the tests that need it will fail. Run $1 there (PostgreSQL with a user 'postgres' that may create databases, trusted on loopback), or point $4 at one." >&2
    fi
done

# Debian's nginx lives in /usr/sbin, which a user's PATH may not hold.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

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

# The Debian package, built from the debug binary and checked (installs cargo-deb
# the first time). Its verdict is kept the same way.
log "Debian package (scripts/package.sh)"
package=0
bash scripts/package.sh || package=$?

log "cargo test"
tests=0
if command -v cargo-nextest >/dev/null 2>&1 || cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests; run them first so the summary closes the log.
    cargo test --workspace --locked --doc
    cargo nextest run --workspace --locked --no-fail-fast || tests=$?
    # The HTTP black-box suite once more, on PostgreSQL (the storage suite runs both
    # backends in every test already). Each test makes its own database on
    # 127.0.0.1:5432 (or KEYWARD_TEST_POSTGRES_URL) and drops it; without a server
    # they fail and say so.
    log "HTTP suite on PostgreSQL"
    KEYWARD_TEST_DATABASE=postgres cargo nextest run -p keyward-server --test api --locked \
        --no-fail-fast || tests=$?
else
    cargo test --workspace --locked --no-fail-fast || tests=$?
    KEYWARD_TEST_DATABASE=postgres cargo test -p keyward-server --test api --locked \
        --no-fail-fast || tests=$?
fi

status=$tests
if [ "$contract" -ne 0 ]; then
    echo "the API contract failed (see 'contract summary' above)" >&2
    status=$contract
fi
if [ "$browser" -ne 0 ]; then
    echo "the browser tests failed (see 'browser summary' above)" >&2
    status=$browser
fi
if [ "$package" -ne 0 ]; then
    echo "the Debian package failed its checks (see 'package' above)" >&2
    status=$package
fi
exit "$status"
