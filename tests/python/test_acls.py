"""ACLs with real clients (issue 22): confluent-kafka's and kafka-python's admin clients create,
describe and delete ACLs; librdkafka producers and consumers are refused or served by them.
Every client is User:ANONYMOUS on a PLAINTEXT listener, so the ACLs name User:ANONYMOUS, User:*
and hosts. A broker starts with User:ANONYMOUS as a super user to create the ACLs, then restarts
without it, so that they apply; they survive every restart."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

AUTHORIZER = 'authorizer.class.name = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"\n'
AS_SUPER = AUTHORIZER + 'super.users = "User:admin;User:ANONYMOUS"\n'
AS_ANONYMOUS = AUTHORIZER + 'super.users = "User:admin"\n'
ANON = "User:ANONYMOUS"

ALL_ACLS = AclBindingFilter(
    ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
    AclOperation.ANY, AclPermissionType.ANY,
)


def reconfigure(broker_proc, text):
    broker_proc.config_path.write_text(text)
    broker_proc.restart()


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def allow(rt, name, op, principal=ANON, pattern=ResourcePatternType.LITERAL, host="*"):
    return AclBinding(rt, name, pattern, principal, host, op, AclPermissionType.ALLOW)


def deny(rt, name, op, principal=ANON, pattern=ResourcePatternType.LITERAL, host="*"):
    return AclBinding(rt, name, pattern, principal, host, op, AclPermissionType.DENY)


def create_acls(a, bindings):
    for f in a.create_acls(bindings).values():
        f.result(timeout=15)


def describe(a, flt=ALL_ACLS):
    return a.describe_acls(flt).result(timeout=15)


def until(what, check, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def produce_one(bootstrap, topic):
    """The delivery error of one record (None when it was written)."""
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000})
    result = []
    try:
        p.produce(topic, value=b"v", on_delivery=lambda err, msg: result.append(err))
    except KafkaException as e:
        # librdkafka refuses at once when its metadata already says the topic is not
        # authorized (a race with its first metadata answer): the same outcome.
        return e.args[0]
    p.flush(20)
    assert result, "no delivery report"
    return result[0]


def consume_error(bootstrap, topic, group, timeout=20.0):
    """The first error a group consumer of `topic` gets, or the first message it reads."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            return m.error() if m.error() else m
        return None
    finally:
        c.close()


