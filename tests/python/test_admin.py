"""Admin APIs and topic configs with real admin clients: confluent-kafka's AdminClient and
kafka-python's KafkaAdminClient describe and alter configs, create partitions, describe the
cluster and log dirs; altered configs take effect without a restart; LogAppendTime,
compression.type, the timestamp bounds, max.message.bytes and min.insync.replicas are honoured
on produce."""

import struct
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, TIMESTAMP_CREATE_TIME
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

# Topic-level configs the broker knows (src/cluster/topic_config/defs.rs).
TOPIC_CONFIG_COUNT = 23


_ADMINS = {}


@pytest.fixture(autouse=True)
def _drop_admin_clients():
    """Admin clients live for one test: afterwards their broker is gone."""
    yield
    _ADMINS.clear()


def admin(broker):
    """One AdminClient per broker, kept alive: a client dropped while its futures are pending
    fails them with _DESTROY."""
    if broker not in _ADMINS:
        _ADMINS[broker] = AdminClient({"bootstrap.servers": broker})
    return _ADMINS[broker]


def create(broker, name, partitions=1, config=None):
    fs = admin(broker).create_topics([NewTopic(name, partitions, 1, config=config or {})])
    fs[name].result(timeout=15)


def topic_configs(broker, name):
    r = ConfigResource("TOPIC", name)
    return admin(broker).describe_configs([r])[r].result(timeout=15)


def produce(broker, topic, values, conf=None, **kw):
    """Produces values; returns the delivery errors (None for each success)."""
    errors = []
    p = Producer({"bootstrap.servers": broker, **(conf or {})})
    for v in values:
        p.produce(topic, value=v, on_delivery=lambda err, msg: errors.append(err), **kw)
    assert p.flush(30) == 0
    return errors


def consume_all(broker, topic, n, timeout=20.0):
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": f"g-{topic}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    c.close()
    return got


# --- confluent-kafka AdminClient ---------------------------------------------------------------


def test_confluent_describe_topic_configs_lists_every_config(broker, topic_name):
    create(broker, topic_name, config={"retention.ms": "123456"})
    configs = topic_configs(broker, topic_name)
    assert len(configs) == TOPIC_CONFIG_COUNT, sorted(configs)
    r = configs["retention.ms"]
    assert r.value == "123456"
    assert r.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not r.is_default and not r.is_read_only and not r.is_sensitive
    names = [s.name for s in r.synonyms.values()]
    assert names == ["retention.ms", "log.retention.ms"], names
    c = configs["cleanup.policy"]
    assert (c.value, c.source, c.is_default) == ("delete", ConfigSource.DEFAULT_CONFIG.value, True)
    assert configs["max.message.bytes"].value == "1048588"


