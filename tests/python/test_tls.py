"""TLS listeners with real clients (confluent-kafka, kafka-python, kcat) and certificates made
here: SSL, SASL_SSL with SCRAM-SHA-512 and PLAIN, and a custom listener requiring client
certificates (mTLS); produce, group consumption and a transaction over TLS; plaintext clients on
TLS ports and TLS clients on the plaintext port fail cleanly; a flood of garbage handshakes
leaves the broker serving."""

import datetime
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import DEFAULT_BIN, Broker, _free_port, consume_values

USER = "alice"
PASSWORD = "alice-secret"
FLOOD = int(os.environ.get("RUNNEL_TLS_FLOOD", "500"))


def _name(**attrs):
    oids = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


def _cert(subject, key, issuer, issuer_key, ca=False, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        import ipaddress

        names = [
            x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit() else x509.DNSName(s)
            for s in sans
        ]
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Pki:
    """A CA, the broker's certificate and a client's, as files in `d`."""

    def __init__(self, d: Path):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert(_name(CN="Runnel test CA"), ca_key, _name(CN="Runnel test CA"), ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        server = _cert(_name(CN="broker"), key, ca.subject, ca_key, sans=("localhost", "127.0.0.1"))
        ckey = ec.generate_private_key(ec.SECP256R1())
        client = _cert(_name(O="Runnel Tests", CN="client-1"), ckey, ca.subject, ca_key)
        self.ca = d / "ca.pem"
        self.ca.write_bytes(_pem(ca))
        self.keystore = d / "broker.pem"
        self.keystore.write_bytes(_pem(key) + _pem(server))
        self.client_cert = d / "client.pem"
        self.client_cert.write_bytes(_pem(client))
        self.client_key = d / "client.key"
        self.client_key.write_bytes(_pem(ckey))


class TlsBroker:
    def __init__(self, proc, pki, ports):
        self.proc = proc
        self.pki = pki
        self.plain = proc.bootstrap
        self.ssl, self.sasl_ssl, self.mtls = (f"127.0.0.1:{p}" for p in ports)


@pytest.fixture(scope="module")
def tls_broker():
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    workdir = Path(tempfile.mkdtemp(prefix="runnel-tls-"))
    pki = Pki(workdir)
    ports = [_free_port() for _ in range(3)]
    config = (
        f'listeners = "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:{ports[0]},'
        f'SASL_SSL://127.0.0.1:{ports[1]},MTLS://127.0.0.1:{ports[2]}"\n'
        'listener.security.protocol.map = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,'
        'MTLS:SSL"\n'
        f'ssl.keystore.location = "{pki.keystore}"\n'
        f'listener.name.mtls.ssl.truststore.location = "{pki.ca}"\n'
        'listener.name.mtls.ssl.client.auth = "required"\n'
    )
    proc = Broker(binary, workdir, config)
    try:
        proc.start()
        admin = AdminClient({"bootstrap.servers": proc.bootstrap})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        for f in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(USER, info, PASSWORD.encode())]
        ).values():
            f.result(timeout=20)
        yield TlsBroker(proc, pki, ports)
        proc.assert_alive()
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _conf(b, where, **extra):
    conf = {"ssl.ca.location": str(b.pki.ca)}
    if where == "ssl":
        conf.update({"bootstrap.servers": b.ssl, "security.protocol": "SSL"})
    elif where == "mtls":
        conf.update(
            {
                "bootstrap.servers": b.mtls,
                "security.protocol": "SSL",
                "ssl.certificate.location": str(b.pki.client_cert),
                "ssl.key.location": str(b.pki.client_key),
            }
        )
    else:
        conf.update(
            {
                "bootstrap.servers": b.sasl_ssl,
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": where,
                "sasl.username": USER,
                "sasl.password": PASSWORD,
            }
        )
    conf.update(extra)
    return conf


@pytest.mark.parametrize("where", ["ssl", "mtls", "SCRAM-SHA-512", "PLAIN"])
def test_confluent_kafka_produces_and_consumes_over_tls(tls_broker, topic_name, where):
    b = tls_broker
    p = Producer(_conf(b, where))
    md = p.list_topics(timeout=20)
    # Metadata answers the endpoint of the listener the client came through.
    port = int(_conf(b, where)["bootstrap.servers"].rsplit(":", 1)[1])
    assert [x.port for x in md.brokers.values()] == [port]
    values = [f"{where}-{i}".encode() * 50 for i in range(20)]
    for v in values:
        p.produce(topic_name, value=v)
    assert p.flush(20) == 0
    got = consume_values(
        _conf(b, where, **{"group.id": "g-" + uuid.uuid4().hex[:6], "auto.offset.reset": "earliest"}),
        topic_name,
        len(values),
    )
    assert sorted(got) == sorted(values)


def test_confluent_kafka_transaction_over_sasl_ssl(tls_broker, topic_name):
    b = tls_broker
    p = Producer(_conf(b, "SCRAM-SHA-512", **{"transactional.id": "tx-" + topic_name}))
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"committed")
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"aborted")
    p.abort_transaction(30)
    got = consume_values(
        _conf(b, "SCRAM-SHA-512", **{"group.id": "tx-reader", "auto.offset.reset": "earliest",
                                     "isolation.level": "read_committed"}),
        topic_name,
        1,
    )
    assert got == [b"committed"]


