#!/usr/bin/env bash
# Metadata changes under load: does creating and deleting topics stall the data path?
#
# Starts a three-broker cluster of release binaries (config/cluster/broker-N.toml, one core
# each, controller and client ports rewritten to free ones), then alternates two phases of the
# same fixed-rate load (loadgen/workloads/fixed-rate-latency.toml: 1,000 msg/s of 1 KiB, acks=all,
# 6 partitions spread over the three brokers), each on a fresh topic of its own:
#   quiet  - nothing else happens;
#   churn  - a kafka-python admin client meanwhile creates 100 topics (3 partitions each, in
#            CreateTopics requests of 10, through the three brokers in turn) and deletes them
#            again, round after round, until the load stops.
# The produce latencies of the loaded topic (from each message's intended send time) of each
# phase, and the churn's rate, go to $OUT/summary.md.
#
# Usage: benches/metadata_churn.sh
# Environment: OUT (default ./churn-results), DATA (default ./data-bench), ROUNDS (alternations,
# default 2), DURATION (measured seconds per phase, default 20), BIN (default target/release;
# build with cargo build --release -p runnel -p runnel-loadgen).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
OUT=${OUT:-./churn-results}
DATA=${DATA:-./data-bench}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-20}
mkdir -p "$OUT" "$DATA"
OUT=$(cd "$OUT" && pwd)
DATA=$(cd "$DATA" && pwd)
for b in runnel runnel-loadgen; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release -p runnel -p runnel-loadgen" >&2; exit 1; }
done
# Ports below the kernel's ephemeral range, so nothing else takes them before the brokers bind.
free_port() {
    python3 -c 'import random, socket
for _ in range(1000):
    p = random.randrange(10000, 19000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'
}

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

ctl=($(free_port) $(free_port) $(free_port))
bootstrap=""
for n in 1 2 3; do
    port=$(free_port)
    metrics=$(free_port)
    dir="$DATA/churn-$n"
    rm -rf "$dir"
    mkdir -p "$dir"
    grep -v -e '^advertised.listeners' -e '^metrics.listen' "$ROOT/config/cluster/broker-$n.toml" |
        sed -e "s/127.0.0.1:19192/127.0.0.1:${ctl[0]}/g" -e "s/127.0.0.1:19193/127.0.0.1:${ctl[1]}/g" \
            -e "s/127.0.0.1:19194/127.0.0.1:${ctl[2]}/g" > "$dir.toml"
    "$BIN/runnel" --config "$dir.toml" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" \
        --data-dir "$dir" --cores 1 > "$OUT/broker-$n.log" 2>&1 &
    pids+=($!)
    bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:$port"
    eval "metrics_$n=$metrics"
done
for n in 1 2 3; do
    m="metrics_$n"
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:${!m}/ready")" = 200 ] && break
        sleep 0.1
    done
done
echo "cluster up: $bootstrap"

SUMMARY="$OUT/summary.md"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, three brokers of one core, ${DURATION} s per phase"
    echo
    echo "| phase | produced msg/s | publish p50 / p99 / p99.9 / max ms | e2e p50 / p99 / p99.9 ms | topics created + deleted | create+delete rounds of 100 |"
    echo "| --- | --- | --- | --- | --- | --- |"
} > "$SUMMARY"

phase() { # name churn(0/1) round
    local name=$1 churn=$2 r=$3 churner=""
    if [ "$churn" = 1 ]; then
        python3 - "$bootstrap" "$OUT/$name-$r.churn" <<'PY' &
import sys, time
from kafka.admin import KafkaAdminClient, NewTopic
servers = sys.argv[1].split(",")
admins = [KafkaAdminClient(bootstrap_servers=s, request_timeout_ms=30000) for s in servers]
stop = sys.argv[2] + ".stop"
import os
done_topics, rounds, n = 0, 0, 0
while not os.path.exists(stop):
    names = [f"meta-churn-{rounds}-{i}" for i in range(100)]
    for k in range(0, 100, 10):
        admins[n % 3].create_topics([NewTopic(t, 3, 1) for t in names[k:k + 10]], timeout_ms=30000)
        n += 1
    for k in range(0, 100, 10):
        admins[n % 3].delete_topics(names[k:k + 10], timeout_ms=30000)
        n += 1
    done_topics += 100
    rounds += 1
open(sys.argv[2], "w").write(f"{done_topics} {rounds}\n")
PY
        churner=$!
        sleep 1
    fi
    "$BIN/runnel-loadgen" run "$ROOT/loadgen/workloads/fixed-rate-latency.toml" -b "$bootstrap" --quiet \
        --topic-prefix "load-$name-$r" --duration "$DURATION" --out "$OUT/$name-$r.json" \
        > "$OUT/$name-$r.txt" 2>&1
    local churned="-" rounds="-"
    if [ -n "$churner" ]; then
        touch "$OUT/$name-$r.churn.stop"
        wait "$churner"
        read -r churned rounds < "$OUT/$name-$r.churn"
    fi
    python3 - "$OUT/$name-$r.json" "$name" "$churned" "$rounds" >> "$SUMMARY" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pl, e = r["publish_latency"], r["e2e_latency"]
lat = lambda l: f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f} / {l['p999_ms']:.2f}"
mx = f" / {pl['max_ms']:.1f}" if "max_ms" in pl else ""
print(f"| {sys.argv[2]} | {r['produced']['msg_per_s']:,.0f} | {lat(pl)}{mx} | {lat(e)} "
      f"| {sys.argv[3]} | {sys.argv[4]} |")
PY
}

for r in $(seq "$ROUNDS"); do
    phase quiet 0 "$r"
    phase churn 1 "$r"
done
echo
cat "$SUMMARY"
