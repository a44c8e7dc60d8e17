#!/usr/bin/env python3
"""Soak benchmark: hours of mixed load against one real broker, watching for drift.

What runs at the same time, for --duration seconds:
  - a steady keyed producer (acks=all, --rate msg/s) whose every acknowledgement is recorded;
  - a consumer group whose membership churns (a member leaves and another joins every
    --rebalance-every seconds), measuring end-to-end latency;
  - connection churn: a short-lived client connects, asks for metadata and closes, every second;
  - topic churn: a topic is created, written, read and deleted every --topic-every seconds;
  - idle periods: the producer pauses for --idle-for seconds every --idle-every seconds;
  - restarts: the broker is stopped with SIGTERM and started again every --restart-every seconds,
    and every record acknowledged so far must still be there.

Each --interval seconds one JSON line is written to --out (and a table row to stdout): broker RSS,
open file descriptors, threads, produce throughput, publish and end-to-end latency percentiles,
errors. At the end the run fails (exit 1) on any error (a failed delivery, a lost acknowledged
record, /health not 200, a broker that did not stop on SIGTERM) or on drift: within one broker
lifetime, RSS or fds growing beyond the bounds below from the first warm interval to the last.

Usage (see docs/operations.md, "Soak benchmark"):
  cargo build --release
  python3 benches/soak.py --bin target/release/runnel --duration 7200 --out soak.jsonl
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# Drift bounds within one broker lifetime (first warm interval to the last).
RSS_GROWTH_MAX_MB = 64.0
RSS_GROWTH_MAX_RATIO = 0.5
FD_GROWTH_MAX = 64
MAIN_TOPIC = "soak"
MAIN_PARTITIONS = 6
DEFAULT_BROKER_CONFIG = "runnel.cache.bytes.per.core = 16777216\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Broker:
    def __init__(self, binary, workdir, cores, config_text):
        self.binary = binary
        self.data = os.path.join(workdir, "data")
        self.log = open(os.path.join(workdir, "broker.log"), "ab")
        self.port = free_port()
        self.mport = free_port()
        self.cores = cores
        self.proc = None
        self.config = os.path.join(workdir, "runnel.toml")
        with open(self.config, "w") as f:
            f.write(config_text)

    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        cmd = [self.binary, "--listen", self.bootstrap(), "--data-dir", self.data,
               "--metrics-listen", f"127.0.0.1:{self.mport}", "--cores", str(self.cores),
               "--config", self.config]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited at start with {self.proc.returncode}")
            if self.http("/ready")[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("broker not ready within 60 s")

    def stop(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout) == 0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.mport}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return 0, ""

    def resources(self):
        pid = self.proc.pid
        rss_kb, threads = 0, 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss_kb / 1024.0, fds, threads


class Stats:
    """Counters and latency samples of the current interval (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        self.errors = []
        self.acked = {}  # partition -> highest acknowledged offset

    def reset(self):
        self.produced = 0
        self.consumed = 0
        self.publish_ms = []
        self.e2e_ms = []
        self.churn_connections = 0
        self.topics_cycled = 0
        self.rebalances = 0

    def error(self, what):
        with self.lock:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {what}")
            print(f"ERROR {what}", flush=True)

    def take(self):
        with self.lock:
            snap = dict(produced=self.produced, consumed=self.consumed,
                        publish=list(self.publish_ms), e2e=list(self.e2e_ms),
                        churn=self.churn_connections, topics=self.topics_cycled,
                        rebalances=self.rebalances)
            self.reset()
            return snap


def producer_loop(ctx):
    st, args = ctx["stats"], ctx["args"]
    p = Producer({"bootstrap.servers": ctx["bootstrap"], "acks": "all", "linger.ms": 2,
                  "enable.idempotence": True, "message.timeout.ms": 120000})
    seq = 0
    period = 1.0 / args.rate
    next_at = time.time()

    def report(err, msg, sent=None):
        if err is not None:
            st.error(f"delivery failed: {err}")
            return
        with st.lock:
            st.produced += 1
            st.publish_ms.append((time.time() - sent) * 1000.0)
            part, off = msg.partition(), msg.offset()
            if off > st.acked.get(part, -1):
                st.acked[part] = off

    while not ctx["stop"].is_set():
        if ctx["idle"].is_set() or ctx["paused"].is_set():
            p.poll(0.1)
            next_at = time.time()
            continue
        now = time.time()
        if now < next_at:
            p.poll(min(next_at - now, 0.05))
            continue
        sent = time.time()
        value = json.dumps({"ts": sent, "seq": seq}).encode()
        try:
            p.produce(MAIN_TOPIC, key=str(seq % 1000).encode(), value=value,
                      on_delivery=lambda e, m, s=sent: report(e, m, s))
        except BufferError:
            p.poll(0.05)
            continue
        seq += 1
        next_at += period
        p.poll(0)
    p.flush(120)


def consumer_member(ctx, name, quit_evt):
    st = ctx["stats"]

    def on_assign(c, parts):
        with st.lock:
            st.rebalances += 1

    c = Consumer({"bootstrap.servers": ctx["bootstrap"], "group.id": "soak-readers",
                  "client.id": name, "auto.offset.reset": "latest",
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
    c.subscribe([MAIN_TOPIC], on_assign=on_assign)
    while not quit_evt.is_set() and not ctx["stop"].is_set():
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF and not ctx["paused"].is_set():
                st.error(f"consumer {name}: {m.error()}")
            continue
        try:
            ts = json.loads(m.value())["ts"]
        except (ValueError, KeyError, TypeError):
            st.error(f"consumer {name}: bad payload at {m.partition()}/{m.offset()}")
            continue
        with st.lock:
            st.consumed += 1
            st.e2e_ms.append((time.time() - ts) * 1000.0)
    c.close()


def group_churn_loop(ctx):
    args = ctx["args"]
    members = []
    n = 0
    for _ in range(2):
        q = threading.Event()
        t = threading.Thread(target=consumer_member, args=(ctx, f"m{n}", q), daemon=True)
        t.start()
        members.append((q, t))
        n += 1
    while not ctx["stop"].wait(args.rebalance_every):
        q, t = members.pop(0)
        q.set()
        t.join(60)
        q = threading.Event()
        t = threading.Thread(target=consumer_member, args=(ctx, f"m{n}", q), daemon=True)
        t.start()
        members.append((q, t))
        n += 1
    for q, t in members:
        q.set()
        t.join(60)


def connection_churn_loop(ctx):
    st = ctx["stats"]
    while not ctx["stop"].wait(1.0):
        if ctx["paused"].is_set():
            continue
        try:
            a = AdminClient({"bootstrap.servers": ctx["bootstrap"]})
            md = a.list_topics(timeout=10)
            if MAIN_TOPIC not in md.topics:
                st.error("metadata without the main topic")
            with st.lock:
                st.churn_connections += 1
        except Exception as e:  # noqa: BLE001 - any client failure is a soak error
            if not ctx["paused"].is_set():
                st.error(f"connection churn: {e}")


def topic_churn_loop(ctx):
    st, args = ctx["stats"], ctx["args"]
    i = 0
    while not ctx["stop"].wait(args.topic_every):
        if ctx["paused"].is_set():
            continue
        name = f"soak-tmp-{i}"
        i += 1
        try:
            a = AdminClient({"bootstrap.servers": ctx["bootstrap"]})
            a.create_topics([NewTopic(name, 3, 1)])[name].result(30)
            p = Producer({"bootstrap.servers": ctx["bootstrap"], "acks": "all"})
            for k in range(30):
                p.produce(name, key=str(k).encode(), value=b"x" * 100)
            if p.flush(30) != 0:
                st.error(f"topic churn: {name} not flushed")
            c = Consumer({"bootstrap.servers": ctx["bootstrap"], "group.id": f"tmp-{name}",
                          "auto.offset.reset": "earliest"})
            c.assign([TopicPartition(name, q, 0) for q in range(3)])
            got, deadline = 0, time.time() + 30
            while got < 30 and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got += 1
            c.close()
            if got != 30:
                st.error(f"topic churn: read {got} of 30 from {name}")
            a.delete_topics([name])[name].result(30)
            with st.lock:
                st.topics_cycled += 1
        except Exception as e:  # noqa: BLE001
            if not ctx["paused"].is_set():
                st.error(f"topic churn {name}: {e}")


def verify_acked(ctx):
    """Every acknowledged offset is below the partition's high watermark."""
    st = ctx["stats"]
    c = Consumer({"bootstrap.servers": ctx["bootstrap"], "group.id": "soak-verify"})
    with st.lock:
        acked = dict(st.acked)
    for part, off in acked.items():
        lo, hi = c.get_watermark_offsets(TopicPartition(MAIN_TOPIC, part), timeout=30)
        if hi <= off:
            st.error(f"partition {part}: acknowledged offset {off} but high watermark {hi}")
    c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/runnel")
    ap.add_argument("--duration", type=float, default=7200)
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--restart-every", type=float, default=1800)
    ap.add_argument("--rebalance-every", type=float, default=120)
    ap.add_argument("--topic-every", type=float, default=30)
    ap.add_argument("--idle-every", type=float, default=1200)
    ap.add_argument("--idle-for", type=float, default=120)
    ap.add_argument("--out", default="soak.jsonl")
    ap.add_argument("--broker-config", default=DEFAULT_BROKER_CONFIG,
                    help="TOML given to the broker (default: a 16 MiB per-core record cache, "
                         "so that the cache is full within the warm-up intervals)")
    ap.add_argument("--warmup-intervals", type=int, default=5,
                    help="intervals of each broker lifetime left out of the drift baseline")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="runnel-soak-")
    binary = os.path.join(workdir, "runnel")
    shutil.copy2(args.bin, binary)  # a rebuild during the run must not change the binary
    broker = Broker(binary, workdir, args.cores, args.broker_config)
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap()})
    admin.create_topics([NewTopic(MAIN_TOPIC, MAIN_PARTITIONS, 1)])[MAIN_TOPIC].result(30)
    del admin

    ctx = dict(args=args, bootstrap=broker.bootstrap(), stats=Stats(),
               stop=threading.Event(), idle=threading.Event(), paused=threading.Event())
    st = ctx["stats"]
    threads = [threading.Thread(target=f, args=(ctx,), daemon=True)
               for f in (producer_loop, group_churn_loop, connection_churn_loop,
                         topic_churn_loop)]
    for t in threads:
        t.start()

    out = open(args.out, "a")
    start = time.time()
    last_restart = start
    last_idle = start
    lifetime = 0
    lifetimes = {0: []}
    print(f"soak: workdir {workdir}, broker {broker.bootstrap()}, "
          f"metrics {broker.mport}, {args.duration:.0f} s", flush=True)
    print("  t(s) life  rss_MB  fds thr   msg/s  pub_p50  pub_p99  e2e_p99  conns topics reb err",
          flush=True)
    while time.time() - start < args.duration:
        time.sleep(args.interval)
        now = time.time()
        # Idle periods and restarts are driven from here, between samples.
        if ctx["idle"].is_set() and now - last_idle >= args.idle_for:
            ctx["idle"].clear()
            last_idle = now
        elif not ctx["idle"].is_set() and now - last_idle >= args.idle_every:
            ctx["idle"].set()
            last_idle = now
        snap = st.take()
        try:
            rss, fds, thr = broker.resources()
        except OSError as e:
            st.error(f"broker process gone: {e}")
            break
        health = broker.http("/health")[0]
        if health != 200:
            st.error(f"/health answered {health}")
        row = dict(t=round(now - start), lifetime=lifetime, rss_mb=round(rss, 1), fds=fds,
                   threads=thr, msgs_per_s=round(snap["produced"] / args.interval, 1),
                   consumed_per_s=round(snap["consumed"] / args.interval, 1),
                   publish_p50_ms=percentile(snap["publish"], 0.5),
                   publish_p99_ms=percentile(snap["publish"], 0.99),
                   e2e_p99_ms=percentile(snap["e2e"], 0.99),
                   churn_connections=snap["churn"], topics_cycled=snap["topics"],
                   rebalances=snap["rebalances"], idle=ctx["idle"].is_set(),
                   errors=len(st.errors), health=health)
        out.write(json.dumps(row) + "\n")
        out.flush()
        lifetimes[lifetime].append(row)

        def ms(v):
            return f"{v:8.2f}" if v is not None else "       -"
        print(f"{row['t']:6d} {lifetime:4d} {rss:7.1f} {fds:4d} {thr:3d} {row['msgs_per_s']:7.0f} "
              f"{ms(row['publish_p50_ms'])} {ms(row['publish_p99_ms'])} {ms(row['e2e_p99_ms'])} "
              f"{snap['churn']:6d} {snap['topics']:6d} {snap['rebalances']:3d} {len(st.errors):3d}",
              flush=True)
        if now - last_restart >= args.restart_every and now - start < args.duration - args.interval:
            ctx["paused"].set()
            time.sleep(3)
            if not broker.stop():
                st.error("broker did not stop cleanly on SIGTERM")
            broker.start()
            time.sleep(2)
            ctx["paused"].clear()
            verify_acked(ctx)
            lifetime += 1
            lifetimes[lifetime] = []
            last_restart = time.time()

    ctx["stop"].set()
    for t in threads:
        t.join(180)
    verify_acked(ctx)
    stopped = broker.stop()
    if not stopped:
        st.error("broker did not stop cleanly on SIGTERM at the end")

    drift = []
    for life, rows in lifetimes.items():
        if len(rows) < args.warmup_intervals + 2:
            continue
        # The baseline is taken once the record cache has filled (warm-up intervals left out).
        first, last = rows[args.warmup_intervals], rows[-1]
        grown = last["rss_mb"] - first["rss_mb"]
        if grown > RSS_GROWTH_MAX_MB and grown > first["rss_mb"] * RSS_GROWTH_MAX_RATIO:
            drift.append(f"lifetime {life}: RSS {first['rss_mb']} -> {last['rss_mb']} MB")
        if last["fds"] - first["fds"] > FD_GROWTH_MAX:
            drift.append(f"lifetime {life}: fds {first['fds']} -> {last['fds']}")
    summary = dict(summary=True, duration_s=round(time.time() - start), restarts=lifetime,
                   errors=st.errors[:50], error_count=len(st.errors), drift=drift,
                   acked_partitions=len(st.acked),
                   acked_high_offsets=sum(o + 1 for o in st.acked.values()))
    out.write(json.dumps(summary) + "\n")
    out.close()
    print(json.dumps(summary, indent=1), flush=True)
    sys.exit(1 if st.errors or drift else 0)


if __name__ == "__main__":
    main()
