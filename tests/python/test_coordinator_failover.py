"""The coordinators move with the leadership of their internal topics (docs/replication.md,
step 6). Three brokers of one quorum; `__consumer_offsets` and `__transaction_state` are
created with three replicas (`offsets.topic.replication.factor`,
`transaction.state.log.replication.factor`, default 3) once the three are up.

- A confluent-kafka consumer group commits offsets; the broker leading the group's
  `__consumer_offsets` partition is killed with SIGKILL; a new consumer of the group resumes
  at the committed offsets on the new coordinator (nothing read again from 0, nothing
  skipped), and joins, syncs and commits there. The killed broker, restarted, follows the
  partition and answers NOT_COORDINATOR for the group.
- A transactional producer commits transactions spanning three partitions; the transaction
  coordinator's broker is killed between two transactions, and (in a second cluster round)
  in the middle of one; the producer goes on (re-created with the same transactional.id after
  a fatal error, as an application would), and a read_committed consumer reads exactly the
  records of the committed transactions.
"""

import os
import socket
import struct
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import chaos
from conftest import DEFAULT_BIN
from test_cluster import until

NOT_COORDINATOR = 16


def _request(bootstrap, api_key, version, body, timeout=5.0):
    """Sends one request (header v1) to `bootstrap` and returns the response body (header
    v0: the non-flexible versions used here)."""
    host, port = bootstrap.rsplit(":", 1)
    client = b"coord-failover-test"
    header = struct.pack(">hhih", api_key, version, 7, len(client)) + client
    frame = header + body
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _read(s, 4))[0]
        data = _read(s, size)
    assert struct.unpack(">i", data[:4])[0] == 7
    return data[4:]


def _read(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def _string(v):
    b = v.encode()
    return struct.pack(">h", len(b)) + b


def find_coordinator(bootstrap, key, key_type):
    """FindCoordinator v1: (error code, node id)."""
    body = _string(key) + struct.pack(">b", key_type)
    r = _request(bootstrap, 10, 1, body)
    error = struct.unpack(">h", r[4:6])[0]
    msg_len = struct.unpack(">h", r[6:8])[0]
    at = 8 + max(msg_len, 0)
    node = struct.unpack(">i", r[at : at + 4])[0]
    return error, node


def offset_fetch_error(bootstrap, group, topic):
    """OffsetFetch v3 of `group` for partition 0 of `topic`: the group-level error code."""
    body = _string(group) + struct.pack(">i", 1) + _string(topic) + struct.pack(">ii", 1, 0)
    r = _request(bootstrap, 9, 3, body)
    # throttle, topics: [name, [partition, offset, metadata, error]], error
    at = 4
    (topics,) = struct.unpack(">i", r[at : at + 4])
    at += 4
    for _ in range(topics):
        (n,) = struct.unpack(">h", r[at : at + 2])
        at += 2 + n
        (parts,) = struct.unpack(">i", r[at : at + 4])
        at += 4
        for _ in range(parts):
            at += 4 + 8
            (m,) = struct.unpack(">h", r[at : at + 2])
            at += 2 + max(m, 0) + 2
    return struct.unpack(">h", r[at : at + 2])[0]


@pytest.fixture
def cluster():
    c = chaos.ChaosCluster(Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN))))
    try:
        c.start()
        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        until(
            "three live brokers",
            lambda: len(admin.list_topics(timeout=5).brokers) == 3,
        )
        yield c
    finally:
        c.close()


def live_bootstrap(c, dead):
    return ",".join(b.bootstrap for b in c.brokers if b is not dead)


def create_topic(c, name, partitions=3, min_isr="2"):
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    t = NewTopic(name, partitions, 3, config={"min.insync.replicas": min_isr})
    for f in admin.create_topics([t]).values():
        f.result(timeout=20)
    until(f"{name} led", lambda: all(
        p.leader >= 0 for p in admin.list_topics(name, timeout=5).topics[name].partitions.values()
    ))


