"""Brokers that authenticate to each other: three brokers whose inter-broker listener is
SASL_SSL (SCRAM-SHA-512 over TLS, certificates made here), with an authorizer on and only
`User:broker` a super user (`User:ANONYMOUS` is not). Each broker creates its own inter-broker
credential in the cluster metadata (the test logs in with it), and a transaction that spans
partitions on all three brokers commits: its markers reach the other brokers' partitions only
through the inter-broker client, over TLS, logged in as `User:broker` (CLUSTER_ACTION). A
read_committed consumer seeing the records proves the markers were written."""

import concurrent.futures
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from conftest import DEFAULT_BIN, Broker, _free_port
from test_cluster import cluster_config, until
from test_tls import Pki

BROKER_USER = "broker"
BROKER_PASSWORD = "broker-secret"
APP = "app"
APP_PASSWORD = "app-secret"


def secure_config(n, ctl, internal, pki):
    text = cluster_config(n, ctl)
    lines = [l for l in text.splitlines() if not l.startswith("listeners")]
    lines += [
        f'listeners = "PLAINTEXT://127.0.0.1:{19092 + n},INTERNAL://127.0.0.1:{internal[n - 1]},'
        f'CONTROLLER://127.0.0.1:{ctl[n - 1]}"',
        'listener.security.protocol.map = "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,'
        'CONTROLLER:PLAINTEXT"',
        'inter.broker.listener.name = "INTERNAL"',
        'listener.name.internal.sasl.enabled.mechanisms = "SCRAM-SHA-512"',
        'sasl.mechanism.inter.broker.protocol = "SCRAM-SHA-512"',
        "listener.name.internal.scram-sha-512.sasl.jaas.config = "
        "'org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" password="{BROKER_PASSWORD}";\'',
        f'ssl.keystore.location = "{pki.keystore}"',
        f'ssl.truststore.location = "{pki.ca}"',
        'authorizer.class.name = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"',
        f'super.users = "User:{BROKER_USER}"',
    ]
    return "\n".join(lines) + "\n"


def internal_conf(bootstrap, pki, user, password, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(pki.ca),
    }
    conf.update(extra)
    return conf


def test_brokers_log_in_to_each_other_over_sasl_ssl(tmp_path):
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    pki = Pki(tmp_path)
    ctl = [_free_port() for _ in range(3)]
    internal = [_free_port() for _ in range(3)]
    workdirs = [Path(tempfile.mkdtemp(prefix="runnel-ibsec-")) for _ in range(3)]
    brokers = [
        Broker(binary, w, secure_config(n + 1, ctl, internal, pki))
        for n, w in enumerate(workdirs)
    ]
    try:
        with concurrent.futures.ThreadPoolExecutor(len(brokers)) as pool:
            list(pool.map(lambda b: b.start(), brokers))
        boot = f"127.0.0.1:{internal[0]}"
        # The brokers stored their own credential: the test logs in with it (a super user).
        admin = AdminClient(internal_conf(boot, pki, BROKER_USER, BROKER_PASSWORD))
        until(
            "three live brokers seen over SASL_SSL",
            lambda: len(admin.describe_cluster(request_timeout=5).result(timeout=10).nodes) == 3,
        )
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        for f in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(APP, info, APP_PASSWORD.encode())]
        ).values():
            f.result(timeout=20)
        topic = f"ib-{uuid.uuid4().hex[:8]}"
        txn_id = f"ib-txn-{uuid.uuid4().hex[:8]}"
        group = f"ib-group-{uuid.uuid4().hex[:8]}"
        for f in admin.create_topics([NewTopic(topic, 6, 1)]).values():
            f.result(timeout=20)
        app = f"User:{APP}"
        grants = [
            (ResourceType.TOPIC, topic, AclOperation.WRITE),
            (ResourceType.TOPIC, topic, AclOperation.READ),
            (ResourceType.TRANSACTIONAL_ID, txn_id, AclOperation.WRITE),
            (ResourceType.GROUP, group, AclOperation.READ),
        ]
        for f in admin.create_acls(
            [
                AclBinding(rt, name, ResourcePatternType.LITERAL, app, "*", op,
                           AclPermissionType.ALLOW)
                for rt, name, op in grants
            ]
        ).values():
            f.result(timeout=20)

        # The six partitions are led by all three brokers.
        def leaders():
            md = admin.list_topics(topic, timeout=10).topics[topic]
            ids = {p.leader for p in md.partitions.values()}
            return len(md.partitions) == 6 and ids == {1, 2, 3}

        until("partitions led by every broker", leaders)

        p = Producer(internal_conf(boot, pki, APP, APP_PASSWORD, **{"transactional.id": txn_id}))
        p.init_transactions(30)
        p.begin_transaction()
        for i in range(60):
            p.produce(topic, value=f"v{i}".encode(), partition=i % 6)
        p.commit_transaction(30)

        c = Consumer(
            internal_conf(
                boot,
                pki,
                APP,
                APP_PASSWORD,
                **{
                    "group.id": group,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                },
            )
        )
        c.subscribe([topic])
        got = []
        end = time.monotonic() + 40
        while len(got) < 60 and time.monotonic() < end:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            got.append((m.partition(), m.value().decode()))
        c.close()
        assert len(got) == 60, got
        for part in range(6):
            values = [v for q, v in got if q == part]
            assert values == [f"v{i}" for i in range(part, 60, 6)], part
        for b in brokers:
            b.assert_alive()
            log = b.log_path.read_text(errors="replace")
            assert "SASL login to the peer failed" not in log
            assert "TLS with the peer failed" not in log
    finally:
        for b in brokers:
            b.stop()
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)
