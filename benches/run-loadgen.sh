#!/usr/bin/env bash
# Runs bundled load-generator workloads against a fresh release broker, one broker per workload,
# and reports throughput, latency percentiles and the broker's CPU time per million messages.
#
# Usage: benches/run-loadgen.sh [WORKLOAD.toml ...]   (default: every loadgen/workloads/*.toml)
# Environment:
#   OUT=dir            results: <name>.json, <name>.svg, <name>.broker.log, summary.md
#                      (default: ./loadgen-results)
#   DATA=dir           parent of the broker data directories (default: ./data-bench; a real
#                      disk, not tmpfs). Each run's data directory is deleted afterwards.
#   BROKER_ARGS="..."  extra broker flags, e.g. "--config my.toml"
#   LOADGEN_ARGS="..." extra runnel-loadgen flags, e.g. "--duration 30"
#   BIN=dir            where runnel and runnel-loadgen are (default: $CARGO_TARGET_DIR/release
#                      or target/release); build them first with
#                      cargo build --release -p runnel -p runnel-loadgen
#
# CPU time is utime+stime of the broker process (all its threads) from /proc/<pid>/stat, from
# after startup to the end of the run (setup, warm-up, measured phase and drain), divided by the
# messages acknowledged in that whole run. Each message is both produced and consumed once.
# CPU % columns are percent of one core over the run's wall time: the broker, the load generator,
# and everything else on the machine ("other": the noise from other processes; keep it near 0).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
OUT=${OUT:-./loadgen-results}
DATA=${DATA:-./data-bench}
mkdir -p "$OUT" "$DATA"
OUT=$(cd "$OUT" && pwd)
DATA=$(cd "$DATA" && pwd)
for b in runnel runnel-loadgen; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release -p runnel -p runnel-loadgen" >&2; exit 1; }
done
if [ $# -eq 0 ]; then set -- "$ROOT"/loadgen/workloads/*.toml; fi

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy ticks of the whole machine (user, nice, system, irq, softirq, steal), to see how much CPU
# other processes took during a run: the noise figure reported next to every result.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

broker=""
cleanup() {
    if [ -n "$broker" ] && kill -0 "$broker" 2>/dev/null; then
        kill "$broker"
        wait "$broker" 2>/dev/null || true
    fi
}
trap cleanup EXIT

SUMMARY="$OUT/summary.md"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, broker args: ${BROKER_ARGS:-none}, loadgen args: ${LOADGEN_ARGS:-none}"
    echo
    echo "| workload | produced msg/s | produced MB/s | consumed msg/s | consumed MB/s | publish p50 / p99 / p99.9 ms | e2e p50 / p99 / p99.9 ms | broker CPU s per 1M msgs | broker CPU % | loadgen CPU % | other CPU % | loadavg before |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$SUMMARY"

for wl in "$@"; do
    name=$(basename "$wl" .toml)
    port=$(free_port)
    data="$DATA/$name"
    rm -rf "$data"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # shellcheck disable=SC2086
    "$BIN/runnel" --listen "127.0.0.1:$port" --data-dir "$data" ${BROKER_ARGS:-} \
        > "$OUT/$name.broker.log" 2>&1 &
    broker=$!
    for _ in $(seq 100); do
        (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    c0=$(cpu_ticks "$broker")
    m0=$(busy_ticks)
    t0=$(date +%s%N)
    rc=0
    # The load generator runs as a child of this Python process, which reports its CPU time.
    # shellcheck disable=SC2086
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(r.ru_utime + r.ru_stime))
sys.exit(rc)' "$OUT/$name.loadgen-cpu" \
        "$BIN/runnel-loadgen" run "$wl" -b "127.0.0.1:$port" --quiet \
        --out "$OUT/$name.json" --plot "$OUT/$name.svg" ${LOADGEN_ARGS:-} \
        > "$OUT/$name.txt" 2>&1 || rc=$?
    c1=$(cpu_ticks "$broker")
    m1=$(busy_ticks)
    t1=$(date +%s%N)
    cleanup
    broker=""
    rm -rf "$data"
    cat "$OUT/$name.txt"
    [ $rc -eq 0 ] || echo "warning: loadgen exited with $rc for $name" >&2
    [ -f "$OUT/$name.json" ] || continue
    python3 "$ROOT/benches/loadgen_summary.py" "$OUT/$name.json" "$((c1 - c0))" "$TICK" "$((t1 - t0))" "$load" \
        "$(cat "$OUT/$name.loadgen-cpu" 2>/dev/null || echo 0)" "$((m1 - m0))" >> "$SUMMARY"
done
echo
cat "$SUMMARY"
