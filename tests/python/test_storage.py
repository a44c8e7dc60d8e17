"""Storage lifecycle with Python clients: delete-records and offsets-for-times from
kafka-python and confluent-kafka, and a compacted topic read back with both."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

BASE_TS = 1_700_000_000_000


def create(bootstrap, name, partitions=1, configs=None):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=configs or {})], timeout_ms=15000
        )
    finally:
        admin.close()


def produce_timestamped(bootstrap, topic, n):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", batch_size=2000, linger_ms=5)
    for i in range(n):
        p.send(topic, value=b"v%d" % i, partition=0, timestamp_ms=BASE_TS + i * 10)
    p.flush(timeout=30)
    p.close()


def low_high(bootstrap, topic):
    c = KafkaConsumer(bootstrap_servers=bootstrap)
    tp = TopicPartition(topic, 0)
    low = c.beginning_offsets([tp])[tp]
    high = c.end_offsets([tp])[tp]
    c.close()
    return low, high


def test_kafka_python_delete_records_and_offsets_for_times(broker, topic_name):
    create(broker, topic_name, configs={"segment.bytes": "4096"})
    produce_timestamped(broker, topic_name, 2000)
    c = KafkaConsumer(bootstrap_servers=broker)
    tp = TopicPartition(topic_name, 0)
    found = c.offsets_for_times({tp: BASE_TS + 12_345})[tp]
    assert found.offset == 1235 and found.timestamp == BASE_TS + 12_350
    assert c.offsets_for_times({tp: BASE_TS + 10**9})[tp] is None
    c.close()

    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=15000)
    try:
        result = admin.delete_records({tp: 1500}, timeout_ms=15000)
    finally:
        admin.close()
    assert result[tp]["low_watermark"] == 1500
    assert low_high(broker, topic_name) == (1500, 2000)
    # Timestamps before the new log start now find the log start.
    c = KafkaConsumer(bootstrap_servers=broker)
    assert c.offsets_for_times({tp: BASE_TS})[tp].offset == 1500
    c.close()


def test_confluent_delete_records_and_offsets_for_times(broker, topic_name):
    create(broker, topic_name, configs={"segment.bytes": "4096"})
    produce_timestamped(broker, topic_name, 2000)
    c = Consumer({"bootstrap.servers": broker, "group.id": "storage-py"})
    got = c.offsets_for_times([CTopicPartition(topic_name, 0, BASE_TS + 19_990)], timeout=10)
    assert got[0].offset == 1999
    c.close()
    admin = AdminClient({"bootstrap.servers": broker})
    futures = admin.delete_records([CTopicPartition(topic_name, 0, 700)])
    for tp, fut in futures.items():
        res = fut.result(timeout=15)
        assert res.low_watermark == 700
    assert low_high(broker, topic_name) == (700, 2000)
    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": "storage-py-read",
            "auto.offset.reset": "earliest",
        }
    )
    c.assign([CTopicPartition(topic_name, 0, -2)])  # OFFSET_BEGINNING
    m = None
    deadline = time.time() + 20
    while m is None and time.time() < deadline:
        m = c.poll(0.5)
    c.close()
    assert m is not None and m.offset() == 700 and m.value() == b"v700"


@pytest.mark.broker_config("log.cleaner.backoff.ms = 100\nlog.retention.check.interval.ms = 100\n")
def test_compacted_topic_keeps_latest_per_key(broker, topic_name):
    create(
        broker,
        topic_name,
        configs={
            "cleanup.policy": "compact",
            "segment.bytes": "8192",
            "min.cleanable.dirty.ratio": "0.01",
        },
    )
    p = Producer({"bootstrap.servers": broker, "acks": "all", "batch.size": 4000, "linger.ms": 5})
    for i in range(20_000):
        p.produce(topic_name, key=b"k%d" % (i % 50), value=b"%d" % i, partition=0)
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    expected = {b"k%d" % k: b"%d" % (19_950 + k) for k in range(50)}

    def read_all():
        c = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False, consumer_timeout_ms=3000)
        tp = TopicPartition(topic_name, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        msgs = [(m.offset, m.key, m.value) for m in c]
        c.close()
        return msgs

    deadline = time.time() + 60
    while True:
        msgs = read_all()
        if len(msgs) < 2000 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert len(msgs) < 2000, f"not compacted: {len(msgs)} records"
    latest = {}
    for off, k, v in msgs:
        latest[k] = v
    assert latest == expected
    offsets = [o for o, _, _ in msgs]
    assert offsets == sorted(offsets) and offsets[-1] == 19_999
