"""Consumer groups with real clients against a real Runnel broker.

kafka-python drives the classic protocol (FindCoordinator, JoinGroup/SyncGroup/Heartbeat/
LeaveGroup, OffsetCommit/OffsetFetch) and the group admin APIs (ListGroups, DescribeGroups,
OffsetFetch, OffsetDelete, DeleteGroups); confluent-kafka (librdkafka) commits offsets with
metadata and drives the KIP-848 consumer protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe).

Unless a test says otherwise its broker runs with no initial rebalance delay (the default holds
the first JoinGroup of an empty group for 3 s) and a 1 s KIP-848 heartbeat interval, so that
rebalances settle quickly.

Two client quirks shape the tests (both seen with the installed versions, both client-side):
- kafka-python 3.0.12 drops the result of a JoinGroup/SyncGroup round that completes while no
  poll() of that consumer is running and joins again (or, for a leader whose rejoin came from a
  metadata change, never finishes the join and stops heartbeating). Consumers polled in turn from
  one thread therefore keep rebalancing each other; every group member of these tests is polled
  continuously by its own thread (ConsumerThread), and looks its topic up before subscribing.
- confluent-kafka commits metadata with a trailing NUL byte and reads committed metadata as a C
  string, so metadata committed by another client cannot be read back with it.
"""

import concurrent.futures
import queue
import threading
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupType,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
)
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import GroupSubscribedToTopicError, NoError
from kafka.structs import OffsetAndMetadata

FAST_GROUPS = (
    '"group.initial.rebalance.delay.ms" = 0\n'
    '"group.consumer.heartbeat.interval.ms" = 1000\n'
)
pytestmark = pytest.mark.broker_config(FAST_GROUPS)

OP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_MS = 15000
SESSION_TIMEOUT_MS = 6000  # group.min.session.timeout.ms
HEARTBEAT_INTERVAL_MS = 1000


# --------------------------------------------------------------------------- helpers


def group_name(prefix="g"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ck_admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_topic(bootstrap, name, partitions):
    a = ck_admin(bootstrap)  # keep a reference: the futures fail if the client is destroyed
    fs = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)],
        request_timeout=OP_TIMEOUT_S,
        operation_timeout=OP_TIMEOUT_S,
    )
    assert fs[name].result(timeout=OP_TIMEOUT_S + 5) is None


def value_of(partition, i):
    return f"p{partition}-m{i}".encode()


def produce_per_partition(bootstrap, topic, partitions, per_partition):
    """Produces `per_partition` records to each partition; record i of partition p holds
    value_of(p, i) and so lands at offset i of a fresh partition."""
    errors = []
    delivered = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset(), msg.value()))

    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 20000, "linger.ms": 5})
    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, value=value_of(part, i), partition=part, on_delivery=on_delivery)
            p.poll(0)
    assert p.flush(OP_TIMEOUT_S + 10) == 0, "messages not delivered in time"
    assert not errors, f"delivery errors: {errors[:5]}"
    assert len(delivered) == partitions * per_partition
    # The tests rely on value_of(p, i) sitting at offset i.
    assert all(v == value_of(part, off) for part, off, v in delivered), "unexpected offsets"


def kp_admin(bootstrap):
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        client_id="runnel-pytest-groups-admin",
    )


def kp_consumer(bootstrap, group_id, **extra):
    conf = dict(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 1000,
        fetch_max_wait_ms=100,
    )
    conf.update(extra)
    return KafkaConsumer(**conf)


def kp_member_id(consumer):
    """The member id kafka-python got from JoinGroup (internal attribute)."""
    return consumer._coordinator._generation.member_id