def replicas_of(c, topic, bootstrap=None):
    """Per partition: (leader, replicas)."""
    admin = AdminClient({"bootstrap.servers": bootstrap or c.bootstrap})
    md = admin.list_topics(topic, timeout=5).topics[topic]
    return {p: (m.leader, list(m.replicas)) for p, m in md.partitions.items()}


def isrs_of(topic, bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic, timeout=5).topics[topic]
    return {p: list(m.isrs) for p, m in md.partitions.items()}


def produce(bootstrap, topic, partitions, per_partition, prefix):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, value=f"{prefix}{part}-{i}".encode(), partition=part)
    assert p.flush(30) == 0


def consumer(bootstrap, group):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )


def test_a_group_moves_to_the_new_leader_of_its_offsets_partition(cluster):
    c = cluster
    topic, group = "cf-data", "cf-group"
    create_topic(c, topic)
    produce(c.bootstrap, topic, 3, 40, "a")

    first = consumer(c.bootstrap, group)
    first.subscribe([topic])
    seen = {}
    end = time.monotonic() + 40
    while sum(len(v) for v in seen.values()) < 60 and time.monotonic() < end:
        m = first.poll(0.5)
        if m is not None and m.error() is None:
            seen.setdefault(m.partition(), []).append(m.offset())
    assert sum(len(v) for v in seen.values()) >= 60, seen
    first.commit(asynchronous=False)
    committed = {
        tp.partition: tp.offset
        for tp in first.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    }
    first.close()
    assert all(committed[p] == max(seen[p]) + 1 for p in seen), (committed, seen)
    # Where the next member starts: the committed offset, or 0 (earliest) without one.
    start = {p: committed[p] if committed[p] >= 0 else 0 for p in range(3)}

    # The internal topic has three replicas, and the coordinator is its partition's leader.
    offsets = replicas_of(c, "__consumer_offsets")
    assert all(len(r) == 3 for _, r in offsets.values()), offsets
    error, coord = find_coordinator(c.brokers[0].bootstrap, group, 0)
    assert error == 0
    assert coord in {leader for leader, _ in offsets.values()}

    victim = c.by_id(coord)
    victim.proc.kill()
    victim.proc.wait()
    alive = live_bootstrap(c, victim)

    def moved():
        e, n = find_coordinator(alive.split(",")[0], group, 0)
        return e == 0 and n != coord and n
    new_coord = until("a new coordinator", moved, timeout=30)

    # The new consumer resumes at the committed offsets: nothing again, nothing skipped.
    second = consumer(alive, group)
    second.subscribe([topic])
    got = {}
    end = time.monotonic() + 60
    while sum(len(v) for v in got.values()) < 120 - sum(start.values()):
        assert time.monotonic() < end, (got, start)
        m = second.poll(0.5)
        if m is not None and m.error() is None:
            got.setdefault(m.partition(), []).append(m.offset())
    for p in range(3):
        assert got.get(p, []) == list(range(start[p], 40)), (p, got.get(p), start)
    # Join, sync and commit work on the new coordinator.
    second.commit(asynchronous=False)
    after = second.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    assert [tp.offset for tp in after] == [40, 40, 40]
    second.close()

    # The old coordinator, restarted, follows the partition and does not serve the group.
    c.relaunch(victim)
    until(
        "the old coordinator back in the ISR of the offsets partitions",
        lambda: all(coord in r for r in isrs_of("__consumer_offsets", alive).values()),
    )
    assert find_coordinator(victim.bootstrap, group, 0) == (0, new_coord)
    assert offset_fetch_error(victim.bootstrap, group, topic) == NOT_COORDINATOR
    # And the group's offsets are still there on the coordinator.
    third = consumer(c.bootstrap, group)
    again = third.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    third.close()
    assert [tp.offset for tp in again] == [40, 40, 40]


