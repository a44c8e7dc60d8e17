"""Integration tests with confluent-kafka (librdkafka) against a real Runnel broker.

Runnel has no consumer groups, so consumers use manual assignment and never
commit.  confluent_kafka.Consumer insists on a group.id; one is set, with
auto-commit and offset storing disabled, and subscribe() is never called.
"""

import struct
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

OP_TIMEOUT_S = 15.0
CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
CONSUME_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- helpers


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_topic(bootstrap, name, partitions):
    a = admin(bootstrap)  # keep a reference: the futures fail if the client is destroyed
    fs = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)],
        request_timeout=OP_TIMEOUT_S,
        operation_timeout=OP_TIMEOUT_S,
    )
    assert set(fs) == {name}
    assert fs[name].result(timeout=OP_TIMEOUT_S + 5) is None


def topic_partitions(bootstrap, name):
    """Partition ids of `name` per a fresh Metadata request, or None if absent."""
    md = admin(bootstrap).list_topics(timeout=OP_TIMEOUT_S)
    t = md.topics.get(name)
    if t is None or t.error is not None:
        return None
    return sorted(t.partitions)


def produce_all(bootstrap, topic, messages, **config):
    """Produces (partition, key, value, headers[, timestamp]) tuples; returns delivery reports.

    Fails unless every message is reported delivered without error.
    """
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg))

    conf = {"bootstrap.servers": bootstrap, "message.timeout.ms": 20000}
    conf.update(config)
    p = Producer(conf)
    for m in messages:
        partition, key, value, headers = m[:4]
        kwargs = {}
        if headers is not None:
            kwargs["headers"] = headers
        if len(m) > 4:
            kwargs["timestamp"] = m[4]
        p.produce(topic, value=value, key=key, partition=partition, on_delivery=on_delivery, **kwargs)
        p.poll(0)
    remaining = p.flush(OP_TIMEOUT_S + 10)
    assert remaining == 0, f"{remaining} message(s) not delivered in time"
    assert len(reports) == len(messages)
    errors = [(err, msg.partition()) for err, msg in reports if err is not None]
    assert not errors, f"delivery errors: {errors}"
    return [msg for _, msg in reports]


def new_consumer(bootstrap, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        # Required by confluent_kafka.Consumer; never used for membership or commits.
        "group.id": "runnel-pytest-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        "socket.timeout.ms": 10000,
    }
    conf.update(extra)
    return Consumer(conf)


def consume_all(bootstrap, topic, partitions, expected_count, timeout=CONSUME_TIMEOUT_S):
    """Reads every partition from the beginning until `expected_count` messages have arrived
    and every partition reported EOF. Returns {partition: [Message, ...]}."""
    c = new_consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        got = defaultdict(list)
        at_eof = set()
        errors = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total = sum(len(v) for v in got.values())
            if total >= expected_count and at_eof >= set(partitions):
                break
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(m.partition())
                else:
                    errors.append(m.error())
                continue
            assert m.topic() == topic
            got[m.partition()].append(m)
            at_eof.discard(m.partition())
        assert not errors, f"consumer errors: {errors}"
        total = sum(len(v) for v in got.values())
        assert total == expected_count, (
            f"consumed {total} of {expected_count} messages within {timeout}s "
            f"(per partition: { {p: len(v) for p, v in got.items()} }, eof: {sorted(at_eof)})"
        )
        return got
    finally:
        c.close()


def as_tuple(m):
    return (m.key(), m.value(), m.headers() or [])


def norm_headers(headers):
    """Headers as the consumer returns them: [(str, bytes)], with str values encoded."""
    out = []
    for k, v in headers or []:
        out.append((k, v.encode() if isinstance(v, str) else v))
    return out


def stored_batch_bytes(data_dir, topic, partition):
    """Bytes of record batches in the partition's segments (walking the batch headers).

    File sizes overstate this: segments are preallocated ahead of the writes.
    """
    total = 0
    for seg in sorted((Path(data_dir) / f"{topic}-{partition}").glob("*.log")):
        data = seg.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack(">i", data[pos + 8 : pos + 12])
            if length <= 0 or pos + 12 + length > len(data):
                break
            total += 12 + length
            pos += 12 + length
    return total


def first_batch_attributes(data_dir, topic, partition):
    """The attributes field of the first record batch in the partition's first segment.

    Runnel keeps producer batches verbatim in Kafka's log format, so this shows the
    compression codec the batch was produced with (attributes & 0x7).
    """
    seg_dir = Path(data_dir) / f"{topic}-{partition}"
    segs = sorted(seg_dir.glob("*.log"))
    assert segs, f"no segment files in {seg_dir}"
    head = segs[0].read_bytes()[:23]
    assert len(head) == 23, f"segment {segs[0]} holds only {len(head)} bytes"
    # baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32, attributes i16
    _base, _length, _epoch, magic, _crc, attributes = struct.unpack(">qiibIh", head)
    assert magic == 2
    return attributes


