"""Idempotent and transactional producers with kafka-python and confluent-kafka.

kafka-python's producer enables idempotence by default (since 2.1), and its transactional
producer drives InitProducerId, AddPartitionsToTxn, EndTxn and TxnOffsetCommit itself; read
back with read_committed and read_uncommitted consumers of both clients.
"""

import time

from confluent_kafka import Consumer, TopicPartition as CTopicPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

TIMEOUT_S = 20.0


def create_topic(bootstrap, name, partitions):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=15000)
    finally:
        admin.close()


def drain_kafka_python(bootstrap, topic, partitions, isolation):
    c = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    c.assign([TopicPartition(topic, p) for p in range(partitions)])
    c.seek_to_beginning()
    values = [m.value.decode() for m in c]
    c.close()
    return values


def drain_confluent(bootstrap, topic, partitions, isolation):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"drain-{isolation}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    c.assign([CTopicPartition(topic, p, 0) for p in range(partitions)])
    values, last = [], time.monotonic()
    while time.monotonic() - last < 3.0:
        m = c.poll(0.2)
        if m is not None and not m.error():
            values.append(m.value().decode())
            last = time.monotonic()
    c.close()
    return values


def test_kafka_python_default_producer_is_idempotent(broker, topic_name):
    create_topic(broker, topic_name, 2)
    p = KafkaProducer(bootstrap_servers=broker, acks="all")  # idempotence on by default
    futures = [p.send(topic_name, f"m{i}".encode()) for i in range(500)]
    offsets = {(f.get(timeout=TIMEOUT_S).partition, f.get().offset) for f in futures}
    p.close()
    assert len(offsets) == 500
    assert sorted(drain_kafka_python(broker, topic_name, 2, "read_committed")) == sorted(
        f"m{i}" for i in range(500)
    )


def test_kafka_python_transactions_commit_and_abort(broker, topic_name):
    create_topic(broker, topic_name, 3)
    p = KafkaProducer(bootstrap_servers=broker, transactional_id=f"{topic_name}-tx")
    p.init_transactions()
    p.begin_transaction()
    for i in range(30):
        p.send(topic_name, f"kept-{i}".encode())
    p.commit_transaction()
    p.begin_transaction()
    for i in range(20):
        p.send(topic_name, f"dropped-{i}".encode())
    p.flush()
    p.abort_transaction()
    p.begin_transaction()
    p.send(topic_name, b"last")
    p.commit_transaction()
    p.close()

    expected = sorted([f"kept-{i}" for i in range(30)] + ["last"])
    assert sorted(drain_kafka_python(broker, topic_name, 3, "read_committed")) == expected
    assert sorted(drain_confluent(broker, topic_name, 3, "read_committed")) == expected
    everything = drain_confluent(broker, topic_name, 3, "read_uncommitted")
    assert len(everything) == 51
    assert sum(v.startswith("dropped") for v in everything) == 20


def test_kafka_python_sends_offsets_to_transaction(broker, topic_name):
    create_topic(broker, topic_name, 1)
    p = KafkaProducer(bootstrap_servers=broker, transactional_id=f"{topic_name}-copier")
    p.init_transactions()
    p.begin_transaction()
    p.send(topic_name, b"out")
    p.send_offsets_to_transaction({TopicPartition(topic_name, 0): _offset(42)}, "kp-group")
    p.commit_transaction()
    p.close()
    c = Consumer({"bootstrap.servers": broker, "group.id": "kp-group"})
    got = c.committed([CTopicPartition(topic_name, 0)], timeout=TIMEOUT_S)
    c.close()
    assert got[0].offset == 42


def _offset(n):
    from kafka.structs import OffsetAndMetadata

    try:
        return OffsetAndMetadata(n, "", -1)
    except TypeError:  # older kafka-python: (offset, metadata)
        return OffsetAndMetadata(n, "")
