"""Real Python clients against three brokers in one controller quorum. The brokers are started
from copies of config/cluster/broker-N.toml with the controller ports rewritten to free ones and
shared by the tests of this file. A 6-partition topic created through broker 1 gets partitions
on every broker; kafka-python, bootstrapped from one broker only, produces to and consumes from
every partition; confluent-kafka consumer groups (and kafka-python after them) work with the
group coordinator on another broker than the one they bootstrap from."""

import concurrent.futures
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin import NewTopic as CkNewTopic
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import DEFAULT_BIN, REPO_ROOT, Broker, _free_port


def cluster_config(n, ctl):
    text = (REPO_ROOT / "config" / "cluster" / f"broker-{n}.toml").read_text()
    lines = [
        l
        for l in text.splitlines()
        if not l.startswith("advertised.listeners") and not l.startswith("metrics.listen")
    ]
    text = "\n".join(lines) + "\n"
    for i, port in enumerate(ctl):
        text = text.replace(f"127.0.0.1:{19192 + i}", f"127.0.0.1:{port}")
    assert all(f"127.0.0.1:{19192 + i}" not in text for i in range(3)), text
    return text + "broker.session.timeout.ms = 3000\nbroker.heartbeat.interval.ms = 300\n"


def until(what, f, timeout=40.0):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = f()
            if last:
                return last
        except Exception as e:  # a cluster still settling
            last = e
        time.sleep(0.2)
    raise AssertionError(f"{what}: last seen {last!r}")


@pytest.fixture(scope="module")
def cluster():
    """Three brokers in one quorum, shared by the tests of this file (each uses its own
    topics and groups)."""
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    ctl = [_free_port() for _ in range(3)]
    workdirs = [Path(tempfile.mkdtemp(prefix="runnel-cluster-")) for _ in range(3)]
    brokers = [Broker(binary, w, cluster_config(n + 1, ctl)) for n, w in enumerate(workdirs)]
    try:
        # Together: a broker listens once the quorum has unfenced it, and one voter of three
        # alone has no quorum.
        with concurrent.futures.ThreadPoolExecutor(len(brokers)) as pool:
            list(pool.map(lambda b: b.start(), brokers))
        admin = KafkaAdminClient(bootstrap_servers=brokers[0].bootstrap)

        def three_live():
            return len(admin.describe_cluster()["brokers"]) == 3

        until("three live brokers", three_live)
        admin.close()
        yield brokers
    finally:
        for b in brokers:
            b.stop()
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)


def hosted(b, topic):
    """The partition directories of `topic` on broker `b`."""
    return sorted(p.name for p in b.data_dir.glob(f"{topic}-*"))


