#!/usr/bin/env python3
"""Turns a bench/run.sh result directory into the tables of BENCHMARKS.md."""
import csv
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = list(csv.DictReader(open(out / "summary.tsv"), delimiter="\t"))


def figures(path):
    d = {}
    p = out / path
    if p.exists():
        for line in p.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                d[parts[0]] = parts[1]
    return d


def row(server, keys, c):
    for r in rows:
        if r["server"] == server and r["keys"] == str(keys) and r["connections"] == str(c):
            return r
    return None


def rps(server, keys, c):
    r = row(server, keys, c)
    return float(r["requests_per_s"]) if r and r["requests_per_s"] else None


big = max((int(r["keys"]) for r in rows if r["server"] == "keyward"), default=1000)
print((out / "machine.txt").read_text() if (out / "machine.txt").exists() else "")

print("## In-process check\n")
print("| keys | check (ns) | unmetered check (ns) | metered / unmetered | raw parts: HMAC + map lookup (ns) | ratio | parse (ns) | HMAC verify (ns) | clock (ns) | cold p50 (µs) | cold p99 (µs) | fixture load (s) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n in (1000, big):
    f = figures(f"inproc-{n}.txt")
    fx = figures(f"fixture-{n}.txt")
    print(f"| {n:,} | {f.get('inproc_check_ns','?')} | {f.get('inproc_check_unmetered_ns','?')} | {f.get('inproc_metering_ratio','?')} "
          f"| {f.get('inproc_raw_parts_ns','?')} | {f.get('inproc_ratio','?')}× "
          f"| {f.get('inproc_step_parse_ns','?')} | {f.get('inproc_step_hmac_verify_ns','?')} | {f.get('inproc_step_clock_ns','?')} "
          f"| {f.get('cold_check_p50_us','?')} | {f.get('cold_check_p99_us','?')} | {fx.get('fixture_load_seconds','?')} |")

print("\n## HTTP, one server worker, wrk with one thread\n")
print("| server | keys | connections | requests/s | p50 (ms) | p99 (ms) | RSS (MB) | vs bare hyper |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    base = rps("bare-hyper", 0, r["connections"])
    mine = float(r["requests_per_s"]) if r["requests_per_s"] else None
    ratio = f"{mine / base:.2f}" if base and mine else ""
    keys = f"{int(r['keys']):,}" if r["keys"] != "0" else "-"
    print(f"| {r['server']} | {keys} | {r['connections']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['rss_mb']} | {ratio} |")

print("\n## Ratios at 32 connections\n")
k1, kbig = rps("keyward", 1000, 32), rps("keyward", big, 32)
lines = []
if k1 and rps("bare-hyper", 0, 32):
    lines.append(f"- keyward verify / bare hyper: {k1 / rps('bare-hyper', 0, 32):.2f}")
if k1 and kbig:
    lines.append(f"- keyward with {big:,} keys / with 1,000 keys: {kbig / k1:.2f}")
for c in (1, 32, 128):
    m, u = rps("keyward", 1000, c), rps("keyward-unmetered", 1000, c)
    if m and u:
        lines.append(f"- keyward metered / unmetered, {c} connections: {m / u:.3f}")
for peer in ("drf-api-key", "better-auth"):
    p = rps(peer, 1000, 32)
    if k1 and p:
        lines.append(f"- keyward / {peer}: {k1 / p:.0f}×")
n = rps("nginx-map", 1000, 32)
if k1 and n:
    lines.append(f"- keyward / nginx plaintext map: {k1 / n:.2f}")
print("\n".join(lines))
flood_file = out / "flood.tsv"
if flood_file.exists():
    import statistics
    fl = list(csv.DictReader(open(flood_file), delimiter="\t"))

    def median(kind, col):
        vals = [float(r[col]) for r in fl if r["kind"] == kind and r[col]]
        return statistics.median(vals) if vals else None

    alone = median("alone", "valid_per_s")
    print("\n## Valid keys while unknown keys flood the server (1,000 keys, 32 connections)\n")
    print("| flood | valid-key requests/s (median of 3) | vs no flood | flood requests/s |")
    print("| --- | --- | --- | --- |")
    print(f"| none | {alone:.0f} | 1.00 | - |" if alone else "| none | ? | | |")
    for kind in ("bounded", "unbounded"):
        v, f = median(kind, "valid_per_s"), median(kind, "flood_per_s")
        if v and alone:
            print(f"| {kind} | {v:.0f} | {v / alone:.2f} | {f:.0f} |")
mem = figures("memory.txt")
if mem:
    print("\n## Memory after load\n")
    for k, v in mem.items():
        print(f"- {k}: {v} MB")