def poll_until(consumer, cond, timeout_s, what, on_records=None, poll_ms=500):
    """Polls one kafka-python consumer (the only member of its group) until cond() holds; fails
    after timeout_s. Records polled go to on_records(tp, records)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what}; assignment: "
                f"{sorted((tp.topic, tp.partition) for tp in consumer.assignment())}"
            )
        for tp, records in consumer.poll(timeout_ms=poll_ms).items():
            if on_records is not None:
                on_records(tp, records)


class ConsumerThread(threading.Thread):
    """Polls one kafka-python group consumer continuously (see the module docstring for why).

    Polled records go to sink(index, {tp: records}); the assignment after each poll is kept in
    .assignment. call(fn) runs fn(consumer) on this thread between two polls (KafkaConsumer is
    not thread-safe) and returns its result.
    """

    def __init__(self, consumer, index, sink=None):
        super().__init__(name=f"consumer-{index}", daemon=True)
        self.consumer = consumer
        self.index = index
        self.sink = sink
        self.assignment = frozenset()
        self.error = None
        self._stopping = threading.Event()
        self._calls = queue.Queue()

    def run(self):
        try:
            while not self._stopping.is_set():
                polled = self.consumer.poll(timeout_ms=500)
                if polled and self.sink is not None:
                    self.sink(self.index, polled)
                self.assignment = frozenset(self.consumer.assignment())
                while True:
                    try:
                        fn, fut = self._calls.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        fut.set_result(fn(self.consumer))
                    except BaseException as e:  # handed to the caller
                        fut.set_exception(e)
        except BaseException as e:
            self.error = e

    def call(self, fn, timeout=20):
        fut = concurrent.futures.Future()
        self._calls.put((fn, fut))
        return fut.result(timeout=timeout)


def start_members(bootstrap, group, topic, n, sink=None, **consumer_conf):
    threads = []
    for i in range(n):
        c = kp_consumer(bootstrap, group, **consumer_conf)
        # Known partitions before the first JoinGroup: the leader's first assignment is complete
        # and no metadata-triggered rejoin follows.
        assert c.partitions_for_topic(topic), f"no metadata for {topic}"
        c.subscribe([topic])
        t = ConsumerThread(c, i, sink)
        t.start()
        threads.append(t)
    return threads


def wait_until(threads, cond, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not cond():
        errors = [(t.name, t.error) for t in threads if t.error is not None]
        assert not errors, f"consumer thread failed: {errors}"
        if time.monotonic() > deadline:
            state = [sorted((tp.topic, tp.partition) for tp in t.assignment) for t in threads]
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; assignments: {state}")
        time.sleep(0.05)


def stop_members(threads):
    """Stops the polling threads, then closes their consumers (LeaveGroup)."""
    for t in threads:
        t._stopping.set()
    for t in threads:
        t.join(timeout=20)
    close_all([t.consumer for t in threads if not t.is_alive()])
    errors = [(t.name, t.error) for t in threads if t.error is not None]
    assert not errors, f"consumer thread failed: {errors}"
    assert not any(t.is_alive() for t in threads), "a consumer thread did not stop"


def close_all(consumers):
    for c in consumers:
        try:
            c.close()
        except Exception as e:  # closing must not hide the test's own failure
            print(f"close failed: {e!r}")


def ck_consumer(bootstrap, group_id, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "socket.timeout.ms": 10000,
    }
    conf.update(extra)
    return Consumer(conf)


# --------------------------------------------------------------------------- classic, kafka-python


def test_kafka_python_three_consumers_split_partitions(broker, topic_name):
    partitions, per_partition = 12, 100
    create_topic(broker, topic_name, partitions)
    produce_per_partition(broker, topic_name, partitions, per_partition)

    group = group_name()
    lock = threading.Lock()
    seen = Counter()  # (partition, offset) -> deliveries
    bad = []

    def sink(_i, polled):
        with lock:
            for tp, records in polled.items():
                for r in records:
                    seen[(tp.partition, r.offset)] += 1
                    if tp.topic != topic_name or r.value != value_of(tp.partition, r.offset):
                        bad.append((tp, r.offset, r.value))

    def assignments():
        return [{tp.partition for tp in t.assignment} for t in threads]

    def settled():
        sets = assignments()
        with lock:
            n = len(seen)
        return (
            n == partitions * per_partition
            and all(sets)
            and sum(len(x) for x in sets) == partitions
            and set().union(*sets) == set(range(partitions))
        )

    # Auto-commit: kafka-python commits synchronously before it rejoins, so a partition that
    # moves to another member in a rebalance continues where its previous owner stopped.
    threads = start_members(broker, group, topic_name, 3, sink,
                            enable_auto_commit=True, auto_commit_interval_ms=500)
    try:
        wait_until(threads, settled, 60, "every record consumed and 3 disjoint non-empty assignments")
        settled_assignments = assignments()
        # A record consumed twice (a partition restarting below its committed offset after a
        # rebalance) would arrive now.
        time.sleep(2)
        final = assignments()
        assert final == settled_assignments, f"assignments changed: {settled_assignments} -> {final}"
        assert all(tp.topic == topic_name for t in threads for tp in t.assignment)
        for x in range(3):
            for y in range(x + 1, 3):
                assert not final[x] & final[y], f"overlapping assignments: {final}"
        assert set().union(*final) == set(range(partitions)), final
        assert sorted(len(x) for x in final) == [4, 4, 4], final
        with lock:
            assert not bad, f"records with unexpected topic or value: {bad[:5]}"
            expected = {(p, o) for p in range(partitions) for o in range(per_partition)}
            assert set(seen) == expected, f"missing: {sorted(expected - set(seen))[:10]}"
            dups = {k: n for k, n in seen.items() if n != 1}
            assert not dups, f"{len(dups)} records delivered more than once, e.g. {sorted(dups.items())[:10]}"
        assert len({kp_member_id(t.consumer) for t in threads}) == 3
    finally:
        stop_members(threads)


def test_kafka_python_commit_then_restart_resumes_after_commit(broker, topic_name):
    create_topic(broker, topic_name, 1)
    produce_per_partition(broker, topic_name, 1, 20)
    group = group_name()
    tp = KpTopicPartition(topic_name, 0)

    c = kp_consumer(broker, group, max_poll_records=7)
    try:
        c.subscribe([topic_name])
        got = []
        poll_until(c, lambda: len(got) >= 7, 30, "7 records",
                   on_records=lambda _tp, recs: got.extend(recs))
        assert [r.offset for r in got] == list(range(7))
        c.commit()  # the consumed position: 7
        assert c.committed(tp) == 7
    finally:
        c.close()

    c2 = kp_consumer(broker, group, max_poll_records=100)
    try:
        assert c2.committed(tp) == 7  # read back from the broker by a fresh client
        c2.subscribe([topic_name])
        got2 = []
        poll_until(c2, lambda: len(got2) >= 13, 30, "the remaining 13 records",
                   on_records=lambda _tp, recs: got2.extend(recs))
        assert got2[0].offset == 7, f"resumed at {got2[0].offset}, committed 7"
        assert [r.offset for r in got2] == list(range(7, 20))
        assert [r.value for r in got2] == [value_of(0, i) for i in range(7, 20)]
    finally:
        c2.close()


@pytest.mark.broker_config('"group.initial.rebalance.delay.ms" = 3000\n')
def test_kafka_python_initial_rebalance_delay_gathers_members(broker, topic_name):
    """With the default 3 s initial delay, members that join an empty group within the delay all
    land in its first generation, and that generation does not form before the delay."""
    create_topic(broker, topic_name, 4)
    group = group_name()
    started = time.monotonic()
    threads = start_members(broker, group, topic_name, 2)
    try:
        wait_until(threads, lambda: all(t.assignment for t in threads), 20, "both members assigned")
        elapsed = time.monotonic() - started
        generations = [t.consumer._coordinator._generation.generation_id for t in threads]
        assert generations == [1, 1], f"members joined in generations {generations}"
        assert elapsed >= 2.9, f"first generation formed after {elapsed:.2f}s, before the 3 s delay"
        assert elapsed < 10, f"first generation took {elapsed:.2f}s"
        a = [{tp.partition for tp in t.assignment} for t in threads]
        assert not a[0] & a[1] and a[0] | a[1] == {0, 1, 2, 3}, a
    finally:
        stop_members(threads)


def _assigned_partitions(assignment):
    """{TopicPartition} of a DescribeGroups member_assignment as kafka-python decodes it."""
    if isinstance(assignment, dict):
        pairs = assignment.get("assigned_partitions") or []
    else:
        pairs = assignment.assigned_partitions
    out = set()
    for item in pairs:
        if isinstance(item, dict):
            topic, parts = item["topic"], item["partitions"]
        else:
            topic, parts = item[0], item[1]
        out.update(KpTopicPartition(topic, p) for p in parts)
    return out


def test_kafka_python_admin_list_describe_offsets_delete(broker, topic_name):
    create_topic(broker, topic_name, 2)
    produce_per_partition(broker, topic_name, 2, 10)
    other_topic = topic_name + "-other"
    create_topic(broker, other_topic, 1)
    group = group_name()
    tp0, tp1 = KpTopicPartition(topic_name, 0), KpTopicPartition(topic_name, 1)
    tp_other = KpTopicPartition(other_topic, 0)

    threads = start_members(broker, group, topic_name, 2)
    admin = kp_admin(broker)
    try:
        wait_until(
            threads,
            lambda: all(len(t.assignment) == 1 for t in threads)
            and threads[0].assignment | threads[1].assignment == {tp0, tp1},
            30, "one partition per consumer",
        )
        owner = {next(iter(t.assignment)).partition: t for t in threads}
        owner[0].call(lambda c: c.commit({tp0: OffsetAndMetadata(3, "meta-0", -1)}))
        owner[1].call(lambda c: c.commit({tp1: OffsetAndMetadata(4, "", -1)}))
        owner[0].call(lambda c: c.commit({tp_other: OffsetAndMetadata(1, "x", -1)}))

        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert group in listed, f"{group} not in ListGroups: {sorted(listed)}"
        assert listed[group]["protocol_type"] == "consumer"
        if "group_state" in listed[group]:
            assert listed[group]["group_state"] == "Stable", listed[group]

        desc = admin.describe_groups([group])[group]
        assert desc["error"] is None, desc
        assert desc["group_state"] == "Stable", desc
        assert desc["protocol_type"] == "consumer"
        assert desc["protocol_data"] == "range", desc  # kafka-python's first assignor
        members = desc["members"]
        by_member = {kp_member_id(t.consumer): t for t in threads}
        assert sorted(m["member_id"] for m in members) == sorted(by_member), members
        for m in members:
            described = _assigned_partitions(m["member_assignment"])
            assert described == set(by_member[m["member_id"]].assignment), (m, described)

        offsets = admin.list_group_offsets(group)[group]
        assert {tp: (o.offset, o.metadata) for tp, o in offsets.items()} == {
            tp0: (3, "meta-0"),
            tp1: (4, ""),
            tp_other: (1, "x"),
        }

        # OffsetDelete: refused for the topic the members subscribe to, done for the other.
        res = admin.delete_group_offsets(group, [tp0, tp_other])
        assert res == {tp0: GroupSubscribedToTopicError, tp_other: NoError}, res
        offsets = admin.list_group_offsets(group)[group]
        assert {tp: o.offset for tp, o in offsets.items()} == {tp0: 3, tp1: 4}

        # DeleteGroups of a group with members: NON_EMPTY_GROUP (68), offsets kept.
        assert admin.delete_groups([group]) == {group: "NonEmptyGroupError"}
        offsets = admin.list_group_offsets(group)[group]
        assert {tp: o.offset for tp, o in offsets.items()} == {tp0: 3, tp1: 4}

        stop_members(threads)  # LeaveGroup: the group becomes Empty
        threads = []
        desc = admin.describe_groups([group])[group]
        assert desc["group_state"] == "Empty" and desc["members"] == [], desc

        assert admin.delete_groups([group]) == {group: "OK"}
        assert admin.list_group_offsets(group)[group] == {}
        assert group not in {g["group_id"] for g in admin.list_groups()}
    finally:
        stop_members(threads)
        admin.close()


# --------------------------------------------------------------------------- confluent-kafka


def test_confluent_commit_metadata_round_trip(broker, topic_name):
    create_topic(broker, topic_name, 2)
    produce_per_partition(broker, topic_name, 2, 10)
    group = group_name()

    c = ck_consumer(broker, group, **{"session.timeout.ms": SESSION_TIMEOUT_MS})
    try:
        # A generation-checked commit: the consumer is a member of the group.
        assigned = []
        c.subscribe([topic_name], on_assign=lambda _c, parts: assigned.extend(parts))
        deadline = time.monotonic() + 30
        while len(assigned) < 2 and time.monotonic() < deadline:
            m = c.poll(0.2)
            assert m is None or m.error() is None or m.error().code() == KafkaError._PARTITION_EOF
        assert sorted(p.partition for p in assigned) == [0, 1]
        res = c.commit(
            offsets=[
                CkTopicPartition(topic_name, 0, 5, metadata="hello"),
                CkTopicPartition(topic_name, 1, 2, metadata="x" * 300),
            ],
            asynchronous=False,
        )
        assert [(r.partition, r.offset, r.error) for r in sorted(res, key=lambda r: r.partition)] == [
            (0, 5, None),
            (1, 2, None),
        ]
        got = c.committed([CkTopicPartition(topic_name, 0), CkTopicPartition(topic_name, 1)], timeout=10)
        assert [(r.offset, r.metadata, r.error) for r in got] == [(5, "hello", None), (2, "x" * 300, None)]
    finally:
        c.close()

    # A fresh client, outside the group, reads what the broker stored.
    c2 = ck_consumer(broker, group)
    try:
        got = c2.committed([CkTopicPartition(topic_name, 0), CkTopicPartition(topic_name, 1)], timeout=10)
        assert [(r.offset, r.metadata, r.error) for r in got] == [(5, "hello", None), (2, "x" * 300, None)]
        # And a simple (non-member) commit to the now empty group replaces it.
        c2.commit(offsets=[CkTopicPartition(topic_name, 0, 7, metadata="again")], asynchronous=False)
        got = c2.committed([CkTopicPartition(topic_name, 0)], timeout=10)
        assert [(r.offset, r.metadata) for r in got] == [(7, "again")]
        # Metadata over offset.metadata.max.bytes (4096): OFFSET_METADATA_TOO_LARGE, not stored.
        try:
            res = c2.commit(offsets=[CkTopicPartition(topic_name, 1, 9, metadata="y" * 5000)],
                            asynchronous=False)
            errs = [r.error for r in res]
        except KafkaException as e:
            errs = [e.args[0]]
        assert [e.code() if e is not None else None for e in errs] == [
            KafkaError.OFFSET_METADATA_TOO_LARGE
        ], errs
        got = c2.committed([CkTopicPartition(topic_name, 1)], timeout=10)
        assert [(r.offset, r.metadata) for r in got] == [(2, "x" * 300)]
    finally:
        c2.close()

    # Another client sees the same offsets and metadata (confluent-kafka stores a trailing NUL).
    admin = kp_admin(broker)
    try:
        offsets = admin.list_group_offsets(group)[group]
        assert {tp.partition: (o.offset, o.metadata.rstrip("\x00")) for tp, o in offsets.items()} == {
            0: (7, "again"),
            1: (2, "x" * 300),
        }
    finally:
        admin.close()


def test_confluent_kip848_consumer_protocol_split(broker, topic_name):
    partitions, per_partition = 6, 50
    create_topic(broker, topic_name, partitions)
    group = group_name()
    consumers = [
        ck_consumer(broker, group, **{"group.protocol": "consumer", "enable.auto.commit": True})
        for _ in range(2)
    ]
    seen = Counter()
    owner_of = {}  # (partition, offset) -> consumer index
    errors = []

    def poll_round():
        for i, c in enumerate(consumers):
            m = c.poll(0.1)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    errors.append(m.error())
                continue
            assert m.topic() == topic_name
            seen[(m.partition(), m.offset())] += 1
            owner_of[(m.partition(), m.offset())] = i
            assert m.value() == value_of(m.partition(), m.offset())

    def assignments():
        return [{tp.partition for tp in c.assignment()} for c in consumers]

    try:
        for c in consumers:
            c.subscribe([topic_name])
        # The topic is empty while the group settles, so no record can be consumed twice.
        deadline = time.monotonic() + 60
        while True:
            poll_round()
            a = assignments()
            if all(a) and not a[0] & a[1] and a[0] | a[1] == set(range(partitions)):
                break
            assert not errors, f"consumer errors: {errors}"
            assert time.monotonic() < deadline, f"no complete disjoint split within 60s: {a}"
        assert sorted(len(x) for x in a) == [3, 3], a

        produce_per_partition(broker, topic_name, partitions, per_partition)
        deadline = time.monotonic() + 30
        while len(seen) < partitions * per_partition and time.monotonic() < deadline:
            poll_round()
        end = time.monotonic() + 1  # a little longer, for duplicates
        while time.monotonic() < end:
            poll_round()
        assert not errors, f"consumer errors: {errors}"
        expected = {(p, o) for p in range(partitions) for o in range(per_partition)}
        assert set(seen) == expected, f"missing: {sorted(expected - set(seen))[:10]}"
        assert all(n == 1 for n in seen.values()), "duplicate deliveries"
        final = assignments()
        assert final == a, f"assignment changed while consuming: {a} -> {final}"
        for (p, _o), i in owner_of.items():
            assert p in final[i], f"consumer {i} got a record of partition {p} it does not own"

        a_admin = ck_admin(broker)
        desc = a_admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        assert desc.group_id == group
        assert desc.type == ConsumerGroupType.CONSUMER, desc.type
        assert desc.state == ConsumerGroupState.STABLE, desc.state
        assert not desc.is_simple_consumer_group
        assert len(desc.members) == 2
        described = sorted(
            sorted(tp.partition for tp in m.assignment.topic_partitions) for m in desc.members
        )
        assert described == sorted(sorted(x) for x in final), (described, final)
        assert all(tp.topic == topic_name for m in desc.members for tp in m.assignment.topic_partitions)
    finally:
        for c in consumers:
            c.close()


# --------------------------------------------------------------------------- durability


def _kill_and_start(broker_proc):
    """SIGKILLs the broker and starts it again on the same port and data directory."""
    port = broker_proc.port
    broker_proc.proc.kill()
    broker_proc.proc.wait(timeout=10)
    if not broker_proc._launch(port):  # the fixture's own start-up check
        broker_proc.stop()
        pytest.fail(f"runnel did not start again after SIGKILL; log:\n{broker_proc.log_tail()}")


@pytest.mark.parametrize("how", ["graceful", "sigkill"])
def test_committed_offsets_survive_broker_restart(broker, broker_proc, topic_name, how):
    partitions = 3
    create_topic(broker, topic_name, partitions)
    produce_per_partition(broker, topic_name, partitions, 10)
    group = group_name()
    committed = {0: (3, "a"), 1: (5, "bb"), 2: (9, "")}
    tps = [KpTopicPartition(topic_name, p) for p in range(partitions)]

    c = kp_consumer(broker, group)
    try:
        c.subscribe([topic_name])
        poll_until(c, lambda: len(c.assignment()) == partitions, 30, "an assignment")
        c.commit({tps[p]: OffsetAndMetadata(o, m, -1) for p, (o, m) in committed.items()})
    finally:
        c.close()

    if how == "graceful":
        broker_proc.restart()
    else:
        _kill_and_start(broker_proc)
    broker_proc.assert_alive()

    admin = kp_admin(broker)
    try:
        offsets = admin.list_group_offsets(group)[group]
        assert {tp.partition: (o.offset, o.metadata) for tp, o in offsets.items()} == committed
    finally:
        admin.close()
    # Offsets only: confluent-kafka cannot read metadata committed without a trailing NUL.
    c2 = ck_consumer(broker, group)
    try:
        got = c2.committed([CkTopicPartition(topic_name, p) for p in range(partitions)], timeout=10)
        assert {r.partition: (r.offset, r.error) for r in got} == {
            p: (o, None) for p, (o, _m) in committed.items()
        }
    finally:
        c2.close()

    # A new member of the group starts every partition at its committed offset.
    c3 = kp_consumer(broker, group)
    try:
        c3.subscribe([topic_name])
        first = {}
        poll_until(c3, lambda: len(first) == partitions, 30, "records of every partition",
                   on_records=lambda tp, recs: first.setdefault(tp.partition, recs[0].offset))
        assert first == {p: o for p, (o, _m) in committed.items()}
    finally:
        c3.close()
