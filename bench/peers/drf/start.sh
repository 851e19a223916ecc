#!/usr/bin/env bash
# Usage: start.sh PORT
# Starts gunicorn in the BACKGROUND (daemonized): exactly 1 sync worker on
# 127.0.0.1:PORT, pid file $DRF_RUN_DIR/gunicorn.pid, log $DRF_RUN_DIR/gunicorn.log,
# no access log.  Returns once GET /check answers (any status).  Stop with stop.sh.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PORT" >&2; exit 2; }
PORT=$1
cd "$(dirname "$0")"
export DRF_RUN_DIR="${DRF_RUN_DIR:-$PWD/run}"
mkdir -p "$DRF_RUN_DIR"
PIDFILE="$DRF_RUN_DIR/gunicorn.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "already running (pid $(cat "$PIDFILE")); run stop.sh first" >&2; exit 1
fi
.venv/bin/gunicorn keypeer.wsgi:application \
  --bind "127.0.0.1:$PORT" --workers 1 --worker-class sync \
  --daemon --pid "$PIDFILE" --error-logfile "$DRF_RUN_DIR/gunicorn.log" \
  --log-level warning
for _ in $(seq 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/check"; then
    echo "gunicorn up on 127.0.0.1:$PORT (master pid $(cat "$PIDFILE"))"; exit 0
  fi
  sleep 0.1
done
echo "gunicorn did not come up; see $DRF_RUN_DIR/gunicorn.log" >&2; exit 1
