"""Brokers that authenticate to each other: three brokers whose inter-broker listener is
SASL_SSL (SCRAM-SHA-512 over TLS) or SSL with client certificates (mTLS), certificates made
here, with an authorizer on and only the brokers' principal a super user (`User:ANONYMOUS` is
not). With SCRAM each broker creates its own inter-broker credential in the cluster metadata
(the test logs in with it). A transaction that spans partitions on all three brokers commits:
its markers reach the other brokers' partitions only through the inter-broker client, over
TLS, as the brokers' principal (CLUSTER_ACTION). A read_committed consumer seeing the records
proves the markers were written."""

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


# The principals of the broker's and the client's certificates (tests/python/test_tls.py).
BROKER_CERT = "User:CN=broker"
APP_CERT = "User:CN=client-1,O=Runnel Tests"


def secure_config(n, ctl, internal, pki, protocol):
    text = cluster_config(n, ctl)
    lines = [l for l in text.splitlines() if not l.startswith("listeners")]
    lines += [
        f'listeners = "PLAINTEXT://127.0.0.1:{19092 + n},INTERNAL://127.0.0.1:{internal[n - 1]},'
        f'CONTROLLER://127.0.0.1:{ctl[n - 1]}"',
        f'listener.security.protocol.map = "PLAINTEXT:PLAINTEXT,INTERNAL:{protocol},'
        'CONTROLLER:PLAINTEXT"',
        'inter.broker.listener.name = "INTERNAL"',
        f'ssl.keystore.location = "{pki.keystore}"',
        f'ssl.truststore.location = "{pki.ca}"',
        'authorizer.class.name = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"',
    ]
    if protocol == "SASL_SSL":
        lines += [
            'listener.name.internal.sasl.enabled.mechanisms = "SCRAM-SHA-512"',
            'sasl.mechanism.inter.broker.protocol = "SCRAM-SHA-512"',
            "listener.name.internal.scram-sha-512.sasl.jaas.config = "
            "'org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{BROKER_PASSWORD}";\'',
            f'super.users = "User:{BROKER_USER}"',
        ]
    else:
        lines += [
            'listener.name.internal.ssl.client.auth = "required"',
            f'super.users = "{BROKER_CERT}"',
        ]
    return "\n".join(lines) + "\n"


def internal_conf(bootstrap, pki, who, **extra):
    """A client of the INTERNAL listener: `who` is "broker" or "app" (SCRAM user, or the
    broker's / the client's certificate over mTLS)."""
    conf = {"bootstrap.servers": bootstrap, "ssl.ca.location": str(pki.ca)}
    if pki.protocol == "SASL_SSL":
        user, password = (
            (BROKER_USER, BROKER_PASSWORD) if who == "broker" else (APP, APP_PASSWORD)
        )
        conf.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": user,
                "sasl.password": password,
            }
        )
    else:
        cert, key = (
            (pki.keystore, pki.keystore) if who == "broker" else (pki.client_cert, pki.client_key)
        )
        conf.update(
            {
                "security.protocol": "SSL",
                "ssl.certificate.location": str(cert),
                "ssl.key.location": str(key),
            }
        )
    conf.update(extra)
    return conf


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SSL"])
def test_brokers_authenticate_to_each_other(tmp_path, protocol):
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    pki = Pki(tmp_path)
    pki.protocol = protocol
    ctl = [_free_port() for _ in range(3)]
    internal = [_free_port() for _ in range(3)]
    workdirs = [Path(tempfile.mkdtemp(prefix="runnel-ibsec-")) for _ in range(3)]
    brokers = [
        Broker(binary, w, secure_config(n + 1, ctl, internal, pki, protocol))
        for n, w in enumerate(workdirs)
    ]
    try:
        with concurrent.futures.ThreadPoolExecutor(len(brokers)) as pool:
            list(pool.map(lambda b: b.start(), brokers))
        boot = f"127.0.0.1:{internal[0]}"
        # With SCRAM the brokers stored their own credential: the test logs in with it (a super
        # user); over mTLS it presents the brokers' certificate.
        admin = AdminClient(internal_conf(boot, pki, "broker"))
        until(
            "three live brokers seen over SASL_SSL",
            lambda: len(admin.describe_cluster(request_timeout=5).result(timeout=10).nodes) == 3,
        )
        if protocol == "SASL_SSL":
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
        app = f"User:{APP}" if protocol == "SASL_SSL" else APP_CERT
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

        # Replication over the same listener: acks=all on a topic that needs all three
        # replicas in sync is answered only once the followers fetched the records, which
        # they do over TLS (and SASL), logged in as the brokers' principal.
        rf3 = f"ib-rf3-{uuid.uuid4().hex[:8]}"
        for f in admin.create_topics(
            [NewTopic(rf3, 1, 3, config={"min.insync.replicas": "3"})]
        ).values():
            f.result(timeout=20)
        acked = []
        rp = Producer(internal_conf(boot, pki, "broker", **{"acks": "all",
                                                             "message.timeout.ms": 20000}))
        for i in range(20):
            rp.produce(rf3, value=f"r{i}".encode(),
                       on_delivery=lambda err, msg: acked.append(err))
        rp.flush(30)
        assert len(acked) == 20 and all(e is None for e in acked), acked

        p = Producer(internal_conf(boot, pki, "app", **{"transactional.id": txn_id}))
        p.init_transactions(30)
        p.begin_transaction()
        for i in range(60):
            p.produce(topic, value=f"v{i}".encode(), partition=i % 6)
        p.commit_transaction(30)

        c = Consumer(
            internal_conf(
                boot,
                pki,
                "app",
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
            assert "cannot open an inter-broker connection" not in log
    finally:
        for b in brokers:
            b.stop()
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)
