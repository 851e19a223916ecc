#!/usr/bin/env bash
# Gracefully stops the nginx started by start.sh (SIGQUIT to the pid in run/nginx.pid).
set -euo pipefail
cd "$(dirname "$0")"
RUN=$(realpath -m "${NGINX_RUN_DIR:-$PWD/run}")
[ -f "$RUN/nginx.pid" ] || { echo "not running (no $RUN/nginx.pid)"; exit 0; }
PID=$(cat "$RUN/nginx.pid")
if ! grep -q "nginx: master" "/proc/$PID/cmdline" 2>/dev/null; then
  echo "pid $PID is not an nginx master; removing stale pid file"; rm -f "$RUN/nginx.pid"; exit 0
fi
kill -QUIT "$PID" 2>/dev/null || { echo "stale pid file"; rm -f "$RUN/nginx.pid"; exit 0; }
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && { echo "nginx $PID still alive" >&2; exit 1; }
echo "stopped nginx $PID"
