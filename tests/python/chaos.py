"""The failure test's harness and checker (issue 21's acceptance, in the spirit of Jepsen and
Kafka's ducktape system tests): three brokers on loopback, idempotent `acks=all` producers and a
consumer group at steady load, and a nemesis that kills a partition leader with SIGKILL,
pauses a broker with SIGSTOP past the session timeout, or restarts one, round after round.

Afterwards everything is read back and checked:

- **lost**: an acknowledged record that is not in the log at the offset it was acknowledged at;
- **duplicated**: a record (producer, sequence) that is in the log more than once;
- **reordered**: one producer's records in one partition that are not in the order it sent them;
- **committed offsets that went back**: a group's committed offset of a partition, read after
  each round, that is lower than one read before.

All four must be zero. The producers' own application errors (anything but the retriable
errors librdkafka reports while leaders move) are counted too and must be zero. The failover
time of each kill (from the kill to the first acknowledgement of a record of a partition the
killed broker led) is measured.

Run from pytest (tests/python/test_failure_rounds.py, a few rounds) or by hand for a longer run:

    RUNNEL_BIN=target/release/runnel python3 tests/python/chaos.py --rounds 20 --rf 1

which prints the report as JSON.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from conftest import DEFAULT_BIN, Broker, _free_port  # noqa: E402
from test_cluster import cluster_config, until  # noqa: E402

TOPIC = "chaos"
GROUP = "chaos-group"
SESSION_TIMEOUT_S = 3.0  # broker.session.timeout.ms of cluster_config


class ChaosCluster:
    """Three brokers of one quorum, each on its own port and data directory."""

    def __init__(self, binary: Path):
        ctl = [_free_port() for _ in range(3)]
        self.workdirs = [Path(tempfile.mkdtemp(prefix="runnel-chaos-")) for _ in range(3)]
        self.brokers = [
            Broker(binary, w, cluster_config(n + 1, ctl)) for n, w in enumerate(self.workdirs)
        ]

    def start(self):
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda b: b.start(), self.brokers))

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers)

    def by_id(self, node_id):
        return self.brokers[node_id - 1]

    def relaunch(self, b):
        """Starts a stopped or killed broker again on its port and data directory."""
        if not b._launch(b.port):
            raise AssertionError(f"broker did not come back; log:\n{b.log_tail()}")

    def close(self, keep=False):
        for b in self.brokers:
            if b.proc is not None and b.proc.poll() is None:
                try:
                    os.kill(b.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
            b.stop()
        if not keep:
            for w in self.workdirs:
                shutil.rmtree(w, ignore_errors=True)


class Load:
    """Producers and a consumer group running in threads until `stop`."""

    def __init__(self, bootstrap, partitions, producers=2, rate=200):
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.rate = rate
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        # (producer, seq) -> (partition, offset): every acknowledged record.
        self.acked = {}
        # (producer, seq) -> wall-clock time of its acknowledgement (to match broker logs).
        self.acked_wall = {}
        # partition -> times of acknowledgements (for failover times).
        # partition -> (acknowledged, sent) monotonic times of its records.
        self.ack_times = collections.defaultdict(collections.deque)
        self.retriable = collections.Counter()
        self.fatal = []
        self.consumed = 0
        self.commits = 0
        self.threads = [
            threading.Thread(target=self._produce, args=(pid,), daemon=True)
            for pid in range(producers)
        ]
        self.threads.append(threading.Thread(target=self._consume, daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=240)
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"load threads did not stop: {alive}"

    def _delivered(self, err, msg, pid, seq, sent):
        if err is not None:
            with self.lock:
                if err.retriable() or err.code() == KafkaError._MSG_TIMED_OUT:
                    self.retriable[err.name()] += 1
                else:
                    self.fatal.append(f"producer {pid} seq {seq}: {err}")
            return
        now = time.monotonic()
        with self.lock:
            self.acked[(pid, seq)] = (msg.partition(), msg.offset())
            self.acked_wall[(pid, seq)] = time.time()
            times = self.ack_times[msg.partition()]
            times.append((now, sent))
            if len(times) > 200_000:
                times.popleft()

    def _produce(self, pid):
        p = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                # Long enough to ride through a broker's restart without giving up.
                "message.timeout.ms": 120000,
                "error_cb": lambda e: self._client_error(f"producer {pid}", e),
            }
        )
        seq = 0
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            part = seq % self.partitions
            s = seq
            try:
                p.produce(
                    TOPIC,
                    value=f"{pid}:{s}".encode(),
                    partition=part,
                    on_delivery=lambda err, msg, s=s, t=time.monotonic(): self._delivered(
                        err, msg, pid, s, t
                    ),
                )
                seq += 1
            except BufferError:
                p.poll(0.1)
                continue
            p.poll(0)
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                next_at = time.monotonic()
        left = p.flush(180)
        if left:
            with self.lock:
                self.fatal.append(f"producer {pid}: {left} records never answered")

    def _client_error(self, who, err):
        with self.lock:
            if err.fatal():
                self.fatal.append(f"{who}: fatal {err}")
            else:
                self.retriable[err.name()] += 1

    def _consume(self):
        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": GROUP,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "error_cb": lambda e: self._client_error("consumer", e),
            }
        )
        c.subscribe([TOPIC])
        since_commit = 0
        while not self.stop_event.is_set():
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error() is not None:
                with self.lock:
                    self.retriable[m.error().name()] += 1
                continue
            with self.lock:
                self.consumed += 1
            since_commit += 1
            if since_commit >= 100:
                try:
                    c.commit(asynchronous=False)
                    with self.lock:
                        self.commits += 1
                    since_commit = 0
                except Exception as e:  # retriable while the coordinator moves
                    with self.lock:
                        self.retriable[f"commit: {e}"[:80]] += 1
        c.close()

    def first_ack_after(self, partitions, t0, timeout=90.0):
        """Seconds from `t0` to the first acknowledgement of a record sent after `t0` to one of
        `partitions`; None if there was none within `timeout`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                # Records sent after t0: answers already on their way from the old leader
                # do not count.
                after = [a for p in partitions for a, sent in self.ack_times[p] if sent > t0]
            if after:
                return min(after) - t0
            time.sleep(0.05)
        return None