def test_confluent_broker_configs_are_listed_read_only(broker):
    r = ConfigResource("BROKER", "0")
    a = admin(broker)
    configs = a.describe_configs([r])[r].result(timeout=15)
    assert configs["num.partitions"].value == "1"
    assert configs["num.partitions"].is_read_only
    assert configs["log.retention.ms"].value == "604800000"
    # Set by a flag: reported as the broker's static configuration.
    assert configs["cores"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert configs["message.max.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    bad = ConfigResource("BROKER", "0", incremental_configs=[
        ConfigEntry("num.partitions", "3", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        a.incremental_alter_configs([bad])[bad].result(timeout=15)
    assert e.value.args[0].code() == KafkaError.INVALID_REQUEST


def test_confluent_alter_and_incremental_alter_configs(broker, topic_name):
    create(broker, topic_name, config={"retention.ms": "5000"})
    a = admin(broker)

    def incremental(*entries, validate_only=False):
        r = ConfigResource("TOPIC", topic_name, incremental_configs=[
            ConfigEntry(n, v, incremental_operation=op) for (n, op, v) in entries])
        return a.incremental_alter_configs([r], validate_only=validate_only)[r].result(timeout=15)

    incremental(("segment.ms", AlterConfigOpType.SET, "60000"),
                ("cleanup.policy", AlterConfigOpType.APPEND, "compact"))
    c = topic_configs(broker, topic_name)
    assert c["segment.ms"].value == "60000"
    assert c["retention.ms"].value == "5000", "incremental keeps other overrides"
    assert c["cleanup.policy"].value == "delete,compact"
    incremental(("cleanup.policy", AlterConfigOpType.SUBTRACT, "delete"),
                ("retention.ms", AlterConfigOpType.DELETE, None))
    c = topic_configs(broker, topic_name)
    assert c["cleanup.policy"].value == "compact"
    assert c["retention.ms"].value == "604800000" and c["retention.ms"].is_default

    # validate_only checks and changes nothing.
    incremental(("segment.ms", AlterConfigOpType.SET, "1000"), validate_only=True)
    assert topic_configs(broker, topic_name)["segment.ms"].value == "60000"

    for name, value in [("retention.ms", "soon"), ("no.such.config", "1"),
                        ("cleanup.policy", "shred"), ("min.insync.replicas", "0")]:
        with pytest.raises(KafkaException) as e:
            incremental((name, AlterConfigOpType.SET, value))
        assert e.value.args[0].code() == KafkaError.INVALID_CONFIG, (name, e.value)

    # The legacy AlterConfigs replaces the whole set of overrides.
    r = ConfigResource("TOPIC", topic_name, set_config={"max.message.bytes": "4000"})
    a.alter_configs([r])[r].result(timeout=15)
    c = topic_configs(broker, topic_name)
    assert c["max.message.bytes"].value == "4000"
    assert c["segment.ms"].is_default and c["cleanup.policy"].value == "delete"

    missing = ConfigResource("TOPIC", topic_name + "-missing", incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        a.incremental_alter_configs([missing])[missing].result(timeout=15)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_altered_configs_survive_a_restart(broker_proc, topic_name):
    broker = broker_proc.bootstrap
    create(broker, topic_name)
    r = ConfigResource("TOPIC", topic_name, incremental_configs=[
        ConfigEntry("retention.bytes", "1000000", incremental_operation=AlterConfigOpType.SET)])
    admin(broker).incremental_alter_configs([r])[r].result(timeout=15)
    broker_proc.restart()
    assert topic_configs(broker_proc.bootstrap, topic_name)["retention.bytes"].value == "1000000"


def test_confluent_create_partitions_places_new_partitions(broker, topic_name):
    create(broker, topic_name, partitions=1)
    a = admin(broker)
    a.create_partitions([NewPartitions(topic_name, 4)], validate_only=True)[topic_name].result(15)
    assert len(a.list_topics(timeout=10).topics[topic_name].partitions) == 1
    a.create_partitions([NewPartitions(topic_name, 4)])[topic_name].result(timeout=15)
    assert len(a.list_topics(timeout=10).topics[topic_name].partitions) == 4
    # Every new partition takes records and serves them back.
    errs = []
    p = Producer({"bootstrap.servers": broker})
    for part in range(4):
        p.produce(topic_name, value=f"p{part}".encode(), partition=part,
                  on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(30) == 0 and errs == [None] * 4, errs
    got = consume_all(broker, topic_name, 4)
    assert sorted((m.partition(), m.value()) for m in got) == [
        (i, f"p{i}".encode()) for i in range(4)]
    for count in (4, 2):
        with pytest.raises(KafkaException) as e:
            a.create_partitions([NewPartitions(topic_name, count)])[topic_name].result(15)
        assert e.value.args[0].code() == KafkaError.INVALID_PARTITIONS


def test_confluent_describe_cluster(broker):
    d = admin(broker).describe_cluster().result(timeout=15)
    assert d.cluster_id
    assert d.controller.id == 0
    assert [(n.id, n.host, n.port) for n in d.nodes] == [(0, "127.0.0.1", int(broker.split(":")[1]))]


def test_create_topics_validates_configs(broker, topic_name):
    a = admin(broker)
    fs = a.create_topics([NewTopic(topic_name, 1, 1, config={"segment.ms": "777"})],
                         validate_only=True)
    fs[topic_name].result(timeout=15)
    assert topic_name not in a.list_topics(timeout=10).topics, "validate_only creates nothing"
    fs = a.create_topics([NewTopic(topic_name, 1, 1, config={"retention.ms": "later"})])
    with pytest.raises(KafkaException) as e:
        fs[topic_name].result(timeout=15)
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG


# --- kafka-python KafkaAdminClient -------------------------------------------------------------


def test_kafka_python_admin_configs_partitions_cluster_log_dirs(broker, topic_name):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource as KRes, ConfigResourceType, NewPartitions as KNP
    from kafka.admin import NewTopic as KNewTopic

    ka = KafkaAdminClient(bootstrap_servers=broker)
    try:
        ka.create_topics([KNewTopic(topic_name, 2, 1, topic_configs={"segment.ms": "90000"})])
        res = ka.describe_configs([KRes(ConfigResourceType.TOPIC, topic_name)],
                                  config_filter="all")
        text = repr(res)
        assert "segment.ms" in text and "90000" in text and "cleanup.policy" in text, text
        broker_res = ka.describe_configs([KRes(ConfigResourceType.BROKER, "0")],
                                         config_filter="all")
        assert "num.partitions" in repr(broker_res)

        ka.alter_configs([KRes(ConfigResourceType.TOPIC, topic_name,
                               configs={"retention.ms": "86400000"})])
        assert topic_configs(broker, topic_name)["retention.ms"].value == "86400000"

        ka.create_partitions({topic_name: KNP(total_count=3)})
        assert len(admin(broker).list_topics(timeout=10).topics[topic_name].partitions) == 3

        cluster = ka.describe_cluster()
        assert cluster["controller_id"] == 0, cluster
        assert [b["broker_id"] for b in cluster["brokers"]] == [0], cluster

        assert produce(broker, topic_name, [b"x" * 1000] * 5, partition=0) == [None] * 5
        dirs = ka.describe_log_dirs()
        text = repr(dirs)
        assert topic_name in text, text
    finally:
        ka.close()


# --- topic configs honoured ----------------------------------------------------------------------


def earliest_offset(broker, topic, partition=0):
    c = Consumer({"bootstrap.servers": broker, "group.id": "wm"})
    try:
        low, _high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        return low
    finally:
        c.close()


@pytest.mark.broker_config("log.retention.check.interval.ms = 200\n")
def test_altered_retention_deletes_old_segments_without_restart(broker, topic_name):
    create(broker, topic_name, config={"segment.bytes": "4096"})
    for _ in range(40):  # one batch each, about four per 4 KiB segment
        assert produce(broker, topic_name, [b"r" * 1000]) == [None]
    time.sleep(1.0)
    assert earliest_offset(broker, topic_name) == 0, "default retention keeps everything"
    r = ConfigResource("TOPIC", topic_name, incremental_configs=[
        ConfigEntry("retention.ms", "500", incremental_operation=AlterConfigOpType.SET)])
    admin(broker).incremental_alter_configs([r])[r].result(timeout=15)
    deadline = time.monotonic() + 15
    low = 0
    while time.monotonic() < deadline:
        low = earliest_offset(broker, topic_name)
        if low > 0:
            break
        time.sleep(0.3)
    assert low >= 30, f"log start offset {low}: old segments were not deleted"


def test_log_append_time_topic_stamps_broker_time(broker, topic_name):
    create(broker, topic_name, config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    assert produce(broker, topic_name, [b"a", b"b"], timestamp=1_000) == [None, None]
    after = int(time.time() * 1000)
    got = consume_all(broker, topic_name, 2)
    assert len(got) == 2
    for m in got:
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME, m.timestamp()
        assert before - 1000 <= ts <= after + 1000, (before, ts, after)

    # kafka-python sees the same.
    from kafka import KafkaConsumer
    kc = KafkaConsumer(topic_name, bootstrap_servers=broker, auto_offset_reset="earliest",
                       consumer_timeout_ms=10000)
    recs = [r for _, r in zip(range(2), kc)]
    kc.close()
    assert [r.timestamp_type for r in recs] == [1, 1]
    assert all(before - 1000 <= r.timestamp <= after + 1000 for r in recs)


def test_create_time_topic_keeps_producer_timestamps(broker, topic_name):
    create(broker, topic_name, config={"message.timestamp.before.max.ms": "9223372036854775807"})
    ts = int(time.time() * 1000) - 86_400_000
    assert produce(broker, topic_name, [b"a"], timestamp=ts) == [None]
    [m] = consume_all(broker, topic_name, 1)
    assert m.timestamp() == (TIMESTAMP_CREATE_TIME, ts)


def test_timestamp_bounds_refuse_out_of_range_batches(broker, topic_name):
    create(broker, topic_name, config={"message.timestamp.before.max.ms": "60000",
                                       "message.timestamp.after.max.ms": "60000"})
    now = int(time.time() * 1000)
    conf = {"retries": 0}
    assert produce(broker, topic_name, [b"ok"], conf, timestamp=now) == [None]
    for ts in (now - 3_600_000, now + 3_600_000):
        [err] = produce(broker, topic_name, [b"bad"], conf, timestamp=ts)
        assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP, err


def test_topic_max_message_bytes_overrides_the_broker_limit(broker, topic_name):
    create(broker, topic_name, config={"max.message.bytes": "2000"})
    conf = {"retries": 0, "compression.type": "none"}
    assert produce(broker, topic_name, [b"s" * 500], conf) == [None]
    [err] = produce(broker, topic_name, [b"L" * 5000], conf)
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
    # Raised live: the same record now fits.
    r = ConfigResource("TOPIC", topic_name, incremental_configs=[
        ConfigEntry("max.message.bytes", "100000", incremental_operation=AlterConfigOpType.SET)])
    admin(broker).incremental_alter_configs([r])[r].result(timeout=15)
    assert produce(broker, topic_name, [b"L" * 5000], conf) == [None]


def test_min_insync_replicas_above_one_fails_acks_all(broker, topic_name):
    create(broker, topic_name, config={"min.insync.replicas": "2"})
    [err] = produce(broker, topic_name, [b"x"], {"acks": "all", "retries": 0})
    assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS, err
    assert produce(broker, topic_name, [b"x"], {"acks": 1}) == [None]


def batch_codecs(segment: Path):
    """Codec ids (attribute bits 0-2) of the batches in a segment file."""
    data = segment.read_bytes()
    pos, codecs = 0, []
    while pos + 61 <= len(data):
        (length,) = struct.unpack(">i", data[pos + 8 : pos + 12])
        if length <= 0:
            break
        (attrs,) = struct.unpack(">h", data[pos + 21 : pos + 23])
        codecs.append(attrs & 7)
        pos += 12 + length
    return codecs


def test_compression_type_recompresses_other_codecs(broker_proc, topic_name):
    broker = broker_proc.bootstrap
    create(broker, topic_name, config={"compression.type": "zstd"})
    values = [f"value-{i}-".encode() * 20 for i in range(50)]
    assert produce(broker, topic_name, values, {"compression.type": "none", "linger.ms": 5}) == [None] * 50
    assert produce(broker, topic_name, values[:5], {"compression.type": "gzip"}) == [None] * 5
    got = consume_all(broker, topic_name, 55)
    assert [m.value() for m in got] == values + values[:5]
    assert [m.offset() for m in got] == list(range(55))
    seg = broker_proc.data_dir / f"{topic_name}-0" / ("0" * 20 + ".log")
    codecs = batch_codecs(seg)
    assert codecs and all(c == 4 for c in codecs), codecs


def test_authorized_operations_are_every_supported_operation(broker, topic_name):
    """KIP-430: with no authorizer, Kafka reports every operation a resource type supports when
    the client asks for them."""
    from confluent_kafka.admin import AclOperation
    from confluent_kafka import TopicCollection

    create(broker, topic_name, 1)
    a = admin(broker)
    cluster = a.describe_cluster(include_authorized_operations=True).result(timeout=15)
    assert set(cluster.authorized_operations) == {
        AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER,
        AclOperation.DESCRIBE,
    }
    topics = a.describe_topics(TopicCollection([topic_name]), include_authorized_operations=True)
    t = topics[topic_name].result(timeout=15)
    assert set(t.authorized_operations) == {
        AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE,
        AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    }
    group = f"{topic_name}-g"
    c = Consumer({"bootstrap.servers": broker, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic_name])
    deadline = time.time() + 30
    while not c.assignment() and time.time() < deadline:
        c.poll(0.2)
    try:
        g = a.describe_consumer_groups([group], include_authorized_operations=True)[group]
        g = g.result(timeout=15)
        assert set(g.authorized_operations) == {
            AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE,
        }
        # Not asked for: none reported.
        g = a.describe_consumer_groups([group])[group].result(timeout=15)
        assert not g.authorized_operations
    finally:
        c.close()
