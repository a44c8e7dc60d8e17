"""KIP-368 re-authentication (connections.max.reauth.ms) on a SASL_PLAINTEXT listener.

The broker's global connections.max.reauth.ms stays 0 (off); the SASL listener gets 2000 ms
with listener.name.sasl_plaintext.connections.max.reauth.ms, so the per-listener override is
what turns it on. A confluent-kafka producer (SCRAM-SHA-512) and consumer group (PLAIN)
work across several session lifetimes, re-authenticating on their connections; hand-written
frames check the protocol edges: the lifetime in SaslAuthenticate, a request after expiry
closing the connection unanswered, a re-login with requests in flight, and the refusals
(another user, a wrong password, another mechanism, a deleted credential).

The users are made over the PLAINTEXT listener with AlterUserScramCredentials."""

import os
import shutil
import socket
import struct
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, libversion
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from conftest import DEFAULT_BIN, Broker, _free_port

LIFETIME_MS = 2000
USERS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


class ReauthBroker:
    def __init__(self, proc, sasl_port):
        self.proc = proc
        self.plain = proc.bootstrap
        self.sasl = f"127.0.0.1:{sasl_port}"
        self.sasl_port = sasl_port

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        url = f"http://127.0.0.1:{self.proc.metrics_port}/metrics"
        total = 0.0
        for line in urllib.request.urlopen(url).read().decode().splitlines():
            if not line.startswith(name + "{"):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.split()[-1])
        return total


def _start(reauth_lines):
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    workdir = Path(tempfile.mkdtemp(prefix="runnel-reauth-"))
    sasl_port = _free_port()
    config = (
        f'listeners = "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:{sasl_port}"\n'
        'sasl.enabled.mechanisms = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"\n' + reauth_lines
    )
    proc = Broker(binary, workdir, config)
    proc.start()
    admin = AdminClient({"bootstrap.servers": proc.bootstrap})
    # Kafka takes one alteration per user in a request.
    for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
        ups = [
            UserScramCredentialUpsertion(u, ScramCredentialInfo(m, 4096), pw.encode())
            for u, pw in USERS.items()
        ]
        for f in admin.alter_user_scram_credentials(ups).values():
            f.result(timeout=20)
    return ReauthBroker(proc, sasl_port), workdir


@pytest.fixture
def reauth_broker():
    b, workdir = _start(
        "connections.max.reauth.ms = 0\n"
        f"listener.name.sasl_plaintext.connections.max.reauth.ms = {LIFETIME_MS}\n"
    )
    try:
        yield b
        b.proc.assert_alive()
    finally:
        b.proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _conf(b, mechanism, user="alice", **extra):
    conf = {
        "bootstrap.servers": b.sasl,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": USERS[user],
    }
    conf.update(extra)
    return conf


# --- hand-written frames --------------------------------------------------------------------