class TxnRun:
    """A transactional producer that commits transactions of one record per partition,
    re-created with the same transactional.id after a fatal error."""

    def __init__(self, bootstrap, topic, txn_id):
        self.bootstrap, self.topic, self.txn_id = bootstrap, topic, txn_id
        self.committed, self.aborted, self.unknown = [], [], []
        self.producer = None
        self.new_producer()

    def new_producer(self):
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "transactional.id": self.txn_id,
                "transaction.timeout.ms": 60000,
            }
        )
        end = time.monotonic() + 60
        while True:
            try:
                self.producer.init_transactions(15)
                return
            except KafkaException as e:
                if time.monotonic() > end or e.args[0].fatal():
                    raise

    def begin(self, n):
        values = [f"t{n}-p{p}".encode() for p in range(3)]
        self.producer.begin_transaction()
        for p, v in enumerate(values):
            self.producer.produce(self.topic, value=v, partition=p)
        assert self.producer.flush(30) == 0
        return values

    def end(self, values):
        """Commits; returns once the outcome is known or the producer was re-created."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.producer.commit_transaction(15)
                self.committed.append(values)
                return
            except KafkaException as e:
                err = e.args[0]
                if err.retriable():
                    continue
                if err.txn_requires_abort():
                    try:
                        self.producer.abort_transaction(15)
                        self.aborted.append(values)
                        return
                    except KafkaException:
                        pass
                # Fatal (or the abort failed): the outcome is the coordinator's.
                self.unknown.append(values)
                self.new_producer()
                return
        raise AssertionError("the transaction never ended")

    def one(self, n):
        self.end(self.begin(n))


def read_committed(bootstrap, topic):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "tx-reader",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    c.assign([TopicPartition(topic, p, 0) for p in range(3)])
    out, idle = [], time.monotonic()
    end = time.monotonic() + 60
    while time.monotonic() < end and time.monotonic() - idle < 5:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            out.append(m.value())
            idle = time.monotonic()
    c.close()
    return out


def txn_coordinator(bootstrap, txn_id):
    e, n = find_coordinator(bootstrap, txn_id, 1)
    return n if e == 0 else None


@pytest.mark.parametrize("mid_transaction", [False, True])
def test_transactions_go_on_when_their_coordinator_is_killed(cluster, mid_transaction):
    c = cluster
    topic, txn_id = "tx-data", "tx-failover"
    create_topic(c, topic)
    run = TxnRun(c.bootstrap, topic, txn_id)
    for n in range(3):
        run.one(n)
    state = replicas_of(c, "__transaction_state")
    assert all(len(r) == 3 for _, r in state.values()), state
    first = c.brokers[0].bootstrap
    coord = until("the transaction coordinator", lambda: txn_coordinator(first, txn_id))

    victim = c.by_id(coord)
    pending = run.begin(3) if mid_transaction else None
    victim.proc.kill()
    victim.proc.wait()
    alive = live_bootstrap(c, victim)
    until(
        "a new transaction coordinator",
        lambda: txn_coordinator(alive.split(",")[0], txn_id) not in (None, coord),
        timeout=30,
    )
    if pending is not None:
        run.end(pending)
    for n in range(4, 8):
        run.one(n)
    assert len(run.committed) >= 6, (run.committed, run.aborted, run.unknown)

    got = read_committed(alive, topic)
    expected = {v for t in run.committed for v in t}
    maybe = {v for t in run.unknown for v in t}
    assert len(got) == len(set(got)), got
    assert expected <= set(got), sorted(expected - set(got))
    assert set(got) <= expected | maybe, sorted(set(got) - expected - maybe)
    # A transaction whose outcome the client did not learn is all or nothing.
    for t in run.unknown:
        assert len(set(t) & set(got)) in (0, len(t)), t
    assert not any(v in got for t in run.aborted for v in t)
    c.relaunch(victim)
