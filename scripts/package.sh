#!/usr/bin/env bash
# Builds keyward's Debian package with cargo-deb and checks it as an operator would
# receive it: its control data and contents (dpkg-deb -f/-c/-e), the packaged unit
# (systemd-analyze verify and security), and the packaged binary itself, unpacked
# with dpkg -x into a scratch folder and run (`keyward --version`).
#
#   scripts/package.sh            packages the debug build (what the tests build; fast)
#   scripts/package.sh --release  packages an optimised build: the one to ship
#
# The package lands in $CARGO_TARGET_DIR/debian/ (target/debian/ by default).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() { echo "package check failed: $*" >&2; exit 1; }

# cargo-deb, pinned: its asset and unit handling is what the checks below expect.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null || true)" != "$CARGO_DEB_VERSION" ]; then
    log "installing cargo-deb $CARGO_DEB_VERSION (a few minutes, once)"
    cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
for tool in dpkg-deb dpkg; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (Debian's dpkg package)"
done

target=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
if [ "${1:-}" = "--release" ]; then
    log "cargo deb (release)"
    deb=$(cargo deb -p keyward --locked | tail -n 1)
else
    log "cargo deb (the debug build)"
    # cargo-deb 3.8 warns that packaging a dev profile is for tests only: it is.
    cargo build -p keyward --locked
    deb=$(cargo deb -p keyward --profile dev --no-build --no-strip | tail -n 1)
fi
[ -f "$deb" ] || fail "cargo deb printed no package path (got '$deb')"
echo "$deb"

log "control data (dpkg-deb -f)"
dpkg-deb -f "$deb"
[ "$(dpkg-deb -f "$deb" Package)" = keyward ] || fail "Package is not keyward"
version=$(cargo metadata --format-version 1 --no-deps | jq -r '.packages[] | select(.name == "keyward") | .version')
case "$(dpkg-deb -f "$deb" Version)" in
    "$version"*) ;;
    *) fail "Version $(dpkg-deb -f "$deb" Version) is not the crate's $version" ;;
esac
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture"
dpkg-deb -f "$deb" Depends | grep -q libc6 || fail "Depends does not name libc6"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"

log "contents (dpkg-deb -c)"
contents=$(dpkg-deb -c "$deb")
echo "$contents"
unit_path=""
for want in ./usr/bin/keyward ./etc/keyward/keyward.toml ./usr/share/doc/keyward/copyright; do
    grep -q " $want\$" <<<"$contents" || fail "$want is not in the package"
done
unit_path=$(grep -oE ' \./(usr/)?lib/systemd/system/keyward\.service$' <<<"$contents" | tr -d ' ') \
    || fail "the systemd unit is not in the package"
grep -E ' \./usr/bin/keyward$' <<<"$contents" | grep -q '^-rwxr-xr-x' || fail "usr/bin/keyward is not executable"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
log "maintainer data (dpkg-deb -e)"
dpkg-deb -e "$deb" "$scratch/DEBIAN"
grep -qx /etc/keyward/keyward.toml "$scratch/DEBIAN/conffiles" || fail "keyward.toml is not a conffile"
cat "$scratch/DEBIAN/conffiles"

log "unpacked (dpkg -x) and run"
dpkg -x "$deb" "$scratch/root"
cmp -s "$scratch/root/etc/keyward/keyward.toml" deploy/keyward.toml || fail "the packaged config is not deploy/keyward.toml"
cmp -s "$scratch/root/$unit_path" deploy/systemd/keyward.service || fail "the packaged unit is not deploy/systemd/keyward.service"
printed=$("$scratch/root/usr/bin/keyward" --version)
echo "$printed"
[ "$printed" = "keyward $version" ] || fail "the packaged keyward says '$printed', not 'keyward $version'"

if command -v systemd-analyze >/dev/null 2>&1; then
    log "the packaged unit (systemd-analyze)"
    # Pointed at the unpacked binary: verify checks that ExecStart exists.
    mkdir -p "$scratch/unit"
    sed "s|/usr/bin/keyward|$scratch/root/usr/bin/keyward|" "$scratch/root/$unit_path" \
        > "$scratch/unit/keyward.service"
    systemd-analyze verify "$scratch/unit/keyward.service" || fail "systemd-analyze verify"
    # Exposure on systemd's 0-10 scale, 1.1 when written; fail past 2.0.
    exposure=$(systemd-analyze security --offline=yes --threshold=20 "$scratch/unit/keyward.service") \
        || fail "the unit's exposure rose above 2.0 (systemd-analyze security):
$exposure"
    tail -n 1 <<<"$exposure"
else
    echo "systemd-analyze is missing: the unit was not checked (install Debian's systemd package)"
fi

log "package summary: $deb is good"
