"""SCRAM credentials managed with confluent-kafka's AdminClient (AlterUserScramCredentials,
DescribeUserScramCredentials) against the real broker: creation, Kafka's errors, deletion,
and persistence across a restart (the credentials live in the controller quorum's metadata
log)."""

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

TIMEOUT = 20


def _admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def _alter(admin, alterations):
    """{user: None or the KafkaError code name} for each user of the request."""
    out = {}
    for user, fut in admin.alter_user_scram_credentials(alterations).items():
        try:
            fut.result(timeout=TIMEOUT)
            out[user] = None
        except KafkaException as e:
            out[user] = e.args[0].name()
    return out


def _describe(admin, users=None):
    """{user: {mechanism name: iterations}} or {user: error name}."""
    out = {}
    if users is None:
        described = admin.describe_user_scram_credentials().result(timeout=TIMEOUT)
        items = described.items()
    else:
        items = []
        for user, fut in admin.describe_user_scram_credentials(users).items():
            try:
                items.append((user, fut.result(timeout=TIMEOUT)))
            except KafkaException as e:
                out[user] = e.args[0].name()
    for user, desc in items:
        out[user] = {
            info.mechanism.name: info.iterations for info in desc.scram_credential_infos
        }
    return out


def test_create_describe_delete_and_kafkas_errors(broker_proc):
    broker = broker_proc
    admin = _admin(broker)
    sha512 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    sha256 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
    assert _alter(
        admin,
        [
            UserScramCredentialUpsertion("alice", sha512, b"alice-secret"),
            UserScramCredentialUpsertion("bob", sha256, b"bob-secret"),
        ],
    ) == {"alice": None, "bob": None}
    assert _alter(
        admin, [UserScramCredentialUpsertion("alice", sha256, b"alice-secret")]
    ) == {"alice": None}
    assert _describe(admin) == {
        "alice": {"SCRAM_SHA_256": 4096, "SCRAM_SHA_512": 8192},
        "bob": {"SCRAM_SHA_256": 4096},
    }
    assert _describe(admin, ["bob", "nobody"]) == {
        "bob": {"SCRAM_SHA_256": 4096},
        "nobody": "RESOURCE_NOT_FOUND",
    }

    # Kafka's errors: too few / too many iterations, an unknown user's deletion, the same user
    # twice in one request.
    few = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 1000)
    many = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 20000)
    assert _alter(
        admin,
        [
            UserScramCredentialUpsertion("carol", few, b"x"),
            UserScramCredentialUpsertion("dave", many, b"x"),
            UserScramCredentialDeletion("erin", ScramMechanism.SCRAM_SHA_512),
        ],
    ) == {
        "carol": "UNACCEPTABLE_CREDENTIAL",
        "dave": "UNACCEPTABLE_CREDENTIAL",
        "erin": "RESOURCE_NOT_FOUND",
    }
    # A user both deleted and upserted in one request: DUPLICATE_RESOURCE, nothing changes.
    assert _alter(
        admin,
        [
            UserScramCredentialDeletion("alice", ScramMechanism.SCRAM_SHA_256),
            UserScramCredentialUpsertion("alice", sha512, b"other"),
        ],
    ) == {"alice": "DUPLICATE_RESOURCE"}
    described = _describe(admin)
    assert "carol" not in described
    assert described["alice"] == {"SCRAM_SHA_256": 4096, "SCRAM_SHA_512": 8192}

    assert _alter(
        admin, [UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_256)]
    ) == {"bob": None}
    assert _describe(admin, ["bob"]) == {"bob": "RESOURCE_NOT_FOUND"}


def test_credentials_survive_a_restart(broker_proc):
    broker = broker_proc
    admin = _admin(broker)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    assert _alter(admin, [UserScramCredentialUpsertion("kept", info, b"pw")]) == {
        "kept": None
    }
    broker.restart()
    admin = _admin(broker)
    assert _describe(admin) == {"kept": {"SCRAM_SHA_512": 4096}}
