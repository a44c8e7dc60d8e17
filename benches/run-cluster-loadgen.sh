#!/usr/bin/env bash
# Runs one load-generator workload against a fresh three-broker release cluster on this machine
# (config/cluster/broker-{1,2,3}.toml: client ports 19092-19094, controller ports 19192-19194,
# metrics 19644-19646), once per replication factor, to compare replicated with unreplicated
# throughput on the same brokers in one sitting (docs/performance.md, "Replication").
#
# Usage: benches/run-cluster-loadgen.sh [WORKLOAD.toml]   (default: max-rate-1k)
# Environment:
#   CASES="1:1 3:2"     replication factor:min.insync.replicas pairs, one run each, each on a
#                       fresh cluster (default "1:1 3:2")
#   OUT, DATA, BIN      as benches/run-loadgen.sh (default ./loadgen-results, ./data-bench)
#   BROKER_ARGS="..."   extra flags for every broker (default "--cores 1": three brokers share
#                       this machine's CPUs)
#   LOADGEN_ARGS="..."  extra runnel-loadgen flags
#
# Broker CPU is the sum over the three brokers. Every run writes rf<N>.json/.txt and a row in
# summary.md (the same columns as benches/run-loadgen.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
OUT=${OUT:-./loadgen-results}
DATA=${DATA:-./data-bench}
CASES=${CASES:-"1:1 3:2"}
BROKER_ARGS=${BROKER_ARGS:---cores 1}
WL=${1:-$ROOT/loadgen/workloads/max-rate-1k.toml}
mkdir -p "$OUT" "$DATA"
OUT=$(cd "$OUT" && pwd)
DATA=$(cd "$DATA" && pwd)
for b in runnel runnel-loadgen; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release -p runnel -p runnel-loadgen" >&2; exit 1; }
done

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
brokers_ticks() {
    local sum=0 p
    for p in "${pids[@]}"; do sum=$((sum + $(cpu_ticks "$p"))); done
    echo "$sum"
}

pids=()
stop_cluster() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap stop_cluster EXIT

# Starts brokers 1-3 on fresh data directories and waits until each says /ready (registered
# and unfenced in the quorum), at most 60 s.
start_cluster() {
    local n
    for n in 1 2 3; do
        rm -rf "$DATA/cluster-$n"
        # shellcheck disable=SC2086
        "$BIN/runnel" --config "$ROOT/config/cluster/broker-$n.toml" \
            --data-dir "$DATA/cluster-$n" $BROKER_ARGS > "$OUT/$1.broker-$n.log" 2>&1 &
        pids+=($!)
    done
    python3 - <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 60
for port in (19644, 19645, 19646):
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1).status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"broker with metrics port {port} not ready in 60 s")
        time.sleep(0.2)
PY
}

SUMMARY="$OUT/summary.md"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, three brokers, broker args: $BROKER_ARGS, loadgen args: ${LOADGEN_ARGS:-none}, workload $(basename "$WL")"
    echo
    echo "| case | produced msg/s | produced MB/s | consumed msg/s | consumed MB/s | publish p50 / p99 / p99.9 ms | e2e p50 / p99 / p99.9 ms | brokers' CPU s per 1M msgs | brokers' CPU % | loadgen CPU % | other CPU % | loadavg before |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$SUMMARY"

for case in $CASES; do
    rf=${case%%:*}
    isr=${case##*:}
    name="rf$rf"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    start_cluster "$name"
    c0=$(brokers_ticks)
    m0=$(busy_ticks)
    t0=$(date +%s%N)
    rc=0
    # shellcheck disable=SC2086
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(r.ru_utime + r.ru_stime))
sys.exit(rc)' "$OUT/$name.loadgen-cpu" \
        "$BIN/runnel-loadgen" run "$WL" -b 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094 \
        --quiet --name "$(basename "$WL" .toml) RF $rf min.insync.replicas $isr" \
        --replication-factor "$rf" --topic-config "min.insync.replicas=$isr" \
        --out "$OUT/$name.json" ${LOADGEN_ARGS:-} > "$OUT/$name.txt" 2>&1 || rc=$?
    c1=$(brokers_ticks)
    m1=$(busy_ticks)
    t1=$(date +%s%N)
    stop_cluster
    rm -rf "$DATA"/cluster-?
    cat "$OUT/$name.txt"
    [ $rc -eq 0 ] || echo "warning: loadgen exited with $rc for $name" >&2
    [ -f "$OUT/$name.json" ] || continue
    python3 "$ROOT/benches/loadgen_summary.py" "$OUT/$name.json" "$((c1 - c0))" "$TICK" \
        "$((t1 - t0))" "$load" "$(cat "$OUT/$name.loadgen-cpu" 2>/dev/null || echo 0)" \
        "$((m1 - m0))" >> "$SUMMARY"
done
echo
cat "$SUMMARY"
