"""Leader epochs with a real client (librdkafka through confluent-kafka): the broker stamps
each partition's leader epoch into the batches it appends, keeps them across a restart (which
moves the epoch on: the controlled shutdown takes the partition's leadership away and the
return gives it back, each a new epoch), and answers OffsetForLeaderEpoch, which librdkafka
sends to validate a position assigned with a leader epoch (KIP-320)."""

import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, 1, 1)], request_timeout=15)
    for f in futures.values():
        f.result(timeout=20)


def produce(bootstrap, topic, values):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    for v in values:
        p.produce(topic, value=v, partition=0)
        p.flush(10)  # one batch per record: each batch carries its own epoch
    assert p.flush(10) == 0


def consume_from(bootstrap, topic, offset, leader_epoch, want, reset="earliest"):
    """Assigns partition 0 at (offset, leader_epoch) and returns up to `want` messages as
    (offset, leader epoch, value), or an error, whichever comes first."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"epochs-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": reset,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, offset, leader_epoch=leader_epoch)])
        out = []
        deadline = time.time() + 30
        while len(out) < want and time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                return out, m.error()
            out.append((m.offset(), m.leader_epoch(), m.value()))
        return out, None
    finally:
        c.close()


def test_epochs_stamped_kept_across_restart_and_validated(broker_proc, topic_name):
    bootstrap = broker_proc.bootstrap
    create(bootstrap, topic_name)
    produce(bootstrap, topic_name, [b"a%d" % i for i in range(5)])
    broker_proc.restart()
    produce(bootstrap, topic_name, [b"b%d" % i for i in range(5)])
    # Read back from disk after another restart.
    broker_proc.restart()

    got, err = consume_from(bootstrap, topic_name, 0, -1, 10)
    assert err is None, err
    assert [o for o, _, _ in got] == list(range(10))
    first = {e for o, e, _ in got if o < 5}
    second = {e for o, e, _ in got if o >= 5}
    assert first == {0}, f"records before the restart carry epoch 0: {got}"
    assert len(second) == 1, f"records after the restart carry one epoch: {got}"
    (epoch,) = second
    assert epoch > 0, f"the restart moved the leader epoch on: {got}"

    # A position inside epoch 0 (which ends at 5) is valid: the client carries on from it.
    got, err = consume_from(bootstrap, topic_name, 3, 0, 7, reset="error")
    assert err is None, err
    assert [o for o, _, _ in got] == list(range(3, 10))

    # A position past the end of its epoch (7 in epoch 0) is a truncated log: librdkafka asks
    # OffsetForLeaderEpoch, learns that epoch 0 ends at 5 and seeks there.
    got, err = consume_from(bootstrap, topic_name, 7, 0, 5)
    assert err is None, err
    assert [o for o, _, _ in got] == list(range(5, 10)), got

    # The same with auto.offset.reset=error: the truncation is reported to the application.
    got, err = consume_from(bootstrap, topic_name, 7, 0, 3, reset="error")
    assert got == [] and err is not None, (got, err)
    assert "truncation" in str(err).lower(), err

    # A position in the current epoch is valid up to the log end.
    got, err = consume_from(bootstrap, topic_name, 8, epoch, 2, reset="error")
    assert err is None, err
    assert [o for o, _, _ in got] == [8, 9]