def leaders(admin):
    md = admin.list_topics(TOPIC, timeout=10).topics[TOPIC]
    return {p: md.partitions[p].leader for p in md.partitions}


def committed(bootstrap, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(TOPIC, p) for p in range(partitions)], timeout=20)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def read_back(bootstrap, partitions):
    """Every record of the topic: partition -> [(offset, value)]."""
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "chaos-reader", "enable.auto.commit": False}
    )
    log = {}
    try:
        for p in range(partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=20)
            c.assign([TopicPartition(TOPIC, p, lo)])
            records = []
            end = time.monotonic() + 120
            while (not records or records[-1][0] < hi - 1) and time.monotonic() < end and hi > lo:
                m = c.poll(0.5)
                if m is None or m.error() is not None:
                    continue
                records.append((m.offset(), m.value().decode()))
            assert hi <= lo or records[-1][0] == hi - 1, f"partition {p}: read stopped short"
            log[p] = records
    finally:
        c.close()
    return log


def check(acked, log, commit_history):
    """The checker: counts of lost, duplicated and reordered records and of committed
    offsets that went back, with a few examples of each."""
    at = {}
    seen = collections.Counter()
    order = collections.defaultdict(list)
    for p, records in log.items():
        for offset, value in records:
            pid, seq = value.split(":")
            key = (int(pid), int(seq))
            at[(p, offset)] = key
            seen[key] += 1
            order[(key[0], p)].append(key[1])
    lost = [k for k, (p, off) in acked.items() if at.get((p, off)) != k]
    value_at = {(p, off): v for p, records in log.items() for off, v in records}
    duplicated = [k for k, n in seen.items() if n > 1]
    reordered = [
        (pid, p) for (pid, p), seqs in order.items() if any(a >= b for a, b in zip(seqs, seqs[1:]))
    ]
    went_back = []
    for prev, cur in zip(commit_history, commit_history[1:]):
        for p, off in prev.items():
            if off >= 0 and cur.get(p, -1) >= 0 and cur[p] < off:
                went_back.append((p, off, cur[p]))
    return {
        "acked": len(acked),
        "in_log": sum(len(r) for r in log.values()),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "reordered": len(reordered),
        "committed_went_back": len(went_back),
        "examples": {
            # Each lost record: where it was acknowledged, what that offset holds now, and
            # where (if anywhere) the record is in the log.
            "lost": [
                {
                    "record": k,
                    "acked_at": acked[k],
                    "there_now": value_at.get(acked[k]),
                    "found_at": [pos for pos, v in at.items() if v == k][:3],
                }
                for k in sorted(lost)[:5]
            ],
            "duplicated": sorted(duplicated)[:5],
            "reordered": sorted(reordered)[:5],
            "committed_went_back": went_back[:5],
        },
    }


