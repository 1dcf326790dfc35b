"""The table of scripts/bench-serve.sh: one row per server, round and concurrency from oha's JSON and
the server's peak RSS, then the musav/Python ratios at concurrency 4 (the issue's goal) and the
first answer of each server (both did the same work: same chunks, a label and a VA point).
Usage: bench_serve_report.py results.tsv [answer-NAME.json ...]
"""

import json
import os
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return json.load(f)


rows = []
with open(sys.argv[1]) as f:
    for line in f:
        name, rnd, c, out, hwm_kb, cpu_s = line.rstrip("\n").split("\t")
        r = load(out)
        codes = {str(k): v for k, v in (r.get("statusCodeDistribution") or {}).items()}
        ok = codes.get("200", 0)
        total = sum(codes.values()) + sum((r.get("errorDistribution") or {}).values())
        lat = r.get("latencyPercentiles") or {}
        rows.append({
            "name": name, "round": rnd, "c": int(c),
            "rps": ok / r["summary"]["total"],
            "p50": (lat.get("p50") or 0) * 1e3, "p99": (lat.get("p99") or 0) * 1e3,
            "ok": ok, "failed": total - ok,
            "rss": int(hwm_kb) / 1024 if hwm_kb else float("nan"),
            "cpu": float(cpu_s) / max(ok, 1),
            "errors": {**{k: v for k, v in codes.items() if k != "200"}, **(r.get("errorDistribution") or {})},
        })

print("| server | round | concurrency | req/s (200 only) | p50 ms | p99 ms | 200 / other | peak RSS MB | server CPU s / request |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    label = "16 × 15-min uploads" if r["round"] == "long" else str(r["c"])
    rnd = "" if r["round"] == "long" else r["round"]
    print(f"| {r['name']} | {rnd} | {label} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p99']:.0f} | "
          f"{r['ok']} / {r['failed']} | {r['rss']:.0f} | {r['cpu']:.2f} |")
for r in rows:
    if r["errors"]:
        print(f"{r['name']} round {r['round']} c={r['c']}: not 200: {r['errors']}")

by = defaultdict(dict)
for r in rows:
    by[(r["round"], r["c"])][r["name"]] = r
print()
for (rnd, c), pair in sorted(by.items()):
    for py in ("python", "python-1t"):
        if rnd == "long" or c != 4 or "musav" not in pair or py not in pair:
            continue
        m, p = pair["musav"], pair[py]
        print(f"round {rnd}, concurrency 4: musav/{py} throughput {m['rps'] / p['rps']:.2f}x "
              f"(goal >= 2x); p99 musav {m['p99']:.0f} ms, Python {p['p99']:.0f} ms "
              f"({'no worse' if m['p99'] <= p['p99'] else 'WORSE'}); CPU per request "
              f"{py}/musav {p['cpu'] / m['cpu']:.2f}x")

for path in (p for p in sys.argv[2:] if os.path.exists(p)):
    a = load(path)
    name = os.path.basename(path)[len("answer-"):-len(".json")]
    print(f"{name} answer for the 30 s clip: {a['audio']['chunks']} chunks, top label {a['labels'][0]['label']!r}, "
          f"VA ({a['va']['valence']:.2f}, {a['va']['arousal']:.2f}), timing_ms "
          + ", ".join(f"{k} {v:.0f}" for k, v in a["timing_ms"].items()))
