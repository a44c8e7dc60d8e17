"""Per-record errors in Produce responses (KIP-467) seen through confluent-kafka: a batch with
keyless records sent to a compacted topic is refused; with several records named, each keyless
record's delivery report carries INVALID_RECORD and the others of the batch
_INVALID_DIFFERENT_RECORD (with one record named, librdkafka gives the whole batch the
partition's code); nothing of the batch is appended.
"""

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create_compacted(bootstrap, name):
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(name, 1, 1, config={"cleanup.policy": "compact"})])
    fs[name].result(timeout=20)


def produce_batch(bootstrap, topic, keys):
    """Produces one value per key (None: no key) to partition 0 in one batch; returns the
    delivery errors in input order (None for success)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1000})
    errors = {}
    for i, k in enumerate(keys):
        p.produce(
            topic,
            value=f"v{i}".encode(),
            key=k,
            partition=0,
            on_delivery=lambda err, msg, i=i: errors.__setitem__(i, err),
        )
    assert p.flush(30) == 0
    return [errors[i] for i in range(len(keys))]


def test_named_keyless_records_fail_alone(broker, topic_name):
    create_compacted(broker, topic_name)
    errs = produce_batch(broker, topic_name, [b"a", None, b"c", None, b"e"])
    codes = [e.code() if e else None for e in errs]
    other = KafkaError._INVALID_DIFFERENT_RECORD
    assert codes == [other, KafkaError.INVALID_RECORD, other, KafkaError.INVALID_RECORD, other]
    # A single named record: librdkafka fails the whole batch with the partition's code.
    errs = produce_batch(broker, topic_name, [b"a", b"b", None])
    assert [e.code() for e in errs] == [KafkaError.INVALID_RECORD] * 3
    # The refused batch left nothing behind: a good batch starts at offset 0.
    p = Producer({"bootstrap.servers": broker})
    offsets = []
    p.produce(topic_name, key=b"k", value=b"ok", partition=0,
              on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
    assert p.flush(30) == 0
    assert offsets == [(None, 0)]