def test_kafka_python_over_ssl_and_sasl_ssl(tls_broker, topic_name):
    from kafka import KafkaConsumer, KafkaProducer

    b = tls_broker
    for kind in ("ssl", "sasl"):
        common = dict(ssl_cafile=str(b.pki.ca), ssl_check_hostname=True)
        if kind == "ssl":
            common.update(bootstrap_servers=b.ssl, security_protocol="SSL")
        else:
            common.update(
                bootstrap_servers=b.sasl_ssl,
                security_protocol="SASL_SSL",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=USER,
                sasl_plain_password=PASSWORD,
            )
        p = KafkaProducer(acks="all", **common)
        for i in range(5):
            p.send(topic_name, value=f"{kind}{i}".encode())
        p.flush(timeout=20)
        p.close()
        c = KafkaConsumer(topic_name, group_id=f"kp-{kind}", auto_offset_reset="earliest",
                          **common)
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=1000).values():
                got += [r.value for r in records if r.value.startswith(kind.encode())]
        c.close()
        assert sorted(got) == sorted(f"{kind}{i}".encode() for i in range(5))


def test_kcat_over_ssl_and_mtls(tls_broker, topic_name):
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (bash .ci/run installs it)")
    b = tls_broker
    ssl = ["kcat", "-b", b.ssl, "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={b.pki.ca}"]
    mtls = ["kcat", "-b", b.mtls, "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={b.pki.ca}",
            "-X", f"ssl.certificate.location={b.pki.client_cert}",
            "-X", f"ssl.key.location={b.pki.client_key}"]
    subprocess.run(ssl + ["-P", "-t", topic_name], input=b"one\n", check=True, timeout=30)
    subprocess.run(mtls + ["-P", "-t", topic_name], input=b"two\n", check=True, timeout=30)
    out = subprocess.run(ssl + ["-C", "-t", topic_name, "-o", "beginning", "-e", "-q"],
                         check=True, timeout=30, capture_output=True)
    assert sorted(out.stdout.decode().split()) == ["one", "two"]


def test_wrong_sides_fail_cleanly(tls_broker):
    b = tls_broker
    # mTLS without a client certificate.
    no_cert = Producer(_conf(b, "ssl", **{"bootstrap.servers": b.mtls, "socket.timeout.ms": 3000}))
    with pytest.raises(KafkaException):
        no_cert.list_topics(timeout=5)
    # A plaintext client on a TLS port, a TLS client on the plaintext port.
    for conf in (
        {"bootstrap.servers": b.ssl, "socket.timeout.ms": 3000},
        _conf(b, "ssl", **{"bootstrap.servers": b.plain, "socket.timeout.ms": 3000}),
    ):
        with pytest.raises(KafkaException):
            Producer(conf).list_topics(timeout=5)
    # Everything still serves.
    assert Producer({"bootstrap.servers": b.plain}).list_topics(timeout=10).brokers
    assert Producer(_conf(b, "ssl")).list_topics(timeout=10).brokers


def test_a_flood_of_garbage_handshakes_leaves_the_broker_serving(tls_broker):
    b = tls_broker
    host, port = b.ssl.rsplit(":", 1)
    deadline = time.monotonic() + 120
    for i in range(FLOOD):
        assert time.monotonic() < deadline, f"flood stalled at {i}"
        with socket.create_connection((host, int(port)), timeout=5) as s:
            if i % 3 == 0:
                s.sendall(b"\x16\x03\x01\x00\x05hello")  # a truncated ClientHello
            elif i % 3 == 1:
                s.sendall(os.urandom(64 + i % 512))
            else:
                s.sendall(b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00")
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
    b.proc.assert_alive()
    assert Producer(_conf(b, "ssl")).list_topics(timeout=10).brokers
    text = (
        subprocess.run(
            ["curl", "-s", f"http://127.0.0.1:{b.proc.metrics_port}/metrics"],
            capture_output=True,
            timeout=10,
        ).stdout.decode()
    )
    failed = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("runnel_tls_handshakes_total") and 'result="failed"' in line
    )
    assert failed >= FLOOD, text[-2000:]