# --------------------------------------------------------------------------- admin


def test_create_list_delete_topic(broker, broker_proc, topic_name):
    def partition_dirs():
        return sorted(d.name for d in Path(broker_proc.data_dir).glob(f"{topic_name}-*"))

    assert topic_partitions(broker, topic_name) is None
    create_topic(broker, topic_name, 3)
    assert topic_partitions(broker, topic_name) == [0, 1, 2]
    assert partition_dirs() == [f"{topic_name}-{p}" for p in range(3)]

    md = admin(broker).list_topics(timeout=OP_TIMEOUT_S)
    assert [b.port for b in md.brokers.values()] == [int(broker.rsplit(":", 1)[1])]
    for p in md.topics[topic_name].partitions.values():
        assert p.leader in md.brokers
        assert p.replicas == [p.leader]

    a = admin(broker)
    fs = a.delete_topics([topic_name], request_timeout=OP_TIMEOUT_S, operation_timeout=OP_TIMEOUT_S)
    assert fs[topic_name].result(timeout=OP_TIMEOUT_S + 5) is None
    # AdminClient.list_topics asks for all topics, so this does not auto-create it again.
    deadline = time.monotonic() + 10
    while (topic_partitions(broker, topic_name) is not None or partition_dirs()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert topic_partitions(broker, topic_name) is None
    assert partition_dirs() == [], "partition data left behind after DeleteTopics"


def test_create_existing_topic_fails(broker, topic_name):
    create_topic(broker, topic_name, 3)
    a = admin(broker)
    fs = a.create_topics(
        [NewTopic(topic_name, num_partitions=3, replication_factor=1)],
        request_timeout=OP_TIMEOUT_S,
    )
    with pytest.raises(KafkaException) as ei:
        fs[topic_name].result(timeout=OP_TIMEOUT_S + 5)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, ei.value
    # The original topic is untouched.
    assert topic_partitions(broker, topic_name) == [0, 1, 2]


def test_replication_factor_3_rejected(broker, topic_name):
    a = admin(broker)
    fs = a.create_topics(
        [NewTopic(topic_name, num_partitions=3, replication_factor=3)],
        request_timeout=OP_TIMEOUT_S,
    )
    with pytest.raises(KafkaException) as ei:
        fs[topic_name].result(timeout=OP_TIMEOUT_S + 5)
    assert ei.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR, ei.value
    assert topic_partitions(broker, topic_name) is None


# --------------------------------------------------------------------------- produce / consume


def test_produce_consume_roundtrip(broker, topic_name):
    create_topic(broker, topic_name, 3)
    messages = []
    for i in range(30):
        p = i % 3
        if i % 10 == 3:
            key = None
        else:
            key = f"key-{i}".encode()
        if i % 10 == 4:
            value = b""
        elif i % 10 == 5:
            value = None
        else:
            value = f"value-{i}-".encode() + bytes(range(256))[: i * 7 % 256]
        if i % 10 == 6:
            headers = None
        elif i % 10 == 7:
            headers = [("dup", b"1"), ("dup", b"2"), ("empty", b""), ("str", "text")]
        else:
            headers = [("idx", str(i).encode()), ("bin", bytes([0, 255, i]))]
        messages.append((p, key, value, headers))

    delivered = produce_all(broker, topic_name, messages)
    # Per partition, offsets are assigned 0, 1, 2... in produce order.
    offsets = defaultdict(list)
    for m in delivered:
        offsets[m.partition()].append(m.offset())
    assert {p: sorted(o) for p, o in offsets.items()} == {p: list(range(10)) for p in range(3)}

    got = consume_all(broker, topic_name, [0, 1, 2], len(messages))
    for p in range(3):
        expected = [(k, v, norm_headers(h)) for (pp, k, v, h) in messages if pp == p]
        assert [as_tuple(m) for m in got[p]] == expected, f"partition {p}"
        assert [m.offset() for m in got[p]] == list(range(10))
        for m in got[p]:
            ts_type, ts = m.timestamp()
            assert ts_type == TIMESTAMP_CREATE_TIME
            assert abs(ts / 1000 - time.time()) < 300


@pytest.mark.parametrize("codec,attr", [("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)])
def test_compression_roundtrip(broker, broker_proc, topic_name, codec, attr):
    create_topic(broker, topic_name, 1)
    messages = [
        (0, f"k{i}".encode(), (f"{codec} payload {i} " * 40).encode(), [("n", str(i).encode())])
        for i in range(500)
    ]
    produce_all(
        broker,
        topic_name,
        messages,
        **{"compression.type": codec, "linger.ms": 50, "batch.num.messages": 10000},
    )
    got = consume_all(broker, topic_name, [0], len(messages))
    assert [as_tuple(m) for m in got[0]] == [(k, v, h) for (_, k, v, h) in messages]
    assert [m.offset() for m in got[0]] == list(range(len(messages)))
    # The codec was really used: the stored batch says so, and the log is much smaller
    # than the uncompressed values.
    # (librdkafka only enables LZ4 when the broker's ApiVersions lists FindCoordinator; without
    # it, lz4 producers silently send uncompressed batches.)
    stored_codec = first_batch_attributes(broker_proc.data_dir, topic_name, 0) & 0x7
    assert stored_codec == attr, (
        f"producer configured with {codec} stored a batch with codec "
        f"{CODEC_NAMES.get(stored_codec, stored_codec)}: the producer did not compress"
    )
    raw = sum(len(v) for (_, _, v, _) in messages)
    stored = stored_batch_bytes(broker_proc.data_dir, topic_name, 0)
    assert 0 < stored < raw / 4, f"stored {stored} bytes for {raw} bytes of values"


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(broker, topic_name, acks):
    create_topic(broker, topic_name, 2)
    messages = [(i % 2, f"k{i}".encode(), f"acks={acks} #{i}".encode(), None) for i in range(40)]
    delivered = produce_all(broker, topic_name, messages, acks=acks, **{"linger.ms": 5})
    if acks != "0":
        # With acks the broker returns offsets; without, librdkafka cannot know them.
        per_part = defaultdict(list)
        for m in delivered:
            per_part[m.partition()].append(m.offset())
        assert {p: sorted(o) for p, o in per_part.items()} == {0: list(range(20)), 1: list(range(20))}
    got = consume_all(broker, topic_name, [0, 1], len(messages))
    for p in (0, 1):
        assert [as_tuple(m) for m in got[p]] == [(k, v, []) for (pp, k, v, _) in messages if pp == p]


def test_watermarks_and_offsets_for_times(broker, topic_name):
    create_topic(broker, topic_name, 1)
    stamps = [1000, 2000, 3000]
    produce_all(
        broker,
        topic_name,
        [(0, f"k{ts}".encode(), f"v{ts}".encode(), None, ts) for ts in stamps],
    )
    c = new_consumer(broker)
    try:
        tp = TopicPartition(topic_name, 0)
        assert c.get_watermark_offsets(tp, timeout=OP_TIMEOUT_S, cached=False) == (0, 3)

        def lookup(ts):
            res = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=OP_TIMEOUT_S)
            assert len(res) == 1 and res[0].error is None, res
            return res[0].offset

        assert lookup(0) == 0
        assert lookup(1000) == 0
        assert lookup(1500) == 1
        assert lookup(2000) == 1
        assert lookup(2001) == 2
        assert lookup(3000) == 2
        # Later than every record: no such offset (Kafka answers -1, librdkafka's OFFSET_END).
        assert lookup(3001) == -1
    finally:
        c.close()

    got = consume_all(broker, topic_name, [0], 3)
    assert [m.timestamp() for m in got[0]] == [(TIMESTAMP_CREATE_TIME, ts) for ts in stamps]
    assert [m.value() for m in got[0]] == [f"v{ts}".encode() for ts in stamps]


# --------------------------------------------------------------------------- storage


@pytest.mark.broker_config("runnel.cache.bytes.per.core = 1\n")
def test_consume_from_disk_without_cache(broker, topic_name):
    """With the recent-batch cache disabled, Fetch is served from the segment files."""
    create_topic(broker, topic_name, 1)
    messages = [(0, f"k{i}".encode(), f"v{i}-".encode() * 50, [("i", str(i).encode())]) for i in range(200)]
    produce_all(broker, topic_name, messages, **{"linger.ms": 5})
    got = consume_all(broker, topic_name, [0], len(messages))
    assert [as_tuple(m) for m in got[0]] == [(k, v, h) for (_, k, v, h) in messages]
    assert [m.offset() for m in got[0]] == list(range(len(messages)))


def test_data_survives_restart(broker, broker_proc, topic_name):
    create_topic(broker, topic_name, 3)
    first = [(i % 3, f"k{i}".encode(), f"before-{i}".encode(), [("h", b"x")]) for i in range(60)]
    produce_all(broker, topic_name, first)

    broker_proc.restart()

    assert topic_partitions(broker, topic_name) == [0, 1, 2]
    c = new_consumer(broker)
    try:
        for p in range(3):
            assert c.get_watermark_offsets(TopicPartition(topic_name, p), timeout=OP_TIMEOUT_S, cached=False) == (0, 20)
    finally:
        c.close()
    # Appending after the restart continues the offsets.
    second = [(i % 3, f"k{i}".encode(), f"after-{i}".encode(), None) for i in range(30)]
    delivered = produce_all(broker, topic_name, second)
    assert sorted((m.partition(), m.offset()) for m in delivered) == [
        (p, o) for p in range(3) for o in range(20, 30)
    ]
    got = consume_all(broker, topic_name, [0, 1, 2], len(first) + len(second))
    for p in range(3):
        expected = [(k, v, norm_headers(h)) for (pp, k, v, h) in first + second if pp == p]
        assert [as_tuple(m) for m in got[p]] == expected
        assert [m.offset() for m in got[p]] == list(range(30))
