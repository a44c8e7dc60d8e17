"""Dynamic broker and group configs with real admin clients (issue 18, item 3).

confluent-kafka (librdkafka) and kafka-python alter broker configs on this broker and on the
cluster-wide default, and group configs on a KIP-848 group; DescribeConfigs reports each
value's source as Kafka does; read-only and bad values are refused with Kafka's errors; the
changes take effect without a restart and survive one."""

import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)

SET, DELETE = AlterConfigOpType.SET, AlterConfigOpType.DELETE


def admin(broker):
    return AdminClient({"bootstrap.servers": broker})


def incremental(a, restype, name, *entries):
    r = ConfigResource(restype, name, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=op) for (k, op, v) in entries])
    return a.incremental_alter_configs([r])[r].result(timeout=15)


def describe(a, restype, name):
    r = ConfigResource(restype, name)
    return a.describe_configs([r])[r].result(timeout=15)


def refused(fn):
    with pytest.raises(KafkaException) as e:
        fn()
    return e.value.args[0].code()


def test_broker_layer_reports_its_source_and_reaches_topics(broker, topic_name):
    """(confluent-kafka refuses an empty broker name, so the cluster-wide default layer is
    tested over the wire in tests/integration/dynamic_configs.rs.)"""
    a = admin(broker)
    a.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    c = describe(a, "BROKER", "0")["log.retention.ms"]
    assert c.source == ConfigSource.DEFAULT_CONFIG.value and not c.is_read_only

    incremental(a, "BROKER", "0", ("log.retention.ms", SET, "3600000"))
    c = describe(a, "BROKER", "0")["log.retention.ms"]
    assert (c.value, c.source) == ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    # A topic without an override takes the broker's dynamic value, and says where from.
    t = describe(a, "TOPIC", topic_name)["retention.ms"]
    assert (t.value, t.source) == ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)

    incremental(a, "BROKER", "0", ("log.retention.ms", DELETE, None))
    c = describe(a, "BROKER", "0")["log.retention.ms"]
    assert (c.value, c.source) == ("604800000", ConfigSource.DEFAULT_CONFIG.value)
    t = describe(a, "TOPIC", topic_name)["retention.ms"]
    assert (t.value, t.source) == ("604800000", ConfigSource.DEFAULT_CONFIG.value)


def test_read_only_unknown_and_bad_values_are_refused(broker):
    a = admin(broker)
    for key, value in [("log.dirs", "/elsewhere"), ("num.partitions", "3"),
                       ("no.such.config", "1"), ("max.connections", "-1"),
                       ("log.segment.bytes", "1000"), ("log.cleanup.policy", "shred")]:
        code = refused(lambda: incremental(a, "BROKER", "0", (key, SET, value)))
        assert code == KafkaError.INVALID_REQUEST, (key, code)
    assert all(e.source != ConfigSource.DYNAMIC_BROKER_CONFIG.value
               for e in describe(a, "BROKER", "0").values())
    # A dynamic config of Kafka's that Runnel only stores is accepted and reported.
    incremental(a, "BROKER", "0", ("num.io.threads", SET, "4"))
    c = describe(a, "BROKER", "0")["num.io.threads"]
    assert (c.value, c.source) == ("4", ConfigSource.DYNAMIC_BROKER_CONFIG.value)


def produce_one(broker, topic, value):
    errors = []
    p = Producer({"bootstrap.servers": broker, "retries": 0, "compression.type": "none"})
    p.produce(topic, value, on_delivery=lambda err, _m: errors.append(err))
    p.flush(15)
    assert len(errors) == 1
    return errors[0]


def test_dynamic_message_max_bytes_applies_without_a_restart(broker, topic_name):
    a = admin(broker)
    a.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    assert produce_one(broker, topic_name, b"v" * 5000) is None
    incremental(a, "BROKER", "0", ("message.max.bytes", SET, "2000"))
    err = produce_one(broker, topic_name, b"v" * 5000)
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
    assert produce_one(broker, topic_name, b"v" * 500) is None
    incremental(a, "BROKER", "0", ("message.max.bytes", DELETE, None))
    assert produce_one(broker, topic_name, b"v" * 5000) is None


