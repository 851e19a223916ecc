#!/usr/bin/env bash
# Idempotent: create .venv, install pinned requirements, apply migrations.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
export DRF_RUN_DIR="${DRF_RUN_DIR:-$PWD/run}"
mkdir -p "$DRF_RUN_DIR"
.venv/bin/python manage.py migrate --noinput
echo "drf peer ready: venv=$PWD/.venv db=$DRF_RUN_DIR/db.sqlite3"
