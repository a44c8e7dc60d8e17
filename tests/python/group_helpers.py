"""Shared helpers of the consumer-group client tests (test_groups*.py)."""

import concurrent.futures
import queue
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

FAST_GROUPS = (
    '"group.initial.rebalance.delay.ms" = 0\n'
    '"group.consumer.heartbeat.interval.ms" = 1000\n'
)

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
