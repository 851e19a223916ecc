#!/usr/bin/env bash
# Writes OUT_DIR/nginx.conf for bench/forward-auth.sh: one nginx worker with two servers
# in front of the same upstream:
#   AUTH_PORT   the shipped deploy/nginx/keyward.conf, as it is but for its two upstream
#               addresses and its listen port: auth_request to keyward's
#               /v1/forward-auth before each request under /api/
#   ALONE_PORT  the same proxying (key headers stripped, kept-alive upstream) with no
#               auth_request: what nginx costs by itself
#
#   bench/nginx-forward-auth.sh OUT_DIR AUTH_PORT ALONE_PORT KEYWARD_ADDR UPSTREAM_ADDR
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 OUT_DIR AUTH_PORT ALONE_PORT KEYWARD_ADDR UPSTREAM_ADDR" >&2; exit 2; }
cd "$(dirname "$0")/.."
out=$1 auth=$2 alone=$3 keyward=$4 upstream=$5
mkdir -p "$out/logs" "$out/tmp"

# Each replacement must apply exactly once, so a change to the shipped file that this
# script no longer fits stops the benchmark instead of measuring something else.
shipped=$(cat deploy/nginx/keyward.conf)
replace() {
    local from=$1 to=$2 n
    n=$(grep -cF -- "$from" <<< "$shipped" || true)
    [ "$n" = 1 ] || { echo "deploy/nginx/keyward.conf: '$from' found $n times, expected once" >&2; exit 1; }
    shipped=${shipped/"$from"/"$to"}
}
replace "server 127.0.0.1:8080;" "server $keyward;"
replace "server 127.0.0.1:3000;" "server $upstream;"
replace "listen 80;" "listen 127.0.0.1:$auth;"
printf '%s\n' "$shipped" > "$out/keyward.conf"

cat > "$out/nginx.conf" <<EOF
worker_processes 1;
daemon on;
pid $out/nginx.pid;
error_log $out/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/tmp/body;
    proxy_temp_path $out/tmp/proxy;
    fastcgi_temp_path $out/tmp/fastcgi;
    uwsgi_temp_path $out/tmp/uwsgi;
    scgi_temp_path $out/tmp/scgi;

    include $out/keyward.conf;

    server {
        listen 127.0.0.1:$alone;
        location /api/ {
            proxy_set_header Authorization "";
            proxy_set_header X-Api-Key "";
            proxy_set_header Api-Key "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://api;
        }
    }
}
EOF
