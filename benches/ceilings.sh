#!/usr/bin/env bash
# Measures the machine ceilings that docs/performance.md compares Runnel against:
#   - O_DIRECT sequential write bandwidth with 1 MiB writes (dd oflag=direct), to a new file and
#     to a preallocated one, and the latency of a 4 KiB O_DIRECT write + sync (oflag=dsync);
#   - O_DIRECT sequential read bandwidth with 4 MiB reads (dd iflag=direct);
#   - loopback TCP bandwidth (iperf3 if installed, and a small C sender/receiver);
#   - memcpy bandwidth and CRC32C (SSE4.2) throughput (the same C helper).
#
# Usage: benches/ceilings.sh [DIR]   DIR: where to write test files (default: ./data-ceilings,
# on the same disk as the broker's default ./data). Needs dd, cc; iperf3 is optional.
# Every measurement runs 3 times; the table shows all three. Check `cat /proc/loadavg` first:
# other busy processes lower every number.
set -euo pipefail

DIR=${1:-./data-ceilings}
SIZE_MIB=${CEIL_SIZE_MIB:-2048}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; rm -f "$DIR"/ceil-*.bin; rmdir "$DIR" 2>/dev/null || true' EXIT

fs=$(df -T "$DIR" | awk 'NR==2 {print $2}')
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo "# data dir $DIR ($fs); loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$fs" = tmpfs ]; then
    echo "warning: $DIR is tmpfs, O_DIRECT numbers are meaningless" >&2
fi

# dd prints "N bytes (...) copied, T s, R GB/s"; keep R and its unit.
dd_rate() { tail -1 | sed -E 's/.*, ([0-9.]+ [kMG]?B\/s)$/\1/'; }

declare -A R
run3() { # name command...
    local name=$1; shift
    local out=""
    for _ in 1 2 3; do out="$out $("$@")"; done
    R[$name]=$out
}

new_file_write() {
    rm -f "$DIR/ceil-new.bin"
    dd if=/dev/zero of="$DIR/ceil-new.bin" bs=1M count="$SIZE_MIB" oflag=direct 2>&1 | dd_rate | tr ' ' '_'
}
prealloc_write() {
    [ -f "$DIR/ceil-pre.bin" ] || fallocate -l "${SIZE_MIB}M" "$DIR/ceil-pre.bin"
    dd if=/dev/zero of="$DIR/ceil-pre.bin" bs=1M count="$SIZE_MIB" oflag=direct conv=notrunc 2>&1 | dd_rate | tr ' ' '_'
}
sync_write_latency() {
    # 2000 x (4 KiB O_DIRECT write + O_DSYNC): the cost of one small durable append.
    rm -f "$DIR/ceil-sync.bin"
    local s e
    s=$(date +%s%N)
    dd if=/dev/zero of="$DIR/ceil-sync.bin" bs=4k count=2000 oflag=direct,dsync 2>/dev/null
    e=$(date +%s%N)
    awk -v ns=$((e - s)) 'BEGIN { printf "%.0f_us", ns / 2000 / 1000 }'
}

direct_read() {
    # Sequential O_DIRECT reads of the file just written, 4 MiB blocks: the ceiling of a
    # consumer reading a backlog that is no longer cached (the broker bypasses the page cache).
    dd if="$DIR/ceil-pre.bin" of=/dev/null bs=4M iflag=direct 2>&1 | dd_rate | tr ' ' '_'
}

run3 "O_DIRECT write, 1 MiB blocks, new file (${SIZE_MIB} MiB)" new_file_write
run3 "O_DIRECT write, 1 MiB blocks, preallocated file" prealloc_write
run3 "4 KiB O_DIRECT write + O_DSYNC, per write" sync_write_latency
run3 "O_DIRECT sequential read, 4 MiB blocks" direct_read

cc -O2 -msse4.2 -o "$WORK/ceil" "$(dirname "$0")/ceilings/ceil.c"
for i in 1 2 3; do "$WORK/ceil" > "$WORK/c$i.txt" || true; done
while read -r name _ unit; do
    vals=""
    for i in 1 2 3; do vals="$vals $(awk -v n="$name" '$1 == n {print $2}' "$WORK/c$i.txt")_$unit"; done
    R["$name"]=$vals
done < "$WORK/c1.txt"

if command -v iperf3 >/dev/null; then
    iperf3 -s -1 -p 5299 -A 1 >/dev/null 2>&1 &
    srv=$!
    sleep 0.5
    iperf3_once() {
        iperf3 -c 127.0.0.1 -p 5299 -A 0 -t 3 -f g 2>/dev/null | awk '/receiver/ {print $7 "_" $8}'
    }
    out=$(iperf3_once)
    wait "$srv" 2>/dev/null || true
    vals="$out"
    for _ in 2 3; do
        iperf3 -s -1 -p 5299 -A 1 >/dev/null 2>&1 &
        srv=$!
        sleep 0.5
        vals="$vals $(iperf3_once)"
        wait "$srv" 2>/dev/null || true
    done
    R["iperf3 loopback TCP, 1 stream (Gbit/s)"]=" $vals"
fi

echo "# loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n| %-58s | %s |\n' "ceiling" "3 runs"
printf '| %-58s | %s |\n' "---" "---"
for k in "${!R[@]}"; do
    printf '| %-58s |%s |\n' "$k" "$(echo "${R[$k]}" | tr '_' ' ' | sed 's/  */ /g; s/ \([0-9]\)/, \1/g; s/^,//')"
done | sort