def test_dynamic_configs_survive_a_restart(broker_proc):
    a = admin(broker_proc.bootstrap)
    incremental(a, "BROKER", "0", ("log.cleaner.backoff.ms", SET, "5000"))
    incremental(a, "BROKER", "0", ("log.roll.ms", SET, "3600000"))
    incremental(a, ResourceType.GROUP, "kept", ("consumer.session.timeout.ms", SET, "50000"))
    broker_proc.restart()
    a = admin(broker_proc.bootstrap)
    c = describe(a, "BROKER", "0")
    assert (c["log.cleaner.backoff.ms"].value, c["log.cleaner.backoff.ms"].source) == (
        "5000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    assert c["log.roll.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    g = describe(a, ResourceType.GROUP, "kept")["consumer.session.timeout.ms"]
    assert g.value == "50000" and g.source == ConfigSource.GROUP_CONFIG.value


def test_kafka_python_alters_and_describes_broker_and_group_configs(broker):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource as KRes, ConfigResourceType

    ka = KafkaAdminClient(bootstrap_servers=broker)
    try:
        # The legacy AlterConfigs replaces the broker's whole dynamic set.
        ka.alter_configs([KRes(ConfigResourceType.BROKER, "0",
                               configs={"log.retention.bytes": "1000000000"})])
        ka.alter_configs([KRes(ConfigResourceType.GROUP, "kp-group",
                               configs={"consumer.heartbeat.interval.ms": "6000"})])
        res = ka.describe_configs([KRes(ConfigResourceType.BROKER, "0")])
        text = repr(res)
        assert "log.retention.bytes" in text and "1000000000" in text, text
        assert "DYNAMIC_BROKER_CONFIG" in text, text
        res = ka.describe_configs([KRes(ConfigResourceType.GROUP, "kp-group")],
                                  config_filter="all")
        entry = res["group"]["kp-group"]["consumer.heartbeat.interval.ms"]
        assert entry["value"] == "6000", res
        assert entry["config_source"] == "DYNAMIC_GROUP_CONFIG", res
        session = res["group"]["kp-group"]["consumer.session.timeout.ms"]
        assert session["config_source"] == "DEFAULT_CONFIG", res
    finally:
        ka.close()
    c = describe(admin(broker), "BROKER", "0")["log.retention.bytes"]
    assert c.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value


def test_group_configs_are_checked_against_the_broker_bounds(broker):
    a = admin(broker)
    for key, value, want in [
        ("consumer.session.timeout.ms", "1000", KafkaError.INVALID_CONFIG),
        ("consumer.heartbeat.interval.ms", "100000", KafkaError.INVALID_CONFIG),
        ("share.session.timeout.ms", "50000", KafkaError.INVALID_CONFIG),
    ]:
        code = refused(lambda: incremental(a, ResourceType.GROUP, "g", (key, SET, value)))
        assert code == want, (key, code)
    g = describe(a, ResourceType.GROUP, "g")
    assert set(g) == {"consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"}
    assert all(e.source == ConfigSource.DEFAULT_CONFIG.value for e in g.values())


MEMBER = r"""
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
              "group.protocol": "consumer", "auto.offset.reset": "earliest"})
c.subscribe([sys.argv[3]])
deadline = time.time() + 30
while time.time() < deadline:
    c.poll(0.2)
    if c.assignment():
        print("assigned", flush=True)
        break
time.sleep(600)
"""


def group_members(a, group):
    d = a.describe_consumer_groups([group])[group].result(timeout=15)
    return len(d.members)


@pytest.mark.broker_config(
    "group.consumer.min.session.timeout.ms = 1000\ngroup.consumer.min.heartbeat.interval.ms = 100\n")
def test_a_group_session_timeout_expires_its_members_at_once(broker, topic_name):
    """A member killed without leaving is expired after the group's own session timeout
    (2 s here), not the broker's 45 s default."""
    a = admin(broker)
    a.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    group = "short-" + topic_name
    incremental(a, ResourceType.GROUP, group, ("consumer.session.timeout.ms", SET, "2000"),
                ("consumer.heartbeat.interval.ms", SET, "500"))
    member = subprocess.Popen([sys.executable, "-c", MEMBER, broker, group, topic_name],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert member.stdout.readline().strip() == "assigned"
        assert group_members(a, group) == 1
        member.send_signal(signal.SIGKILL)
        member.wait(10)
        killed = time.monotonic()
        while group_members(a, group) != 0:
            assert time.monotonic() - killed < 15, "member not expired"
            time.sleep(0.2)
        # 2 s session, not the broker's 45 s.
        assert time.monotonic() - killed < 10
    finally:
        if member.poll() is None:
            member.kill()
            member.wait(10)
