#!/usr/bin/env python3
"""Sequential verify requests on one kept-alive connection, for instruction counts.

    seqverify.py PORT KEYS_FILE COUNT

Sends COUNT requests of `POST /v1/keys/verify`, the same as bench/verify.lua sends
(ADMIN_TOKEN from the environment, keys of KEYS_FILE in turn), and fails unless every
answer is 200 with `"valid":true`; with SEQ_FORWARD=1, `GET /v1/forward-auth` as
bench/forward.lua sends it, and fails unless every answer is 200. With CALLGRIND_PID set, it zeroes callgrind's
counters before the batch (`callgrind_control -z`) and dumps them after it
(`callgrind_control -d`, named by DUMP_NAME), poking the server with `GET /healthz`
while callgrind_control waits, since an idle server only notices the command when it
wakes up.
"""
import http.client
import os
import subprocess
import sys
import time


def control(pid, *args):
    proc = subprocess.Popen(["callgrind_control", *args, str(pid)], stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.05)
        if proc.poll() is None:
            poke = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            poke.request("GET", "/healthz")
            poke.getresponse().read()
            poke.close()
    if proc.returncode != 0:
        sys.exit(f"callgrind_control {' '.join(args)} failed")


PORT = int(sys.argv[1])
keys = [line.strip() for line in open(sys.argv[2]) if line.strip()]
count = int(sys.argv[3])
token = os.environ["ADMIN_TOKEN"]
pid = os.environ.get("CALLGRIND_PID")
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
# SEQ_FORWARD=1: forward auth as nginx auth_request asks it (bench/forward.lua), instead.
forward = os.environ.get("SEQ_FORWARD") == "1"
conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
# One request first, so the connection is open before counting starts.
bodies = [
    ('{"key":"%s","project":"Website","environment":"production","method":"GET"}' % k).encode()
    for k in keys
]


def send(i):
    if forward:
        conn.request("GET", "/v1/forward-auth", headers={
            "x-api-key": keys[i % len(keys)],
            "X-Original-Method": "GET",
            "X-Original-URI": "/api/v1/projects/Website/forms/f1",
        })
    else:
        conn.request("POST", "/v1/keys/verify", body=bodies[i % len(bodies)], headers=headers)
    r = conn.getresponse()
    body = r.read()
    return r.status == 200 and (forward or b'"valid":true' in body)


send(0)
if pid:
    control(pid, "-z")
invalid = 0
for i in range(count):
    if not send(i + 1):
        invalid += 1
if pid:
    control(pid, "-d", os.environ.get("DUMP_NAME", "batch"))
conn.close()
print(f"requests {count} invalid {invalid}")
sys.exit(1 if invalid else 0)