def test_acls_tell_mtls_and_sasl_ssl_principals_apart(tmp_path):
    """With an authorizer: the mTLS client is `User:CN=client-1,O=Runnel Tests` (its subject
    in RFC 2253 form) and the SASL_SSL client `User:alice`; each may write only where an ACL
    lets it."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        NewTopic,
        ResourcePatternType,
        ResourceType,
    )

    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    pki = Pki(tmp_path)
    ports = [_free_port() for _ in range(2)]
    config = (
        f'listeners = "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:{ports[0]},'
        f'MTLS://127.0.0.1:{ports[1]}"\n'
        'listener.security.protocol.map = "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL"\n'
        f'ssl.keystore.location = "{pki.keystore}"\n'
        f'listener.name.mtls.ssl.truststore.location = "{pki.ca}"\n'
        'listener.name.mtls.ssl.client.auth = "required"\n'
        'authorizer.class.name = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"\n'
        'super.users = "User:ANONYMOUS"\n'
    )
    proc = Broker(binary, tmp_path, config)
    try:
        proc.start()
        admin = AdminClient({"bootstrap.servers": proc.bootstrap})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        for f in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(USER, info, PASSWORD.encode())]
        ).values():
            f.result(timeout=20)
        for f in admin.create_topics(
            [NewTopic(t, 1) for t in ("for-cert", "for-alice", "for-nobody")]
        ).values():
            f.result(timeout=20)
        grants = [
            ("User:CN=client-1,O=Runnel Tests", "for-cert"),
            (f"User:{USER}", "for-alice"),
        ]
        bindings = [
            AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                       AclOperation.WRITE, AclPermissionType.ALLOW)
            for principal, topic in grants
        ]
        for f in admin.create_acls(bindings).values():
            f.result(timeout=20)
        b = TlsBroker(proc, pki, [ports[0], ports[0], ports[1]])
        for where, mine, other in (("mtls", "for-cert", "for-alice"),
                                   ("SCRAM-SHA-512", "for-alice", "for-cert")):
            outcomes = {}

            def report(err, msg, outcomes=outcomes):
                outcomes[msg.topic()] = err

            p = Producer(_conf(b, where, **{"message.timeout.ms": 10000, "retries": 0}))
            for topic in (mine, other, "for-nobody"):
                p.produce(topic, value=b"x", on_delivery=report)
            p.flush(20)
            assert outcomes[mine] is None, (where, outcomes)
            for topic in (other, "for-nobody"):
                assert outcomes[topic] is not None, (where, topic, outcomes)
                assert outcomes[topic].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, outcomes
        proc.assert_alive()
    finally:
        proc.stop()


def test_principal_mapping_rules_name_the_mtls_user(tmp_path):
    """`ssl.principal.mapping.rules` turns the client certificate's subject
    (`CN=client-1,O=Runnel Tests`) into `User:CLIENT-1` by its first matching rule; an ACL
    for that name lets the client write, and a certificate no rule applies to is refused."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        NewTopic,
        ResourcePatternType,
        ResourceType,
    )

    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    pki = Pki(tmp_path)
    ports = [_free_port() for _ in range(2)]

    def start(rules):
        d = tmp_path / f"broker-{len(list(tmp_path.glob('broker-*')))}"
        d.mkdir()
        config = (
            f'listeners = "PLAINTEXT://127.0.0.1:9092,MTLS://127.0.0.1:{ports[0]}"\n'
            'listener.security.protocol.map = "PLAINTEXT:PLAINTEXT,MTLS:SSL"\n'
            f'ssl.keystore.location = "{pki.keystore}"\n'
            f'listener.name.mtls.ssl.truststore.location = "{pki.ca}"\n'
            'listener.name.mtls.ssl.client.auth = "required"\n'
            f"listener.name.mtls.ssl.principal.mapping.rules = '{rules}'\n"
            'authorizer.class.name = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"\n'
            'super.users = "User:ANONYMOUS"\n'
        )
        proc = Broker(binary, d, config)
        proc.start()
        return proc

    proc = start(r"RULE:^CN=nobody.*$/x/,RULE:^CN=([^,]*)\,O=Runnel Tests$/$1/U,DEFAULT")
    try:
        admin = AdminClient({"bootstrap.servers": proc.bootstrap})
        for f in admin.create_topics([NewTopic(t, 1) for t in ("mapped", "other")]).values():
            f.result(timeout=20)
        acl = AclBinding(ResourceType.TOPIC, "mapped", ResourcePatternType.LITERAL,
                         "User:CLIENT-1", "*", AclOperation.WRITE, AclPermissionType.ALLOW)
        for f in admin.create_acls([acl]).values():
            f.result(timeout=20)
        b = TlsBroker(proc, pki, [ports[0], ports[0], ports[0]])
        outcomes = {}
        p = Producer(_conf(b, "mtls", **{"message.timeout.ms": 10000, "retries": 0}))
        for topic in ("mapped", "other"):
            p.produce(topic, value=b"x",
                      on_delivery=lambda err, msg: outcomes.__setitem__(msg.topic(), err))
        p.flush(20)
        assert outcomes["mapped"] is None, outcomes
        assert outcomes["other"].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, outcomes
        proc.assert_alive()
    finally:
        proc.stop()
    # No rule applies to the client's subject: its connection is refused.
    proc = start(r"RULE:^CN=nobody.*$/x/")
    try:
        b = TlsBroker(proc, pki, [ports[0], ports[0], ports[0]])
        errors = []
        p = Producer(_conf(b, "mtls", **{"message.timeout.ms": 5000, "retries": 0,
                                         "error_cb": errors.append}))
        delivered = []
        p.produce("mapped", value=b"x", on_delivery=lambda err, msg: delivered.append(err))
        p.flush(15)
        assert delivered and delivered[0] is not None, delivered
        assert "no ssl.principal.mapping.rules rule applies" in proc.log_path.read_text()
        proc.assert_alive()
    finally:
        proc.stop()
