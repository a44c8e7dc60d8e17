"""Integration tests with kafka-python (a pure-Python client) against a real Runnel broker.

These tests use consumers with group_id=None and assign(), and producers with
enable_idempotence=False (kafka-python 2.1+ enables it by default), to test the plain
produce and fetch paths; groups and idempotent or transactional producers have their own
test files.
"""

import time
from collections import defaultdict

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError

REQUEST_TIMEOUT_MS = 15000
CONSUME_TIMEOUT_S = 20.0


def admin_client(bootstrap):
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        client_id="runnel-pytest-admin",
    )


def create_topic(bootstrap, name, partitions):
    admin = admin_client(bootstrap)
    try:
        admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)],
            timeout_ms=REQUEST_TIMEOUT_MS,
        )
    finally:
        admin.close()


def new_producer(bootstrap, **extra):
    conf = dict(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        acks="all",
        linger_ms=5,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        max_block_ms=REQUEST_TIMEOUT_MS,
    )
    conf.update(extra)
    return KafkaProducer(**conf)


def new_consumer(bootstrap):
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        consumer_timeout_ms=5000,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 1000,
        fetch_max_wait_ms=200,
    )


def consume_all(bootstrap, topic, partitions, expected_count, timeout=CONSUME_TIMEOUT_S):
    """Reads the partitions from the beginning until `expected_count` records arrived.

    Returns {partition: [ConsumerRecord, ...]}; waits a little longer at the end so that
    surplus records (duplicates) would be seen too.
    """
    consumer = new_consumer(bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = defaultdict(list)
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=300)
            for tp, records in polled.items():
                assert tp.topic == topic
                got[tp.partition].extend(records)
            total = sum(len(v) for v in got.values())
            if total >= expected_count and not polled:
                break
        assert total == expected_count, (
            f"consumed {total} of {expected_count} records within {timeout}s "
            f"(per partition: { {p: len(v) for p, v in got.items()} })"
        )
        return got
    finally:
        consumer.close()


def test_admin_create_list_delete(broker, topic_name):
    admin = admin_client(broker)
    try:
        assert topic_name not in admin.list_topics()
        resp = admin.create_topics(
            [NewTopic(name=topic_name, num_partitions=3, replication_factor=1)],
            timeout_ms=REQUEST_TIMEOUT_MS,
        )
        assert [(t["name"], t["error_code"]) for t in resp["topics"]] == [(topic_name, 0)]
        assert (resp["topics"][0]["num_partitions"], resp["topics"][0]["replication_factor"]) == (3, 1)
        assert topic_name in admin.list_topics()
        described = admin.describe_topics([topic_name])
        assert len(described) == 1 and described[0]["error_code"] == 0
        parts = sorted(described[0]["partitions"], key=lambda p: p["partition_index"])
        assert [p["partition_index"] for p in parts] == [0, 1, 2]
        assert all(p["leader_id"] == 0 and p["replica_nodes"] == [0] for p in parts)

        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics(
                [NewTopic(name=topic_name, num_partitions=3, replication_factor=1)],
                timeout_ms=REQUEST_TIMEOUT_MS,
            )
        with pytest.raises(InvalidReplicationFactorError):
            admin.create_topics(
                [NewTopic(name=topic_name + "-rf3", num_partitions=1, replication_factor=3)],
                timeout_ms=REQUEST_TIMEOUT_MS,
            )

        resp = admin.delete_topics([topic_name], timeout_ms=REQUEST_TIMEOUT_MS)
        assert [(t["name"], t["error_code"]) for t in resp["topics"]] == [(topic_name, 0)]
        deadline = time.monotonic() + 10
        while topic_name in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        topics = admin.list_topics()
        assert topic_name not in topics
        assert topic_name + "-rf3" not in topics
    finally:
        admin.close()