def _frame(api_key, version, correlation, body=b"", client_id=b"t"):
    header = struct.pack(">hhih", api_key, version, correlation, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


def _read_frame(sock):
    size = struct.unpack(">i", _read_exact(sock, 4))[0]
    return _read_exact(sock, size)


def _string(s: bytes) -> bytes:
    return struct.pack(">h", len(s)) + s


def _handshake(corr, mechanism=b"PLAIN"):
    return _frame(17, 1, corr, _string(mechanism))


def _authenticate(corr, token):
    return _frame(36, 1, corr, struct.pack(">i", len(token)) + token)


def _plain(user, password):
    return f"\0{user}\0{password}".encode()


def _metadata(corr):
    return _frame(3, 0, corr, struct.pack(">i", 0))


def _handshake_answer(frame):
    """(correlation id, error code) of a SaslHandshake v1 response."""
    return struct.unpack(">ih", frame[:6])


def _auth_answer(frame):
    """(correlation id, error code, message, session lifetime) of a SaslAuthenticate v1
    response."""
    corr, err = struct.unpack(">ih", frame[:6])
    pos = 6
    (mlen,) = struct.unpack(">h", frame[pos : pos + 2])
    pos += 2
    msg = None
    if mlen >= 0:
        msg = frame[pos : pos + mlen].decode()
        pos += mlen
    (blen,) = struct.unpack(">i", frame[pos : pos + 4])
    pos += 4 + max(blen, 0)
    (lifetime,) = struct.unpack(">q", frame[pos : pos + 8])
    return corr, err, msg, lifetime


def _corr(frame):
    return struct.unpack(">i", frame[:4])[0]


def _ends_unanswered(sock, timeout=5.0):
    """True if the peer closes the connection without sending anything more."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _login(b, user="alice"):
    """A connection logged in as `user` with PLAIN; its SaslAuthenticate answer."""
    s = socket.create_connection(("127.0.0.1", b.sasl_port), timeout=5)
    s.sendall(_handshake(1))
    assert _handshake_answer(_read_frame(s)) == (1, 0)
    s.sendall(_authenticate(2, _plain(user, USERS[user])))
    answer = _auth_answer(_read_frame(s))
    assert answer[:2] == (2, 0), answer
    return s, answer


# --- tests ----------------------------------------------------------------------------------


def test_librdkafka_supports_reauthentication():
    # KIP-368 client support came in librdkafka 2.2.0.
    major, minor = (int(x) for x in libversion()[0].split(".")[:2])
    assert (major, minor) >= (2, 2), libversion()


def test_confluent_kafka_reauthenticates_across_session_lifetimes(reauth_broker, topic_name):
    b = reauth_broker
    from confluent_kafka.admin import NewTopic

    admin = AdminClient({"bootstrap.servers": b.plain})
    for f in admin.create_topics([NewTopic(topic_name, 2)]).values():
        f.result(timeout=20)
    errors = []
    p = Producer(_conf(b, "SCRAM-SHA-512", error_cb=errors.append, acks="all"))
    c = Consumer(
        _conf(
            b,
            "PLAIN",
            error_cb=errors.append,
            **{"group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"},
        )
    )
    c.subscribe([topic_name])
    failed_deliveries = []

    def on_delivery(err, _msg):
        if err is not None:
            failed_deliveries.append(err)

    sent, got = [], []
    end = time.monotonic() + 4 * LIFETIME_MS / 1000.0
    i = 0
    while time.monotonic() < end:
        v = f"v{i}".encode()
        p.produce(topic_name, value=v, on_delivery=on_delivery)
        sent.append(v)
        i += 1
        p.poll(0)
        m = c.poll(0.1)
        if m is not None:
            assert not m.error(), m.error()
            got.append(m.value())
    assert p.flush(20) == 0
    deadline = time.monotonic() + 20
    while len(got) < len(sent) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None:
            assert not m.error(), m.error()
            got.append(m.value())
    c.close()
    assert not failed_deliveries, failed_deliveries
    assert not errors, errors
    assert sorted(got) == sorted(sent)
    # Both clients re-authenticated their connections (each several times in 8 s) and no
    # connection was cut for an expired session.
    ok = b.metric("runnel_sasl_reauthentications_total", result="succeeded")
    print(f"{ok:.0f} re-authentications, {len(sent)} records")
    assert ok >= 4, ok
    assert b.metric("runnel_sasl_reauthentications_total", result="failed") == 0
    assert b.metric("runnel_sasl_sessions_expired_total") == 0


def test_a_request_after_the_session_expired_closes_the_connection(reauth_broker):
    b = reauth_broker
    s, (_, _, _, lifetime) = _login(b)
    assert lifetime == LIFETIME_MS
    with s:
        s.sendall(_metadata(3))
        assert _corr(_read_frame(s)) == 3
        time.sleep(LIFETIME_MS / 1000.0 + 0.5)
        s.sendall(_metadata(4))
        assert _ends_unanswered(s)
    assert b.metric("runnel_sasl_sessions_expired_total") >= 1


def test_reauthentication_with_requests_in_flight_restarts_the_session(reauth_broker):
    b = reauth_broker
    s, _ = _login(b)
    start = time.monotonic()
    with s:
        time.sleep(1.2)  # past the one-second minimum between logins
        # A request, the re-login and another request, pipelined: answered in order.
        s.sendall(
            _metadata(10)
            + _handshake(11)
            + _authenticate(12, _plain("alice", USERS["alice"]))
            + _metadata(13)
        )
        assert _corr(_read_frame(s)) == 10
        assert _handshake_answer(_read_frame(s)) == (11, 0)
        corr, err, _, lifetime = _auth_answer(_read_frame(s))
        assert (corr, err, lifetime) == (12, 0, LIFETIME_MS)
        assert _corr(_read_frame(s)) == 13
        # Another start within a second of the last: ILLEGAL_SASL_STATE (34), as on Kafka; the
        # connection goes on.
        s.sendall(_handshake(20) + _metadata(21))
        assert _handshake_answer(_read_frame(s)) == (20, 34)
        assert _corr(_read_frame(s)) == 21
        # Past the first session's end, inside the second's: still served.
        time.sleep(max(0.0, start + LIFETIME_MS / 1000.0 + 0.4 - time.monotonic()))
        s.sendall(_metadata(14))
        assert _corr(_read_frame(s)) == 14
    assert b.metric("runnel_sasl_reauthentications_total", result="succeeded") >= 1


def _refused_reauth(b, handshake_mech, token, expect_in_message):
    s, _ = _login(b)
    with s:
        time.sleep(1.1)
        s.sendall(_handshake(5, handshake_mech))
        assert _handshake_answer(_read_frame(s)) == (5, 0)
        s.sendall(_authenticate(6, token))
        corr, err, msg, _ = _auth_answer(_read_frame(s))
        assert (corr, err) == (6, 58), msg  # SASL_AUTHENTICATION_FAILED
        assert expect_in_message in msg, msg
        assert _ends_unanswered(s)


def test_a_reauthentication_left_unfinished_is_closed_after_10_s(reauth_broker):
    b = reauth_broker
    s, _ = _login(b)
    with s:
        time.sleep(1.1)
        s.sendall(_handshake(5))
        assert _handshake_answer(_read_frame(s)) == (5, 0)
        start = time.monotonic()
        # Nothing more: the exchange's 10 s run out (the session itself would last until the
        # connection is used; it is the pending exchange that is bounded).
        assert _ends_unanswered(s, timeout=15)
        took = time.monotonic() - start
        assert 9.0 <= took <= 12.0, took
    assert b.metric("runnel_sasl_reauthentications_total", result="failed") >= 1


def test_reauthentication_as_another_user_is_refused(reauth_broker):
    # bob's password is right, but the connection is alice's.
    _refused_reauth(reauth_broker, b"PLAIN", _plain("bob", USERS["bob"]),
                    "Cannot change principals")
    assert reauth_broker.metric("runnel_sasl_reauthentications_total", result="failed") >= 1


def test_reauthentication_with_a_wrong_password_or_another_mechanism_is_refused(reauth_broker):
    _refused_reauth(reauth_broker, b"PLAIN", _plain("alice", "wrong"), "Authentication failed")
    _refused_reauth(reauth_broker, b"SCRAM-SHA-512", b"n,,n=alice,r=abcdefghijkl",
                    "re-authentication of mechanism 'PLAIN'")


def test_reauthentication_after_the_credential_was_deleted_fails(reauth_broker):
    b = reauth_broker
    s, _ = _login(b, "carol")
    with s:
        admin = AdminClient({"bootstrap.servers": b.plain})
        for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            dels = [UserScramCredentialDeletion("carol", m)]
            for f in admin.alter_user_scram_credentials(dels).values():
                f.result(timeout=20)
        time.sleep(1.5)  # the deletion reaches every core's metadata image
        s.sendall(_handshake(5))
        assert _handshake_answer(_read_frame(s)) == (5, 0)
        s.sendall(_authenticate(6, _plain("carol", USERS["carol"])))
        corr, err, msg, _ = _auth_answer(_read_frame(s))
        assert (corr, err) == (6, 58), msg
        assert _ends_unanswered(s)
    # A fresh login of carol fails too; alice is unaffected.
    with socket.create_connection(("127.0.0.1", b.sasl_port), timeout=5) as s:
        s.sendall(_handshake(1))
        _read_frame(s)
        s.sendall(_authenticate(2, _plain("carol", USERS["carol"])))
        assert _auth_answer(_read_frame(s))[:2] == (2, 58)
    s, _ = _login(b)
    s.close()


def test_with_reauthentication_off_sessions_never_expire():
    b, workdir = _start("")
    try:
        s, (_, _, _, lifetime) = _login(b)
        with s:
            assert lifetime == 0
            time.sleep(1.2)
            # A re-login is refused (ILLEGAL_SASL_STATE), the connection stays and serves.
            s.sendall(_handshake(3))
            assert _handshake_answer(_read_frame(s)) == (3, 34)
            s.sendall(_metadata(4))
            assert _corr(_read_frame(s)) == 4
        b.proc.assert_alive()
    finally:
        b.proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
