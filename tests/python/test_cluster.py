"""kafka-python against three brokers in one controller quorum: the brokers are started from
copies of config/cluster/broker-N.toml with the controller ports rewritten to free ones; a
6-partition topic created through broker 1 gets partitions on every broker, and kafka-python,
bootstrapped from one broker only, produces to and consumes from every partition."""

import shutil
import tempfile
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import DEFAULT_BIN, REPO_ROOT, Broker, _free_port

import os


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
    assert "1919" not in text, text
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


def test_kafka_python_uses_every_partition_of_three_brokers():
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    ctl = [_free_port() for _ in range(3)]
    workdirs = [Path(tempfile.mkdtemp(prefix="runnel-cluster-")) for _ in range(3)]
    brokers = [Broker(binary, w, cluster_config(n + 1, ctl)) for n, w in enumerate(workdirs)]
    try:
        for b in brokers:
            b.start()
        admin = KafkaAdminClient(bootstrap_servers=brokers[0].bootstrap)

        def three_live():
            return len(admin.describe_cluster()["brokers"]) == 3

        until("three live brokers", three_live)
        admin.create_topics([NewTopic("py-spread", 6, 1)], timeout_ms=15000)
        admin.close()

        # Every broker hosts two of the six partitions.
        def hosted(b):
            return sorted(p.name for p in b.data_dir.glob("py-spread-*"))

        for b in brokers:
            until("each broker opens its partitions", lambda: len(hosted(b)) == 2)

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
    finally:
        for b in brokers:
            b.stop()
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)