@pytest.mark.broker_config(AS_SUPER)
def test_acls_allow_deny_hide_and_survive_restarts(broker_proc):
    bootstrap = broker_proc.bootstrap
    a = admin(bootstrap)
    tag = uuid.uuid4().hex[:6]
    open_t, closed_t, denied_t = f"open-{tag}", f"closed-{tag}", f"denied-{tag}"
    fin_t = f"fin-{tag}-ledger"
    for f in a.create_topics([NewTopic(t, 1, 1) for t in (open_t, closed_t, denied_t, fin_t)]).values():
        f.result(timeout=15)
    bindings = [
        allow(ResourceType.TOPIC, open_t, AclOperation.WRITE),
        allow(ResourceType.TOPIC, open_t, AclOperation.READ, principal="User:*"),
        allow(ResourceType.TOPIC, f"fin-{tag}", AclOperation.ALL, pattern=ResourcePatternType.PREFIXED),
        allow(ResourceType.GROUP, f"ok-{tag}", AclOperation.READ),
        allow(ResourceType.TOPIC, denied_t, AclOperation.WRITE, principal="User:*"),
        deny(ResourceType.TOPIC, denied_t, AclOperation.WRITE, host="127.0.0.1"),
        allow(ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE),
    ]
    create_acls(a, bindings)
    # Creating the same binding again is not an error and adds nothing.
    create_acls(a, bindings[:1])
    got = until("the ACLs", lambda: len(describe(a)) == len(bindings) and describe(a))
    assert set(got) == set(bindings)
    # A MATCH filter finds the bindings that apply to one resource: literal and prefixed.
    match = AclBindingFilter(
        ResourceType.TOPIC, fin_t, ResourcePatternType.MATCH, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    assert [b.name for b in describe(a, match)] == [f"fin-{tag}"]

    # Without the super user, the ACLs apply.
    reconfigure(broker_proc, AS_ANONYMOUS)
    a = admin(bootstrap)
    assert set(until("the ACLs after a restart", lambda: describe(a))) == set(bindings)
    assert produce_one(bootstrap, open_t) is None
    assert produce_one(bootstrap, fin_t) is None, "prefixed ALLOW ALL"
    err = produce_one(bootstrap, closed_t)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    err = produce_one(bootstrap, denied_t)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (
        "DENY beats ALLOW", err)
    # Metadata lists only what may be described (WRITE implies DESCRIBE; a DENY of WRITE does
    # not deny DESCRIBE).
    topics = set(a.list_topics(timeout=15).topics)
    assert {open_t, fin_t, denied_t} <= topics
    assert closed_t not in topics
    # A group without READ: GROUP_AUTHORIZATION_FAILED; with it, the records.
    err = consume_error(bootstrap, open_t, f"bad-{tag}")
    assert isinstance(err, KafkaError) and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, err
    m = consume_error(bootstrap, open_t, f"ok-{tag}")
    assert m is not None and not isinstance(m, KafkaError) and m.value() == b"v", m
    # DESCRIBE on the cluster lets ACLs be read, not changed.
    with pytest.raises(KafkaException) as e:
        create_acls(a, [allow(ResourceType.TOPIC, closed_t, AclOperation.WRITE)])
    assert e.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED

    # Back as super user: delete by filter; what is left survives another restart.
    reconfigure(broker_proc, AS_SUPER)
    a = admin(bootstrap)
    until("the ACLs after the second restart", lambda: len(describe(a)) == len(bindings))
    by_topic = AclBindingFilter(
        ResourceType.TOPIC, None, ResourcePatternType.ANY, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    deleted = a.delete_acls([by_topic])[by_topic].result(timeout=15)
    assert set(deleted) == {b for b in bindings if b.restype == ResourceType.TOPIC}
    left = {b for b in bindings if b.restype != ResourceType.TOPIC}
    until("the deletions", lambda: set(describe(a)) == left)
    reconfigure(broker_proc, AS_ANONYMOUS)
    a = admin(bootstrap)
    assert set(until("the ACLs after the last restart", lambda: describe(a))) == left
    err = produce_one(bootstrap, open_t)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err


@pytest.mark.broker_config(AS_SUPER)
def test_invalid_bindings_are_invalid_request(broker):
    a = admin(broker)
    bad = AclBinding(
        ResourceType.BROKER, "not-the-cluster", ResourcePatternType.LITERAL, ANON, "*",
        AclOperation.ALTER, AclPermissionType.ALLOW,
    )
    good = allow(ResourceType.TOPIC, "t", AclOperation.READ)
    results = a.create_acls([bad, good])
    with pytest.raises(KafkaException) as e:
        results[bad].result(timeout=15)
    assert e.value.args[0].code() == KafkaError.INVALID_REQUEST
    results[good].result(timeout=15)
    assert until("the valid ACL", lambda: describe(a)) == [good]


def test_acl_requests_without_an_authorizer_are_security_disabled(broker, topic_name):
    a = admin(broker)
    with pytest.raises(KafkaException) as e:
        create_acls(a, [allow(ResourceType.TOPIC, topic_name, AclOperation.READ)])
    assert e.value.args[0].code() == KafkaError.SECURITY_DISABLED
    # librdkafka does not surface DescribeAcls' top-level error; kafka-python does.
    from kafka.admin import (
        ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
        KafkaAdminClient, ResourcePatternFilter,
    )
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import SecurityDisabledError

    kp = KafkaAdminClient(bootstrap_servers=broker)
    try:
        with pytest.raises(SecurityDisabledError):
            kp.describe_acls(ACLFilter(
                principal=None, host=None, operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(
                    KpResourceType.ANY, None, ACLResourcePatternType.ANY),
            ))
    finally:
        kp.close()
    # And everything is allowed, as before.
    assert produce_one(broker, topic_name) is None


@pytest.mark.broker_config(AS_SUPER)
def test_kafka_python_admin_acls(broker):
    from kafka.admin import (
        ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
        KafkaAdminClient, ResourcePattern, ResourcePatternFilter,
    )
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import NoError

    a = KafkaAdminClient(bootstrap_servers=broker)
    try:
        acl = ACL(
            principal="User:*", host="*", operation=ACLOperation.READ,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                KpResourceType.GROUP, "readers-", ACLResourcePatternType.PREFIXED),
        )
        created = a.create_acls([acl])
        assert not created["failed"], created
        flt = ACLFilter(
            principal=None, host=None, operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(
                KpResourceType.GROUP, None, ACLResourcePatternType.ANY),
        )

        def found():
            acls, err = a.describe_acls(flt)
            return acls

        acls = until("the ACL", found)
        assert len(acls) == 1 and acls[0].resource_pattern.resource_name == "readers-"
        deleted = a.delete_acls([flt])
        (_, matches, err), = deleted
        assert err is NoError and len(matches) == 1, deleted
        deadline = time.time() + 15
        while found() and time.time() < deadline:
            time.sleep(0.2)
        assert not found()
    finally:
        a.close()


@pytest.mark.broker_config(AS_SUPER)
def test_transactions_need_write_on_the_transactional_id(broker_proc):
    bootstrap = broker_proc.bootstrap
    a = admin(bootstrap)
    tag = uuid.uuid4().hex[:6]
    topic = f"tx-{tag}"
    for f in a.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(timeout=15)
    create_acls(a, [
        allow(ResourceType.TOPIC, topic, AclOperation.WRITE),
        allow(ResourceType.TRANSACTIONAL_ID, f"app-{tag}-", AclOperation.WRITE,
              pattern=ResourcePatternType.PREFIXED),
    ])
    until("the ACLs", lambda: len(describe(a)) == 2)
    reconfigure(broker_proc, AS_ANONYMOUS)

    ok = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"app-{tag}-1"})
    ok.init_transactions(20)
    ok.begin_transaction()
    ok.produce(topic, value=b"in a transaction")
    ok.commit_transaction(20)

    refused = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"other-{tag}"})
    with pytest.raises(KafkaException) as e:
        refused.init_transactions(20)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e.value

    # An idempotent producer needs WRITE on some topic (it has it) or IDEMPOTENT_WRITE.
    idem = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "message.timeout.ms": 10000})
    result = []
    idem.produce(topic, value=b"idempotent", on_delivery=lambda err, msg: result.append(err))
    idem.flush(20)
    assert result == [None], result