def run(binary, rounds, rf=1, min_isr=1, partitions=6, steady_s=4.0, keep=False):
    """Starts a cluster, runs `rounds` nemesis rounds under load, checks, returns the report."""
    cluster = ChaosCluster(binary)
    report = {"rounds": rounds, "replication_factor": rf, "min_insync_replicas": min_isr}
    try:
        cluster.start()
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        until(
            "three live brokers",
            lambda: len(admin.describe_cluster(request_timeout=5).result(timeout=10).nodes) == 3,
        )
        topic = NewTopic(
            TOPIC, partitions, rf, config={"min.insync.replicas": str(min_isr)}
        )
        for f in admin.create_topics([topic]).values():
            f.result(timeout=30)
        until("every partition led", lambda: all(l >= 0 for l in leaders(admin).values()))
        load = Load(cluster.bootstrap, partitions)
        load.start()
        time.sleep(steady_s)
        commit_history = [committed(cluster.bootstrap, partitions)]
        failovers = []
        actions = []
        for r in range(rounds):
            kind = ("kill", "pause", "restart")[r % 3]
            lead = leaders(admin)
            target = lead.get(r % partitions, -1)
            if target < 0:
                target = 1 + r % 3
            b = cluster.by_id(target)
            led = [p for p, l in lead.items() if l == target]
            t0 = time.monotonic()
            if kind == "kill":
                b.proc.send_signal(signal.SIGKILL)
                b.proc.wait(timeout=10)
                # Down long enough for the quorum to fence it and move what it can.
                time.sleep(SESSION_TIMEOUT_S + 1.0)
                cluster.relaunch(b)
                took = load.first_ack_after(led, t0) if led else None
                failovers.append(took)
            elif kind == "pause":
                os.kill(b.proc.pid, signal.SIGSTOP)
                time.sleep(SESSION_TIMEOUT_S + 1.5)
                os.kill(b.proc.pid, signal.SIGCONT)
            else:
                b.stop()
                cluster.relaunch(b)
            actions.append(
                {"round": r, "action": kind, "broker": target, "led": led, "at": round(time.time(), 3)}
            )
            time.sleep(steady_s)
            commit_history.append(committed(cluster.bootstrap, partitions))
        load.stop()
        log = read_back(cluster.bootstrap, partitions)
        commit_history.append(committed(cluster.bootstrap, partitions))
        report.update(check(load.acked, log, commit_history))
        for e in report["examples"]["lost"]:
            e["acked_wall"] = load.acked_wall.get(tuple(e["record"]))
        measured = [f for f in failovers if f is not None]
        report["failover_s"] = {
            "kills": len(failovers),
            "unmeasured": len(failovers) - len(measured),
            "p50": round(statistics.median(measured), 3) if measured else None,
            "max": round(max(measured), 3) if measured else None,
        }
        report["fatal_errors"] = load.fatal[:10]
        report["fatal_count"] = len(load.fatal)
        report["retriable_errors"] = dict(load.retriable.most_common(10))
        report["consumed"] = load.consumed
        report["commits"] = load.commits
        report["actions"] = actions
        for b in cluster.brokers:
            b.assert_alive()
        return report
    finally:
        cluster.close(keep=keep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--rf", type=int, default=1)
    ap.add_argument("--min-isr", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    args = ap.parse_args()
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    report = run(binary, args.rounds, args.rf, args.min_isr, args.partitions, keep=args.keep)
    print(json.dumps(report, indent=2))
    bad = report["lost"] + report["duplicated"] + report["reordered"]
    bad += report["committed_went_back"] + report["fatal_count"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