def test_kafka_python_uses_every_partition_of_three_brokers(cluster):
    brokers = cluster
    admin = KafkaAdminClient(bootstrap_servers=brokers[0].bootstrap)
    admin.create_topics([NewTopic("py-spread", 6, 1)], timeout_ms=15000)
    admin.close()

    # Every broker hosts two of the six partitions.
    for b in brokers:
        until("each broker opens its partitions", lambda: len(hosted(b, "py-spread")) == 2)

    producer = KafkaProducer(bootstrap_servers=brokers[0].bootstrap, acks="all")
    for i in range(60):
        producer.send("py-spread", value=f"v{i}".encode(), partition=i % 6)
    producer.flush(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=brokers[2].bootstrap, enable_auto_commit=False
    )
    tps = [TopicPartition("py-spread", p) for p in range(6)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got = []
    end = time.monotonic() + 40
    while len(got) < 60 and time.monotonic() < end:
        for _tp, msgs in consumer.poll(timeout_ms=500).items():
            got.extend(msgs)
    consumer.close()
    assert len(got) == 60
    for p in range(6):
        values = [m.value for m in got if m.partition == p]
        assert values == [f"v{i}".encode() for i in range(p, 60, 6)], p


def coordinator_of(admin, group):
    """The node id of `group`'s coordinator (FindCoordinator through DescribeGroups)."""
    desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    return desc.coordinator.id


def test_confluent_group_with_its_coordinator_on_another_broker(cluster):
    brokers = cluster
    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
    for f in admin.create_topics([CkNewTopic("ck-spread", 6, 1)]).values():
        f.result(timeout=20)
    for b in brokers:
        until("each broker opens its partitions", lambda: len(hosted(b, "ck-spread")) == 2)

    # A group whose coordinator is not broker 1, the one every consumer bootstraps from.
    group = None
    for i in range(40):
        name = f"ck-group-{i}"
        coord = until(f"coordinator of {name}", lambda: coordinator_of(admin, name))
        if coord in (2, 3):
            group = name
            break
    assert group is not None, "no group id of 40 has its coordinator off broker 1"

    producer = Producer(
        {"bootstrap.servers": brokers[2].bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    for i in range(120):
        producer.produce("ck-spread", value=f"c{i}".encode(), partition=i % 6, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert failed == []

    def consumer():
        return Consumer(
            {
                "bootstrap.servers": brokers[0].bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
            }
        )

    consumers = [consumer(), consumer()]
    for c in consumers:
        c.subscribe(["ck-spread"])
    seen = set()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for c in consumers:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                seen.add((m.partition(), m.offset()))
        if len(seen) == 120 and all(len(c.assignment()) == 3 for c in consumers):
            break
    assert len(seen) == 120, f"consumed {len(seen)} of 120 records"
    assert sorted(len(c.assignment()) for c in consumers) == [3, 3]
    for c in consumers:
        c.commit(asynchronous=False)
    for c in consumers:
        c.close()

    # The committed offsets, read through another broker, are each partition's end.
    check = Consumer({"bootstrap.servers": brokers[1].bootstrap, "group.id": group})
    committed = check.committed([CkTopicPartition("ck-spread", p) for p in range(6)], timeout=15)
    check.close()
    assert {(tp.partition, tp.offset) for tp in committed} == {(p, 20) for p in range(6)}

    # kafka-python in the same group resumes from them: only the new records.
    for i in range(6):
        producer.produce("ck-spread", value=f"new{i}".encode(), partition=i, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert failed == []
    kp = KafkaConsumer(
        "ck-spread",
        bootstrap_servers=brokers[1].bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    got = []
    end = time.monotonic() + 40
    while len(got) < 6 and time.monotonic() < end:
        for _tp, msgs in kp.poll(timeout_ms=500).items():
            got.extend(msgs)
    kp.close()
    assert sorted(m.value for m in got) == sorted(f"new{i}".encode() for i in range(6))


def test_kafka_python_reassigns_a_partition(cluster):
    """KafkaAdminClient's alter_partition_reassignments / list_partition_reassignments
    (KIP-455): a one-replica partition with records moves to another broker, which then leads
    it and serves every record; the old broker deletes its copy. Invalid targets and a cancel
    with nothing to cancel get Kafka's errors."""
    from kafka.errors import InvalidReplicationAssignmentError, NoReassignmentInProgressError

    brokers = cluster
    admin = KafkaAdminClient(bootstrap_servers=brokers[0].bootstrap)
    admin.create_topics([NewTopic("py-move", 1, 1)], timeout_ms=15000)
    tp = TopicPartition("py-move", 0)

    def leader():
        md = admin.describe_topics(["py-move"])[0]["partitions"]
        return md[0]["leader_id"] if md and md[0]["leader_id"] >= 0 else None

    source = until("py-move led", leader)
    target = next(b for b in (1, 2, 3) if b != source)
    producer = KafkaProducer(bootstrap_servers=brokers[0].bootstrap, acks="all")
    for i in range(30):
        producer.send("py-move", value=f"m{i}".encode(), partition=0)
    producer.flush(timeout=30)
    producer.close()

    assert admin.alter_partition_reassignments({tp: [target]}) == {tp: None}
    until("the move completes", lambda: leader() == target and not admin.list_partition_reassignments())
    until(
        "the old broker deletes its copy",
        lambda: not hosted(brokers[source - 1], "py-move") and hosted(brokers[target - 1], "py-move"),
    )

    consumer = KafkaConsumer(bootstrap_servers=brokers[0].bootstrap, enable_auto_commit=False)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    end = time.monotonic() + 40
    while len(got) < 30 and time.monotonic() < end:
        for _tp, msgs in consumer.poll(timeout_ms=500).items():
            got.extend(msgs)
    consumer.close()
    assert [(m.offset, m.value) for m in got] == [(i, f"m{i}".encode()) for i in range(30)]

    assert admin.alter_partition_reassignments({tp: [99]}) == {tp: InvalidReplicationAssignmentError}
    assert admin.alter_partition_reassignments({tp: None}) == {tp: NoReassignmentInProgressError}
    assert admin.list_partition_reassignments({"py-move": [0]}) == {}
    admin.close()
