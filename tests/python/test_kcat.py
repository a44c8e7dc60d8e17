"""Integration tests with kcat (librdkafka command-line client) against a real Runnel broker."""

import json
import shutil
import subprocess

import pytest

KCAT_TIMEOUT_S = 30


def kcat_bin():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        pytest.fail("kcat is not installed; run .ci/run to set up the test environment")
    return path


def kcat(*args, stdin=None):
    cmd = [kcat_bin(), *args]
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            capture_output=True,
            timeout=KCAT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{cmd} did not finish within {KCAT_TIMEOUT_S}s; stderr: {e.stderr!r}")
    assert proc.returncode == 0, (
        f"{cmd} exited {proc.returncode}\nstdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"
    )
    return proc.stdout.decode()


def metadata(broker, topic=None):
    args = ["-b", broker, "-L", "-J", "-m", "10"]
    if topic is not None:
        args += ["-t", topic]
    return json.loads(kcat(*args))


def test_list_metadata(broker, topic_name):
    host, port = broker.rsplit(":", 1)

    # Plain-text listing names the broker.
    text = kcat("-b", broker, "-L", "-m", "10")
    assert "1 brokers:" in text
    assert f"broker 0 at {broker}" in text
    assert topic_name not in text

    # Producing to a missing topic auto-creates it (Metadata with auto-creation), with
    # num.partitions (1) partitions.
    kcat("-P", "-b", broker, "-t", topic_name, "-p", "0", stdin=b"hello\n")

    md = metadata(broker)
    assert [(b["id"], b["name"]) for b in md["brokers"]] == [(0, broker)]
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic_name in topics
    t = topics[topic_name]
    assert "error" not in t, t
    assert [p["partition"] for p in t["partitions"]] == [0]
    part = t["partitions"][0]
    assert part["leader"] == 0
    assert [r["id"] for r in part["replicas"]] == [0]
    assert [r["id"] for r in part["isrs"]] == [0]

    # The record is there.
    out = kcat("-C", "-b", broker, "-t", topic_name, "-o", "beginning", "-e", "-f", "%p:%o:%s\n")
    assert out == "0:0:hello\n"


def test_produce_consume_keys(broker, topic_name):
    lines = [f"k{i}:v{i}" for i in range(1, 21)] + ["kx:value:with:colons", ":no-key"]
    kcat(
        "-P", "-b", broker, "-t", topic_name, "-K:", "-p", "0",
        stdin=("\n".join(lines) + "\n").encode(),
    )
    out = kcat(
        "-C", "-b", broker, "-t", topic_name, "-o", "beginning", "-e",
        "-f", "%k=%s\n",
    )
    # -K: splits at the first ':'; an empty key is produced as an empty (non-null) key.
    expected = [l.replace(":", "=", 1) for l in lines]
    assert out.splitlines() == expected

    # Offsets, partitions and key/value lengths as kcat reports them.
    out = kcat(
        "-C", "-b", broker, "-t", topic_name, "-o", "beginning", "-e",
        "-f", "%p %o %K %S\n",
    )
    rows = [l.split() for l in out.splitlines()]
    assert [r[:2] for r in rows] == [["0", str(i)] for i in range(len(lines))]
    assert [(int(r[2]), int(r[3])) for r in rows] == [
        (len(l.split(":", 1)[0]), len(l.split(":", 1)[1])) for l in lines
    ]

    # Consuming from a given offset and counting (-c) works too.
    out = kcat(
        "-C", "-b", broker, "-t", topic_name, "-o", "5", "-c", "3", "-e",
        "-f", "%o %k\n",
    )
    assert out.splitlines() == ["5 k6", "6 k7", "7 k8"]
