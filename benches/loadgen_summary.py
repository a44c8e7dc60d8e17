"""One summary.md table row for a load-generator run (benches/run-loadgen.sh and
benches/run-cluster-loadgen.sh).

Arguments: result.json, broker CPU ticks (all brokers together), ticks per second, wall time in
ns, the loadavg before the run, the load generator's CPU seconds, the machine's busy ticks.
"""
import json, sys
r = json.load(open(sys.argv[1]))
ticks, tick, wall_ns, load = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lg_s, busy_s = float(sys.argv[6]), int(sys.argv[7]) / tick
cpu_s = ticks / tick
wall_s = wall_ns / 1e9
other = max(0.0, busy_s - cpu_s - lg_s)
acked = r["totals"]["acked"] or 1
p, c = r["produced"], r["consumed"]
name = r['workload']['name']
if r.get("backlog"):
    # Backlog runs: the consume columns are the drain, read with the producers stopped.
    c = r["backlog"]["consumed"]
    name += " (consumed: backlog drain)"
pl, e = r["publish_latency"], r["e2e_latency"]
f = lambda x: f"{x:,.0f}"
lat = lambda l: f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f} / {l['p999_ms']:.2f}"
print(f"| {name} | {f(p['msg_per_s'])} | {p['mb_per_s']:.1f} | {f(c['msg_per_s'])} "
      f"| {c['mb_per_s']:.1f} | {lat(pl)} | {lat(e)} | {cpu_s / acked * 1e6:.2f} "
      f"| {100 * cpu_s / wall_s:.0f} | {100 * lg_s / wall_s:.0f} | {100 * other / wall_s:.0f} | {load} |")
