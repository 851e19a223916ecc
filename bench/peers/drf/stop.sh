#!/usr/bin/env bash
# Stops the gunicorn started by start.sh (by its pid file only).
set -euo pipefail
cd "$(dirname "$0")"
PIDFILE="${DRF_RUN_DIR:-$PWD/run}/gunicorn.pid"
[ -f "$PIDFILE" ] || { echo "not running (no $PIDFILE)"; exit 0; }
PID=$(cat "$PIDFILE")
if ! grep -q "gunicorn" "/proc/$PID/cmdline" 2>/dev/null; then
  echo "pid $PID is not gunicorn; removing stale pid file"; rm -f "$PIDFILE"; exit 0
fi
kill -TERM "$PID" 2>/dev/null || { echo "stale pid file"; rm -f "$PIDFILE"; exit 0; }
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && { echo "gunicorn $PID still alive" >&2; exit 1; }
echo "stopped gunicorn $PID"