@pytest.mark.broker_config(AS_SUPER)
def test_auto_create_needs_create_and_configs_need_describe_configs(broker_proc):
    from confluent_kafka.admin import ConfigResource

    bootstrap = broker_proc.bootstrap
    a = admin(bootstrap)
    tag = uuid.uuid4().hex[:6]
    create_acls(a, [
        # May write (so describe) "mk-*" topics and create them; "no-*" only write.
        allow(ResourceType.TOPIC, f"mk-{tag}", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED),
        allow(ResourceType.TOPIC, f"mk-{tag}", AclOperation.CREATE, pattern=ResourcePatternType.PREFIXED),
        allow(ResourceType.TOPIC, f"no-{tag}", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED),
        allow(ResourceType.TOPIC, f"mk-{tag}", AclOperation.ALTER_CONFIGS, pattern=ResourcePatternType.PREFIXED),
    ])
    until("the ACLs", lambda: len(describe(a)) == 4)
    reconfigure(broker_proc, AS_ANONYMOUS)
    a = admin(bootstrap)

    assert produce_one(bootstrap, f"mk-{tag}-1") is None, "auto-created with CREATE"
    err = produce_one(bootstrap, f"no-{tag}-1")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    # Super user view: only the topic with CREATE exists.
    reconfigure(broker_proc, AS_SUPER)
    topics = set(admin(bootstrap).list_topics(timeout=15).topics)
    assert f"mk-{tag}-1" in topics and f"no-{tag}-1" not in topics
    reconfigure(broker_proc, AS_ANONYMOUS)
    a = admin(bootstrap)

    # ALTER_CONFIGS implies DESCRIBE_CONFIGS; nothing implies it on another topic.
    ok = ConfigResource(ConfigResource.Type.TOPIC, f"mk-{tag}-1")
    configs = a.describe_configs([ok])[ok].result(timeout=15)
    assert "retention.ms" in configs
    broker_res = ConfigResource(ConfigResource.Type.BROKER, "0")
    with pytest.raises(KafkaException) as e:
        a.describe_configs([broker_res])[broker_res].result(timeout=15)
    assert e.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED, e.value
