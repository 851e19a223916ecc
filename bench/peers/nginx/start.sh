#!/usr/bin/env bash
# Usage: start.sh PORT KEYFILE N
# Generates N random plaintext keys (40 lowercase hex chars each) into
# run/keys.map, writes one of them to KEYFILE, renders nginx.conf.template to
# run/nginx.conf and starts nginx (daemonized: master + 1 worker, pid file
# run/nginx.pid).  Returns once GET /check answers.  Stop with stop.sh.
# Env: NGINX_RUN_DIR (default <this dir>/run), MAP_HASH_MAX_SIZE (default
# max(2048, 2*N)), MAP_HASH_BUCKET_SIZE (default 512), NGINX (default nginx).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PORT KEYFILE N" >&2; exit 2; }
PORT=$1; KEYFILE=$(realpath -m "$2"); N=$3
cd "$(dirname "$0")"
HERE=$PWD
RUN=$(realpath -m "${NGINX_RUN_DIR:-$HERE/run}")
NGINX=${NGINX:-nginx}
MAXSZ=${MAP_HASH_MAX_SIZE:-$(( 2 * N > 2048 ? 2 * N : 2048 ))}
BUCKET=${MAP_HASH_BUCKET_SIZE:-512}
if [ -f "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null; then
  echo "already running (pid $(cat "$RUN/nginx.pid")); run stop.sh first" >&2; exit 1
fi
mkdir -p "$RUN/tmp"

t0=$(date +%s.%N)
python3 - "$N" "$RUN/keys.map" "$KEYFILE" <<'PY'
import secrets, sys
n, mapfile, keyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
keys = set()
while len(keys) < n:
    keys.add(secrets.token_hex(20))
keys = list(keys)
with open(mapfile, "w") as f:
    f.write("".join(f'"{k}" 1;\n' for k in keys))
with open(keyfile, "w") as f:
    f.write(keys[n // 2] + "\n")   # one key from the middle of the map
PY
t1=$(date +%s.%N)

sed -e "s|@RUN_DIR@|$RUN|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@MAP_HASH_MAX_SIZE@|$MAXSZ|g" -e "s|@MAP_HASH_BUCKET_SIZE@|$BUCKET|g" \
    nginx.conf.template > "$RUN/nginx.conf"

# -e: early error log (before the config's error_log is read) also in RUN.
# nginx 1.22 does not fail on an undersized map hash: it warns "could not build
# optimal map_hash ... ignoring map_hash_bucket_size" and builds long buckets
# (slower lookups).  Treat that warning as an error unless ALLOW_SUBOPTIMAL_HASH=1.
# (nginx -t also writes its own pid to the pid file; remove it again.)
TEST_OUT=$("$NGINX" -p "$RUN/" -e "$RUN/error.log" -c "$RUN/nginx.conf" -t 2>&1) || { rm -f "$RUN/nginx.pid"; echo "$TEST_OUT" >&2; exit 1; }
rm -f "$RUN/nginx.pid"
if grep -q "could not build optimal" <<<"$TEST_OUT" && [ "${ALLOW_SUBOPTIMAL_HASH:-0}" != 1 ]; then
  echo "$TEST_OUT" >&2; echo "raise MAP_HASH_MAX_SIZE / MAP_HASH_BUCKET_SIZE (or set ALLOW_SUBOPTIMAL_HASH=1)" >&2; exit 1
fi
t2=$(date +%s.%N)
"$NGINX" -p "$RUN/" -e "$RUN/error.log" -c "$RUN/nginx.conf"
t3=$(date +%s.%N)
for _ in $(seq 600); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/check"; then break; fi
  sleep 0.05
done
t4=$(date +%s.%N)
curl -s -o /dev/null "http://127.0.0.1:$PORT/check" || { echo "nginx did not come up; see $RUN/error.log" >&2; exit 1; }
MPID=$(cat "$RUN/nginx.pid")
WPID=$(pgrep -P "$MPID" | head -1 || true)
rss() { awk '/^VmRSS/{print $2" kB"}' "/proc/$1/status" 2>/dev/null; }
printf 'nginx up on 127.0.0.1:%s with %s keys (map_hash_max_size=%s bucket=%s)\n' "$PORT" "$N" "$MAXSZ" "$BUCKET"
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
printf '  keygen %ss | nginx -t %ss | nginx start (cmd) %ss | start->serving %ss\n' \
  "$(dt "$t0" "$t1")" "$(dt "$t1" "$t2")" "$(dt "$t2" "$t3")" "$(dt "$t2" "$t4")"
printf '  master pid %s RSS %s | worker pid %s RSS %s\n' "$MPID" "$(rss "$MPID")" "$WPID" "$(rss "$WPID")"
