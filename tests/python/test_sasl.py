"""SASL_PLAINTEXT with real clients (confluent-kafka, kafka-python, kcat) against a broker with
a PLAINTEXT and a SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 logins,
produce, group consumption and a transaction over SASL; wrong passwords, plaintext clients on
the SASL port, requests before authentication and a flood of bad handshakes.

The users are made over the PLAINTEXT listener with AlterUserScramCredentials."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from conftest import DEFAULT_BIN, Broker, _free_port, consume_values

USER = "alice"
PASSWORD = "alice-secret"
# How many bad handshakes the flood test sends (tens of thousands with RUNNEL_SASL_FLOOD).
FLOOD = int(os.environ.get("RUNNEL_SASL_FLOOD", "3000"))


class SaslBroker:
    """A broker with PLAINTEXT (the harness's port) and SASL_PLAINTEXT listeners."""

    def __init__(self, proc, sasl_port):
        self.proc = proc
        self.plain = proc.bootstrap
        self.sasl = f"127.0.0.1:{sasl_port}"
        self.sasl_port = sasl_port


@pytest.fixture
def sasl_broker():
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    workdir = Path(tempfile.mkdtemp(prefix="runnel-sasl-"))
    sasl_port = _free_port()
    config = (
        f'listeners = "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:{sasl_port}"\n'
        'sasl.enabled.mechanisms = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"\n'
    )
    proc = Broker(binary, workdir, config)
    try:
        proc.start()
        admin = AdminClient({"bootstrap.servers": proc.bootstrap})
        for mech in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            info = ScramCredentialInfo(mech, 4096)
            futs = admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(USER, info, PASSWORD.encode())]
            )
            for f in futs.values():
                f.result(timeout=20)
        yield SaslBroker(proc, sasl_port)
        proc.assert_alive()
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _sasl_conf(b, mechanism, password=PASSWORD, **extra):
    conf = {
        "bootstrap.servers": b.sasl,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": USER,
        "sasl.password": password,
    }
    conf.update(extra)
    return conf


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_confluent_kafka_produces_and_consumes_over_sasl(sasl_broker, topic_name, mechanism):
    b = sasl_broker
    p = Producer(_sasl_conf(b, mechanism))
    # Metadata answers this broker's SASL endpoint to a client of the SASL listener.
    md = p.list_topics(timeout=20)
    assert [(x.host, x.port) for x in md.brokers.values()] == [("127.0.0.1", b.sasl_port)]
    for i in range(10):
        p.produce(topic_name, value=f"v{i}".encode())
    assert p.flush(20) == 0
    got = consume_values(
        _sasl_conf(b, mechanism, **{"group.id": f"g-{uuid.uuid4().hex[:6]}",
                                    "auto.offset.reset": "earliest"}),
        topic_name,
        10,
    )
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(10))


