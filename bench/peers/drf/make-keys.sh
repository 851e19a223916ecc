#!/usr/bin/env bash
# Usage: make-keys.sh N OUTFILE [--append]
# Deletes existing keys (unless --append), creates N keys, writes one valid plaintext key to OUTFILE.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 N OUTFILE [--append]" >&2; exit 2; }
N=$1; OUT=$(realpath -m "$2"); shift 2
cd "$(dirname "$0")"
export DRF_RUN_DIR="${DRF_RUN_DIR:-$PWD/run}"
exec .venv/bin/python manage.py make_keys "$N" "$OUT" "$@"
