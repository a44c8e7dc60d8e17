#!/usr/bin/env bash
# What TLS costs on the fetch path: one broker with a PLAINTEXT and an SSL listener (a
# certificate made here with openssl), one topic of one partition holding COUNT messages of SIZE
# bytes, read from the beginning to the end by kcat (librdkafka) over each listener in turn,
# ROUNDS times. Reports, per listener, MB/s and the broker's CPU time per GB read (user + system,
# from /proc), and the SSL / PLAINTEXT ratios, in $OUT/summary.md.
#
# The client decrypts on the same machine as the broker encrypts, so MB/s is bounded by kcat and
# shares the CPUs with it; the broker's CPU seconds per GB is the broker's own cost.
#
# Usage: benches/tls_fetch.sh
# Environment: OUT (default ./tls-results), DATA (default ./data-bench), COUNT (default 200000),
# SIZE (default 1024), ROUNDS (default 3), CORES (broker cores, default 1), BIN (default
# target/release; build with cargo build --release -p runnel).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
OUT=${OUT:-./tls-results}
DATA=${DATA:-./data-bench}
COUNT=${COUNT:-200000}
SIZE=${SIZE:-1024}
ROUNDS=${ROUNDS:-3}
CORES=${CORES:-1}
mkdir -p "$OUT" "$DATA"
OUT=$(cd "$OUT" && pwd)
DATA=$(cd "$DATA" && pwd)/tls-fetch
[ -x "$BIN/runnel" ] || { echo "missing $BIN/runnel: cargo build --release -p runnel" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat is needed (apt-get install kcat)" >&2; exit 1; }
free_port() {
    python3 -c 'import random, socket
for _ in range(1000):
    p = random.randrange(10000, 19000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# A self-signed certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
cat "$OUT/key.pem" "$OUT/cert.pem" > "$OUT/broker.pem"

plain=$(free_port)
ssl=$(free_port)
metrics=$(free_port)
rm -rf "$DATA"
cat > "$OUT/tls.toml" <<TOML
listeners = "PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$ssl"
ssl.keystore.location = "$OUT/broker.pem"
TOML
"$BIN/runnel" --config "$OUT/tls.toml" --data-dir "$DATA" --cores "$CORES" \
    --metrics-listen "127.0.0.1:$metrics" > "$OUT/broker.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$metrics/ready")" = 200 ] && break
    sleep 0.1
done

topic=tls-fetch
python3 -c "import sys; line = b'x' * ($SIZE - 1) + b'\n'; sys.stdout.buffer.write(line * $COUNT)" |
    kcat -b "127.0.0.1:$plain" -P -t "$topic" -X linger.ms=20 -X batch.size=1000000
bytes=$((COUNT * SIZE))

ticks() { # the broker's user + system CPU time, in clock ticks
    awk '{print $14 + $15}' "/proc/$pid/stat"
}
hz=$(getconf CLK_TCK)

consume() { # listener-name extra-args... -> "MB/s cpu-s-per-GB"
    local name=$1
    shift
    local start end n t0 t1
    t0=$(ticks)
    start=$(date +%s.%N)
    n=$(kcat -C -t "$topic" -o beginning -e -q -f '%o\n' "$@" | wc -l)
    end=$(date +%s.%N)
    t1=$(ticks)
    [ "$n" = "$COUNT" ] || { echo "$name: read $n of $COUNT messages" >&2; exit 1; }
    python3 -c "print(f'{$bytes / ($end - $start) / 1e6:.0f} {($t1 - $t0) / $hz / ($bytes / 1e9):.2f}')"
}

SUMMARY="$OUT/summary.md"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, broker cores $CORES, $COUNT messages of $SIZE B"
    echo
    echo "| round | PLAINTEXT MB/s | SSL MB/s | SSL / PLAINTEXT | broker CPU s/GB PLAINTEXT | SSL | SSL / PLAINTEXT |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
} > "$SUMMARY"
for r in $(seq "$ROUNDS"); do
    read -r p pc < <(consume PLAINTEXT -b "127.0.0.1:$plain")
    read -r s sc < <(consume SSL -b "127.0.0.1:$ssl" -X security.protocol=ssl -X "ssl.ca.location=$OUT/cert.pem")
    ratios=$(python3 -c "print(f'{$s / $p:.2f} | {$pc} | {$sc} | {$sc / max($pc, 0.01):.2f}')")
    echo "| $r | $p | $s | $ratios |" | tee -a "$SUMMARY"
done
echo "summary: $SUMMARY"