def test_confluent_kafka_transaction_over_scram(sasl_broker, topic_name):
    b = sasl_broker
    p = Producer(_sasl_conf(b, "SCRAM-SHA-512", **{"transactional.id": "tx-" + topic_name}))
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"committed")
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"aborted")
    p.abort_transaction(30)
    got = consume_values(
        _sasl_conf(b, "SCRAM-SHA-512", **{"group.id": "tx-reader",
                                          "auto.offset.reset": "earliest",
                                          "isolation.level": "read_committed"}),
        topic_name,
        1,
    )
    assert got == [b"committed"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_kafka_python_over_sasl(sasl_broker, topic_name, mechanism):
    from kafka import KafkaConsumer, KafkaProducer

    b = sasl_broker
    common = dict(
        bootstrap_servers=b.sasl,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_plain_username=USER,
        sasl_plain_password=PASSWORD,
    )
    p = KafkaProducer(acks="all", **common)
    for i in range(5):
        p.send(topic_name, value=f"kp{i}".encode())
    p.flush(timeout=20)
    p.close()
    c = KafkaConsumer(topic_name, group_id="kp-group", auto_offset_reset="earliest",
                      consumer_timeout_ms=15000, **common)
    got = sorted(m.value for m in c)
    c.close()
    assert got == sorted(f"kp{i}".encode() for i in range(5))


def test_kcat_over_scram_and_plain(sasl_broker, topic_name):
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (bash .ci/run installs it)")
    b = sasl_broker
    for mechanism in ("SCRAM-SHA-512", "PLAIN"):
        args = ["kcat", "-b", b.sasl, "-X", "security.protocol=SASL_PLAINTEXT",
                "-X", f"sasl.mechanisms={mechanism}", "-X", f"sasl.username={USER}",
                "-X", f"sasl.password={PASSWORD}"]
        subprocess.run(args + ["-P", "-t", topic_name], input=f"{mechanism}\n".encode(),
                       check=True, timeout=30)
    out = subprocess.run(args + ["-C", "-t", topic_name, "-o", "beginning", "-e", "-q"],
                         check=True, timeout=30, capture_output=True)
    assert sorted(out.stdout.decode().split()) == ["PLAIN", "SCRAM-SHA-512"]


def test_wrong_password_fails_quickly_with_an_authentication_error(sasl_broker):
    for mechanism in ("PLAIN", "SCRAM-SHA-512"):
        errors = []
        p = Producer(_sasl_conf(sasl_broker, mechanism, password="wrong",
                                error_cb=lambda e: errors.append(e)))
        start = time.monotonic()
        while not errors and time.monotonic() - start < 10:
            p.poll(0.2)
        assert errors, f"{mechanism}: no error within 10 s"
        assert errors[0].code() == KafkaError._AUTHENTICATION, errors[0]
        assert "SASL_AUTHENTICATION_FAILED" in errors[0].str() or "uthentication" in errors[0].str()


def test_plaintext_client_on_the_sasl_port_fails_cleanly(sasl_broker):
    p = Producer({"bootstrap.servers": sasl_broker.sasl, "socket.timeout.ms": 3000})
    with pytest.raises(KafkaException):
        p.list_topics(timeout=5)
    # The PLAINTEXT listener still serves.
    ok = Producer({"bootstrap.servers": sasl_broker.plain})
    assert ok.list_topics(timeout=10).brokers


def _frame(api_key, version, correlation, body=b"", client_id=b"t"):
    header = struct.pack(">hhih", api_key, version, correlation, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _closed(sock, timeout=5.0):
    """True once the peer closes the connection (reading past any answers)."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_a_request_before_authentication_closes_the_connection(sasl_broker):
    with socket.create_connection(("127.0.0.1", sasl_broker.sasl_port), timeout=5) as s:
        s.sendall(_frame(3, 0, 1, struct.pack(">i", 0)))  # Metadata v0, no topics
        assert _closed(s)
    # A mechanism the listener does not offer: UNSUPPORTED_SASL_MECHANISM (33), then closed.
    with socket.create_connection(("127.0.0.1", sasl_broker.sasl_port), timeout=5) as s:
        mech = b"GSSAPI"
        s.sendall(_frame(17, 1, 2, struct.pack(">h", len(mech)) + mech))
        size = struct.unpack(">i", s.recv(4))[0]
        body = b""
        while len(body) < size:
            body += s.recv(size - len(body))
        correlation, error = struct.unpack(">ih", body[:6])
        assert (correlation, error) == (2, 33)
        assert _closed(s)


def test_a_flood_of_bad_handshakes_leaves_the_broker_healthy(sasl_broker, topic_name):
    b = sasl_broker
    start = time.monotonic()
    for i in range(FLOOD):
        with socket.create_connection(("127.0.0.1", b.sasl_port), timeout=5) as s:
            kind = i % 4
            if kind == 0:  # garbage
                s.sendall(os.urandom(64))
            elif kind == 1:  # a PLAIN login of an unknown user
                mech = b"PLAIN"
                s.sendall(_frame(17, 1, 1, struct.pack(">h", len(mech)) + mech))
                token = b"\0nobody\0pw"
                s.sendall(_frame(36, 1, 2, struct.pack(">i", len(token)) + token))
            elif kind == 2:  # a truncated frame, then nothing
                s.sendall(struct.pack(">i", 1000) + b"\0\x11")
                continue  # closed by our side; the broker's timers close its end
            else:  # an oversized frame size
                s.sendall(struct.pack(">i", 1 << 30))
            _closed(s, timeout=5)
    took = time.monotonic() - start
    print(f"{FLOOD} bad handshakes in {took:.1f} s")
    # Wrong passwords (each costs the broker a PBKDF2) are bounded too.
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", b.sasl_port), timeout=5) as s:
            mech = b"PLAIN"
            s.sendall(_frame(17, 1, 1, struct.pack(">h", len(mech)) + mech))
            token = f"\0{USER}\0wrong".encode()
            s.sendall(_frame(36, 1, 2, struct.pack(">i", len(token)) + token))
            assert _closed(s)
    b.proc.assert_alive()
    # Every one of them reached the broker and was counted as a failed login; none is left
    # open.
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{b.proc.metrics_port}/metrics").read()
    failed = open_now = 0
    for line in text.decode().splitlines():
        if line.startswith("runnel_sasl_authentications_total") and 'result="failed"' in line:
            failed += float(line.split()[-1])
        if line.startswith("runnel_connections_open{"):
            open_now += float(line.split()[-1])
    assert failed >= FLOOD, failed
    assert open_now <= 1, open_now
    # Other clients are unaffected.
    p = Producer(_sasl_conf(b, "SCRAM-SHA-512"))
    p.produce(topic_name, value=b"after the flood")
    assert p.flush(20) == 0


def _read_frame(sock):
    size = struct.unpack(">i", _read_exact(sock, 4))[0]
    return _read_exact(sock, size)


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


def test_v0_handshake_with_raw_tokens(sasl_broker):
    """SaslHandshake v0, then the PLAIN token raw (size-prefixed, no Kafka header), as old
    clients send it; the connection then serves Metadata."""
    with socket.create_connection(("127.0.0.1", sasl_broker.sasl_port), timeout=5) as s:
        mech = b"PLAIN"
        s.sendall(_frame(17, 0, 1, struct.pack(">h", len(mech)) + mech))
        answer = _read_frame(s)
        assert struct.unpack(">ih", answer[:6]) == (1, 0)
        token = f"\0{USER}\0{PASSWORD}".encode()
        s.sendall(struct.pack(">i", len(token)) + token)
        assert _read_exact(s, 4) == b"\0\0\0\0"  # PLAIN's empty server token, raw
        s.sendall(_frame(3, 0, 2, struct.pack(">i", 0)))  # Metadata v0
        answer = _read_frame(s)
        assert struct.unpack(">i", answer[:4])[0] == 2
    # A wrong password in raw form: the connection just closes.
    with socket.create_connection(("127.0.0.1", sasl_broker.sasl_port), timeout=5) as s:
        s.sendall(_frame(17, 0, 1, struct.pack(">h", len(mech)) + mech))
        _read_frame(s)
        token = f"\0{USER}\0wrong".encode()
        s.sendall(struct.pack(">i", len(token)) + token)
        assert _closed(s)
