"""Medians of bench/forward-auth.sh's runs.tsv, and the ratios issue 11 asks for: each
of a pair measured in the same rounds, as the ratio of medians and the median of the
per-round ratios."""
import statistics
import sys

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
for a, b, what in (
    ("forward-auth", "bare-hyper", "forward auth / bare hyper (target >= 0.85)"),
    ("hyper-hash", "bare-hyper", "bare hyper computing the keyed hash / bare hyper"),
    ("forward-auth", "hyper-hash", "forward auth / bare hyper computing the keyed hash"),
    ("verify", "bare-hyper-post", "verify / bare hyper (target >= 0.80)"),
    ("nginx-keyward", "nginx", "nginx + auth_request to keyward / nginx alone"),
):
    if a in rps and b in rps:
        per_round = [x / y for x, y in zip(rps[a], rps[b])]
        print(f"- {what}: {statistics.median(rps[a]) / statistics.median(rps[b]):.3f} "
              f"(median of per-round ratios {statistics.median(per_round):.3f})")
