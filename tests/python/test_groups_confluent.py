"""Consumer groups with confluent-kafka (librdkafka): committed metadata, the KIP-848 consumer
protocol, and committed offsets across broker restarts. Shared helpers and the client quirks the
tests work around are in group_helpers.py and test_groups.py."""

import time

from collections import Counter

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupType, KafkaError, KafkaException
from confluent_kafka import TopicPartition as CkTopicPartition
from kafka import TopicPartition as KpTopicPartition
from kafka.structs import OffsetAndMetadata

from group_helpers import (
    FAST_GROUPS,
    SESSION_TIMEOUT_MS,
    ck_admin,
    ck_consumer,
    create_topic,
    group_name,
    kp_admin,
    kp_consumer,
    poll_until,
    produce_per_partition,
    value_of,
)

pytestmark = pytest.mark.broker_config(FAST_GROUPS)


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
