"""Medians of a runs.tsv (bench/forward-auth.sh, bench/postgres.sh), and ratios of pairs
measured in the same rounds, as the ratio of medians and the median of the per-round
ratios: issue 11's pairs, or those given as arguments, each `a/b:label`.

    forward-auth-summary.py RUNS_TSV [a/b:label ...]
    forward-auth-summary.py --cpu CPU_TSV     # server CPU time per request, medians
"""
import statistics
import sys

if sys.argv[1] == "--cpu":
    cpu = {}
    with open(sys.argv[2]) as f:
        next(f)
        for line in f:
            server, _, us = line.split()
            cpu.setdefault(server, []).append(float(us))
    print()
    print("| server | CPU µs per request (median; user + system, all threads) | runs |")
    print("| --- | --- | --- |")
    for s in cpu:
        print(f"| {s} | {statistics.median(cpu[s]):.2f} | " + ", ".join(f"{x:.2f}" for x in cpu[s]) + " |")
    sys.exit(0)

def ms(v):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float(v)

rps, p99 = {}, {}
with open(sys.argv[1]) as f:
    next(f)
    for line in f:
        server, _, r, lat = line.split()
        rps.setdefault(server, []).append(float(r))
        p99.setdefault(server, []).append(ms(lat))

print("| server | requests/s (median) | p99 (median) | runs |")
print("| --- | --- | --- | --- |")
for s in rps:
    print(f"| {s} | {statistics.median(rps[s]):,.0f} | {statistics.median(p99[s]):.3f} ms | "
          + ", ".join(f"{x:,.0f}" for x in rps[s]) + " |")
print()
pairs = [
    (arg.split(":", 1)[0].split("/")[0], arg.split(":", 1)[0].split("/")[1], arg.split(":", 1)[1])
    for arg in sys.argv[2:]
] or [
    ("forward-auth", "bare-hyper", "forward auth / bare hyper (target >= 0.85)"),
    ("hyper-hash", "bare-hyper", "bare hyper computing the keyed hash / bare hyper"),
    ("forward-auth", "hyper-hash", "forward auth / bare hyper computing the keyed hash"),
    ("hyper-answer", "bare-hyper", "bare hyper hashing and giving forward auth's answer / bare hyper"),
    ("forward-auth", "hyper-answer", "forward auth / bare hyper hashing and giving forward auth's answer"),
    ("verify", "bare-hyper-post", "verify / bare hyper (target >= 0.80)"),
    ("nginx-keyward", "nginx", "nginx + auth_request to keyward / nginx alone"),
]
for a, b, what in pairs:
    if a in rps and b in rps:
        per_round = [x / y for x, y in zip(rps[a], rps[b])]
        print(f"- {what}: {statistics.median(rps[a]) / statistics.median(rps[b]):.3f} "
              f"(median of per-round ratios {statistics.median(per_round):.3f})")
