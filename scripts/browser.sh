#!/usr/bin/env bash
# The browser tests: the dashboard's pages in a real headless Chromium
# (tests/browser/*.test.mjs, Node's own test runner, playwright-core and axe-core from
# npm). Each test starts a real `keyward serve` with a fresh data directory; any console
# error, Content-Security-Policy violation, request to another host, or serious
# accessibility violation fails it. scripts/test.sh runs this; it also runs alone.
#
# Installs what is missing: Chromium (apt), and tests/browser's packages (`npm ci`, from
# the committed package-lock.json) when node_modules is missing or was installed from
# another lock.
# Screenshots go to <cargo target dir>/browser/screenshots/<name>-<width>.png.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${CARGO_TARGET_DIR:-target}
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}

log() { printf '\n==> %s\n' "$*"; }

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
[ -x "$CHROMIUM" ] || {
    echo "browser: no Chromium at $CHROMIUM (set CHROMIUM_PATH)" >&2
    exit 2
}
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "browser: Node $(node --version) is too old; the tests need Node 20 or later" >&2
    exit 2
fi

# node_modules keeps a copy of the lock it was installed from: install again when it is
# missing or differs from the committed lock (a dependency changed).
stamp=tests/browser/node_modules/.keyward-lock
if ! cmp -s tests/browser/package-lock.json "$stamp"; then
    log "npm ci in tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/browser/package-lock.json "$stamp"
fi

log "building keyward"
cargo build --locked --quiet -p keyward
TARGET_ABS=$(cd "$TARGET" && pwd)
export KEYWARD_BIN="$TARGET_ABS/debug/keyward"
export CHROMIUM_PATH="$CHROMIUM"
export KEYWARD_SCREENSHOT_DIR="$TARGET_ABS/browser/screenshots"
# Each run's screenshots are its own.
rm -rf "$KEYWARD_SCREENSHOT_DIR"

log "browser tests (tests/browser)"
start=$SECONDS
status=0
(
    cd tests/browser
    node --test --test-reporter=spec --test-timeout=120000 ./*.test.mjs
) || status=$?

log "browser summary"
if [ "$status" -eq 0 ]; then
    echo "browser tests: passed in $((SECONDS - start))s"
else
    echo "browser tests: FAILED in $((SECONDS - start))s"
fi
echo "screenshots: $KEYWARD_SCREENSHOT_DIR"
exit "$status"