def test_produce_consume_keys_headers(broker, topic_name):
    create_topic(broker, topic_name, 3)
    messages = []
    for i in range(45):
        key = None if i % 9 == 4 else f"key-{i}".encode()
        if i % 9 == 5:
            value = b""
        elif i % 9 == 6:
            value = None
        else:
            value = f"value-{i}".encode() * (1 + i % 5)
        headers = [] if i % 9 == 7 else [("i", str(i).encode()), ("bin", bytes([0, i, 255])), ("e", b"")]
        messages.append((i % 3, key, value, headers))

    producer = new_producer(broker)
    try:
        futures = [
            producer.send(topic_name, value=v, key=k, headers=h, partition=p)
            for (p, k, v, h) in messages
        ]
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
        metas = [f.get(timeout=REQUEST_TIMEOUT_MS / 1000) for f in futures]
    finally:
        producer.close(timeout=5)
    per_part = defaultdict(list)
    for (p, _, _, _), md in zip(messages, metas):
        assert md.topic == topic_name and md.partition == p
        per_part[p].append(md.offset)
    # Offsets within each partition follow the send order: 0, 1, 2, ...
    assert dict(per_part) == {p: list(range(15)) for p in range(3)}

    got = consume_all(broker, topic_name, [0, 1, 2], len(messages))
    for p in range(3):
        expected = [(k, v, h) for (pp, k, v, h) in messages if pp == p]
        actual = [(r.key, r.value, list(r.headers)) for r in got[p]]
        assert actual == expected, f"partition {p}"
        assert [r.offset for r in got[p]] == list(range(15))


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_acks(broker, topic_name, acks):
    create_topic(broker, topic_name, 1)
    producer = new_producer(broker, acks=acks)
    try:
        futures = [producer.send(topic_name, value=f"m{i}".encode(), partition=0) for i in range(25)]
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
        metas = [f.get(timeout=REQUEST_TIMEOUT_MS / 1000) for f in futures]
    finally:
        producer.close(timeout=5)
    if acks != 0:
        assert [m.offset for m in metas] == list(range(25))
    got = consume_all(broker, topic_name, [0], 25)
    assert [r.value for r in got[0]] == [f"m{i}".encode() for i in range(25)]


def test_offsets_queries(broker, topic_name):
    create_topic(broker, topic_name, 2)
    producer = new_producer(broker)
    try:
        for ts in (1000, 2000, 3000):
            producer.send(topic_name, value=f"t{ts}".encode(), partition=0, timestamp_ms=ts)
        for i in range(5):
            producer.send(topic_name, value=f"p1-{i}".encode(), partition=1, timestamp_ms=10_000 + i)
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
    finally:
        producer.close(timeout=5)

    tp0, tp1 = TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)
    consumer = new_consumer(broker)
    try:
        assert consumer.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert consumer.end_offsets([tp0, tp1]) == {tp0: 3, tp1: 5}

        found = consumer.offsets_for_times({tp0: 1500, tp1: 10_003})
        assert (found[tp0].offset, found[tp0].timestamp) == (1, 2000)
        assert (found[tp1].offset, found[tp1].timestamp) == (3, 10_003)

        found = consumer.offsets_for_times({tp0: 0, tp1: 20_000})
        assert (found[tp0].offset, found[tp0].timestamp) == (0, 1000)
        assert found[tp1] is None  # no record that late
    finally:
        consumer.close()

    got = consume_all(broker, topic_name, [0, 1], 8)
    assert [(r.offset, r.timestamp, r.value) for r in got[0]] == [
        (0, 1000, b"t1000"),
        (1, 2000, b"t2000"),
        (2, 3000, b"t3000"),
    ]
    assert [r.timestamp for r in got[1]] == [10_000 + i for i in range(5)]


def _known_broker_versions():
    """The broker releases this kafka-python knows the API versions of."""
    try:
        from kafka.protocol.broker_version_data import BROKER_API_VERSIONS  # kafka-python 3
    except ImportError:
        from kafka.protocol.broker_api_versions import BROKER_API_VERSIONS  # kafka-python 2
    return set(BROKER_API_VERSIONS)


def test_broker_version_inferred_as_kafka_4(broker, topic_name):
    """kafka-python infers the broker's release from the advertised API versions and enables
    features by it: Runnel's ranges are Kafka 4.1's (Produce v13 is 4.1's marker; a broker that
    stopped at ListOffsets v9 was taken for 3.9). The consumer, configured by that inference,
    then reads back what the producer wrote."""
    consumer = new_consumer(broker)
    try:
        inferred = consumer.config["api_version"]
    finally:
        consumer.close()
    assert inferred >= (4, 0), inferred
    if (4, 1) in _known_broker_versions():
        assert inferred[:2] == (4, 1), inferred

    admin = admin_client(broker)
    try:
        assert admin._client.check_version() == inferred
    finally:
        admin.close()

    create_topic(broker, topic_name, 1)
    producer = new_producer(broker)
    try:
        for i in range(5):
            producer.send(topic_name, value=f"v{i}".encode(), partition=0)
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
    finally:
        producer.close(timeout=5)
    got = consume_all(broker, topic_name, [0], 5)
    assert [r.value for r in got[0]] == [f"v{i}".encode() for i in range(5)]
