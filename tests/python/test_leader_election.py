"""Leader elections on three brokers (docs/replication.md, step 7), with confluent-kafka's
AdminClient as the real client. An RF 3 topic's preferred leader is killed with SIGKILL (another
replica takes over; `runnel topic describe` shows the ISR without it) and started again (it
rejoins the ISR as a follower): ElectLeaders (PREFERRED) moves the leadership back to it, a
second one answers ELECTION_NOT_NEEDED, an unknown partition UNKNOWN_TOPIC_OR_PARTITION, and
records produced before, during and after are all consumed. With
`leader.imbalance.check.interval.seconds = 1` the controller moves the leadership back by itself
(`auto.leader.rebalance.enable`, on by default)."""

import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ElectionType, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import DEFAULT_BIN, Broker, _free_port
from test_cluster import cluster_config, until
from test_metrics import scrape, total

BINARY = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))


def start_cluster(extra):
    ctl = [_free_port() for _ in range(3)]
    workdirs = [Path(tempfile.mkdtemp(prefix="runnel-elect-")) for _ in range(3)]
    brokers = [
        Broker(BINARY, w, cluster_config(n + 1, ctl) + extra) for n, w in enumerate(workdirs)
    ]
    with concurrent.futures.ThreadPoolExecutor(len(brokers)) as pool:
        list(pool.map(lambda b: b.start(), brokers))
    return brokers, workdirs


def stop_cluster(brokers, workdirs):
    for b in brokers:
        b.stop()
    for w in workdirs:
        shutil.rmtree(w, ignore_errors=True)


def bootstrap(brokers):
    return ",".join(b.bootstrap for b in brokers if b.proc and b.proc.poll() is None)


def partition_md(brokers, topic, p=0):
    md = AdminClient({"bootstrap.servers": bootstrap(brokers)}).list_topics(topic, timeout=5)
    return md.topics[topic].partitions[p]


def create_rf3(brokers, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    fs = admin.create_topics([NewTopic(topic, 1, 3, config={"min.insync.replicas": "2"})])
    fs[topic].result(30)
    until(
        "all three replicas in the ISR",
        lambda: len(partition_md(brokers, topic).isrs) == 3,
    )
    return partition_md(brokers, topic)


def produce(brokers, topic, values):
    p = Producer({"bootstrap.servers": bootstrap(brokers), "acks": "all"})
    errors = []
    for v in values:
        p.produce(topic, v, on_delivery=lambda e, _m: e and errors.append(e))
    assert p.flush(30) == 0
    assert not errors, errors


def consume_all(brokers, topic, n):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap(brokers),
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    try:
        deadline = 40
        while len(got) < n and deadline > 0:
            m = c.poll(0.5)
            deadline -= 0.5
            if m is not None and m.error() is None:
                got.append(m.value())
    finally:
        c.close()
    return got


def kill_and_restart(brokers, broker_id, topic, while_down=None):
    """SIGKILLs broker `broker_id`, waits until another replica leads partition 0 without it
    in the ISR, runs `while_down`, restarts it on its port and waits until it is in the ISR."""
    b = brokers[broker_id - 1]
    b.proc.kill()
    b.proc.wait(10)
    until(
        "a new leader without the killed broker",
        lambda: (lambda p: p.leader not in (-1, broker_id) and broker_id not in p.isrs)(
            partition_md(brokers, topic)
        ),
    )
    if while_down:
        while_down()
    assert b._launch(b.port), b.log_tail()
    until(
        "the restarted broker back in the ISR",
        lambda: broker_id in partition_md(brokers, topic).isrs,
    )


def cli(brokers, *args):
    out = subprocess.run(
        [str(BINARY), *args, "--brokers", bootstrap(brokers)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout + out.stderr


def describe_row(brokers, topic):
    """The columns of partition 0's row of `runnel topic describe`."""
    rc, out = cli(brokers, "topic", "describe", topic)
    assert rc == 0, out
    assert re.search(r"PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+OFFLINE", out), out
    rows = [l.split() for l in out.splitlines() if l.split()[:1] == ["0"]]
    assert len(rows) == 1, out
    return rows[0]


def sorted_list(cell):
    return sorted(int(x) for x in cell.strip("[]").split(",") if x)


@pytest.fixture(scope="module")
def manual_cluster():
    # Automatic rebalancing off: only ElectLeaders moves leaders back.
    brokers, workdirs = start_cluster("auto.leader.rebalance.enable = false\n")
    try:
        yield brokers
    finally:
        stop_cluster(brokers, workdirs)


def test_elect_leaders_moves_leadership_back_to_the_preferred_replica(manual_cluster):
    brokers = manual_cluster
    topic = f"elect-{uuid.uuid4().hex[:8]}"
    p = create_rf3(brokers, topic)
    preferred = p.replicas[0]
    assert p.leader == preferred
    witness = next(b for n, b in enumerate(brokers, 1) if n != preferred)

    def elections():
        return total(scrape(witness.metrics_port), "runnel_leader_elections_total")

    elections_before = elections()
    produce(brokers, topic, [b"before-%d" % i for i in range(20)])
    row = describe_row(brokers, topic)
    assert int(row[1]) == preferred and sorted_list(row[4]) == sorted(p.replicas), row

    def down():
        # The ISR shrinks in `topic describe` while the broker is down.
        row = describe_row(brokers, topic)
        assert sorted_list(row[3]) == sorted(p.replicas), row
        assert preferred not in sorted_list(row[4]) and len(sorted_list(row[4])) == 2, row
        produce(brokers, topic, [b"during-%d" % i for i in range(20)])

    kill_and_restart(brokers, preferred, topic, down)
    moved = partition_md(brokers, topic)
    assert moved.leader != preferred
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    tp = TopicPartition(topic, 0)
    result = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(30)
    assert list(result.values()) == [None], result
    until("the preferred replica leading", lambda: partition_md(brokers, topic).leader == preferred)
    row = describe_row(brokers, topic)
    assert int(row[1]) == preferred and int(row[2]) >= 2, row
    # Two elections in the metadata (away at the kill, back now); nothing offline.
    until("two more leader elections counted", lambda: elections() >= elections_before + 2)
    assert total(scrape(witness.metrics_port), "runnel_offline_partitions") == 0
    # Already there: ELECTION_NOT_NEEDED.
    again = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(30)
    err = list(again.values())[0]
    assert err is not None and err.code() == KafkaError.ELECTION_NOT_NEEDED, again
    missing = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 7)]).result(30)
    err = list(missing.values())[0]
    assert err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, missing
    # Produce and consume go on against the preferred leader.
    produce(brokers, topic, [b"after-%d" % i for i in range(20)])
    got = consume_all(brokers, topic, 60)
    want = [b"%s-%d" % (w, i) for w in (b"before", b"during", b"after") for i in range(20)]
    assert got == want
    # The CLI elects too, as kafka-leader-election.sh: nothing to do now.
    rc, out = cli(
        brokers, "topic", "elect-leaders", "--election-type", "preferred", "--topic", topic
    )
    assert rc == 0 and "ELECTION_NOT_NEEDED" in out, out


@pytest.fixture(scope="module")
def auto_cluster():
    brokers, workdirs = start_cluster("leader.imbalance.check.interval.seconds = 1\n")
    try:
        yield brokers
    finally:
        stop_cluster(brokers, workdirs)


def test_the_controller_moves_leadership_back_by_itself(auto_cluster):
    brokers = auto_cluster
    topic = f"auto-{uuid.uuid4().hex[:8]}"
    p = create_rf3(brokers, topic)
    preferred = p.replicas[0]
    kill_and_restart(brokers, preferred, topic)
    # Back as a follower in the ISR; within a few check intervals it leads again.
    until(
        "the preferred replica leading again",
        lambda: partition_md(brokers, topic).leader == preferred,
        timeout=20,
    )
    row = describe_row(brokers, topic)
    assert int(row[1]) == preferred, row
    assert int(row[2]) >= 2, row  # moved away and back: two elections at least
    produce(brokers, topic, [b"x-%d" % i for i in range(10)])
    assert consume_all(brokers, topic, 10) == [b"x-%d" % i for i in range(10)]
