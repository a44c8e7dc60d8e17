"""Consumer groups with real clients against a real Runnel broker.

kafka-python drives the classic protocol (FindCoordinator, JoinGroup/SyncGroup/Heartbeat/
LeaveGroup, OffsetCommit/OffsetFetch) and the group admin APIs (ListGroups, DescribeGroups,
OffsetFetch, OffsetDelete, DeleteGroups); confluent-kafka (librdkafka) commits offsets with
metadata and drives the KIP-848 consumer protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe).

Unless a test says otherwise its broker runs with no initial rebalance delay (the default holds
the first JoinGroup of an empty group for 3 s) and a 1 s KIP-848 heartbeat interval, so that
rebalances settle quickly.

Two client quirks shape the tests (both seen with the installed versions, both client-side):
- kafka-python 3.0.12 drops the result of a JoinGroup/SyncGroup round that completes while no
  poll() of that consumer is running and joins again (or, for a leader whose rejoin came from a
  metadata change, never finishes the join and stops heartbeating). Consumers polled in turn from
  one thread therefore keep rebalancing each other; every group member of these tests is polled
  continuously by its own thread (ConsumerThread), and looks its topic up before subscribing.
- confluent-kafka commits metadata with a trailing NUL byte and reads committed metadata as a C
  string, so metadata committed by another client cannot be read back with it.
"""


import threading
import time

from collections import Counter

import pytest
from kafka import TopicPartition as KpTopicPartition
from kafka.errors import GroupSubscribedToTopicError, NoError
from kafka.structs import OffsetAndMetadata

from group_helpers import (
    FAST_GROUPS,
    create_topic,
    group_name,
    kp_admin,
    kp_consumer,
    kp_member_id,
    poll_until,
    produce_per_partition,
    start_members,
    stop_members,
    value_of,
    wait_until,
)

pytestmark = pytest.mark.broker_config(FAST_GROUPS)


def test_kafka_python_three_consumers_split_partitions(broker, topic_name):
    partitions, per_partition = 12, 100
    create_topic(broker, topic_name, partitions)
    produce_per_partition(broker, topic_name, partitions, per_partition)

    group = group_name()
    lock = threading.Lock()
    seen = Counter()  # (partition, offset) -> deliveries
    bad = []

    def sink(_i, polled):
        with lock:
            for tp, records in polled.items():
                for r in records:
                    seen[(tp.partition, r.offset)] += 1
                    if tp.topic != topic_name or r.value != value_of(tp.partition, r.offset):
                        bad.append((tp, r.offset, r.value))

    def assignments():
        return [{tp.partition for tp in t.assignment} for t in threads]

    def settled():
        sets = assignments()
        with lock:
            n = len(seen)
        return (
            n == partitions * per_partition
            and all(sets)
            and sum(len(x) for x in sets) == partitions
            and set().union(*sets) == set(range(partitions))
        )

    # Auto-commit: kafka-python commits synchronously before it rejoins, so a partition that
    # moves to another member in a rebalance continues where its previous owner stopped.
    threads = start_members(broker, group, topic_name, 3, sink,
                            enable_auto_commit=True, auto_commit_interval_ms=500)
    try:
        wait_until(threads, settled, 60, "every record consumed and 3 disjoint non-empty assignments")
        settled_assignments = assignments()
        # A record consumed twice (a partition restarting below its committed offset after a
        # rebalance) would arrive now.
        time.sleep(2)
        final = assignments()
        assert final == settled_assignments, f"assignments changed: {settled_assignments} -> {final}"
        assert all(tp.topic == topic_name for t in threads for tp in t.assignment)
        for x in range(3):
            for y in range(x + 1, 3):
                assert not final[x] & final[y], f"overlapping assignments: {final}"
        assert set().union(*final) == set(range(partitions)), final
        assert sorted(len(x) for x in final) == [4, 4, 4], final
        with lock:
            assert not bad, f"records with unexpected topic or value: {bad[:5]}"
            expected = {(p, o) for p in range(partitions) for o in range(per_partition)}
            assert set(seen) == expected, f"missing: {sorted(expected - set(seen))[:10]}"
            dups = {k: n for k, n in seen.items() if n != 1}
            assert not dups, f"{len(dups)} records delivered more than once, e.g. {sorted(dups.items())[:10]}"
        assert len({kp_member_id(t.consumer) for t in threads}) == 3
    finally:
        stop_members(threads)


def test_kafka_python_commit_then_restart_resumes_after_commit(broker, topic_name):
    create_topic(broker, topic_name, 1)
    produce_per_partition(broker, topic_name, 1, 20)
    group = group_name()
    tp = KpTopicPartition(topic_name, 0)

    c = kp_consumer(broker, group, max_poll_records=7)
    try:
        c.subscribe([topic_name])
        got = []
        poll_until(c, lambda: len(got) >= 7, 30, "7 records",
                   on_records=lambda _tp, recs: got.extend(recs))
        assert [r.offset for r in got] == list(range(7))
        c.commit()  # the consumed position: 7
        assert c.committed(tp) == 7
    finally:
        c.close()

    c2 = kp_consumer(broker, group, max_poll_records=100)
    try:
        assert c2.committed(tp) == 7  # read back from the broker by a fresh client
        c2.subscribe([topic_name])
        got2 = []
        poll_until(c2, lambda: len(got2) >= 13, 30, "the remaining 13 records",
                   on_records=lambda _tp, recs: got2.extend(recs))
        assert got2[0].offset == 7, f"resumed at {got2[0].offset}, committed 7"
        assert [r.offset for r in got2] == list(range(7, 20))
        assert [r.value for r in got2] == [value_of(0, i) for i in range(7, 20)]
    finally:
        c2.close()


@pytest.mark.broker_config('"group.initial.rebalance.delay.ms" = 3000\n')
def test_kafka_python_initial_rebalance_delay_gathers_members(broker, topic_name):
    """With the default 3 s initial delay, members that join an empty group within the delay all
    land in its first generation, and that generation does not form before the delay."""
    create_topic(broker, topic_name, 4)
    group = group_name()
    started = time.monotonic()
    threads = start_members(broker, group, topic_name, 2)
    try:
        wait_until(threads, lambda: all(t.assignment for t in threads), 20, "both members assigned")
        elapsed = time.monotonic() - started
        generations = [t.consumer._coordinator._generation.generation_id for t in threads]
        assert generations == [1, 1], f"members joined in generations {generations}"
        assert elapsed >= 2.9, f"first generation formed after {elapsed:.2f}s, before the 3 s delay"
        assert elapsed < 10, f"first generation took {elapsed:.2f}s"
        a = [{tp.partition for tp in t.assignment} for t in threads]
        assert not a[0] & a[1] and a[0] | a[1] == {0, 1, 2, 3}, a
    finally:
        stop_members(threads)


def _assigned_partitions(assignment):
    """{TopicPartition} of a DescribeGroups member_assignment as kafka-python decodes it."""
    if isinstance(assignment, dict):
        pairs = assignment.get("assigned_partitions") or []
    else:
        pairs = assignment.assigned_partitions
    out = set()
    for item in pairs:
        if isinstance(item, dict):
            topic, parts = item["topic"], item["partitions"]
        else:
            topic, parts = item[0], item[1]
        out.update(KpTopicPartition(topic, p) for p in parts)
    return out


def test_kafka_python_admin_list_describe_offsets_delete(broker, topic_name):
    create_topic(broker, topic_name, 2)
    produce_per_partition(broker, topic_name, 2, 10)
    other_topic = topic_name + "-other"
    create_topic(broker, other_topic, 1)
    group = group_name()
    tp0, tp1 = KpTopicPartition(topic_name, 0), KpTopicPartition(topic_name, 1)
    tp_other = KpTopicPartition(other_topic, 0)

    threads = start_members(broker, group, topic_name, 2)
    admin = kp_admin(broker)
    try:
        wait_until(
            threads,
            lambda: all(len(t.assignment) == 1 for t in threads)
            and threads[0].assignment | threads[1].assignment == {tp0, tp1},
            30, "one partition per consumer",
        )
        owner = {next(iter(t.assignment)).partition: t for t in threads}
        owner[0].call(lambda c: c.commit({tp0: OffsetAndMetadata(3, "meta-0", -1)}))
        owner[1].call(lambda c: c.commit({tp1: OffsetAndMetadata(4, "", -1)}))
        owner[0].call(lambda c: c.commit({tp_other: OffsetAndMetadata(1, "x", -1)}))

        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert group in listed, f"{group} not in ListGroups: {sorted(listed)}"
        assert listed[group]["protocol_type"] == "consumer"
        if "group_state" in listed[group]:
            assert listed[group]["group_state"] == "Stable", listed[group]

        desc = admin.describe_groups([group])[group]
        assert desc["error"] is None, desc
        assert desc["group_state"] == "Stable", desc
        assert desc["protocol_type"] == "consumer"
        assert desc["protocol_data"] == "range", desc  # kafka-python's first assignor
        members = desc["members"]
        by_member = {kp_member_id(t.consumer): t for t in threads}
        assert sorted(m["member_id"] for m in members) == sorted(by_member), members
        for m in members:
            described = _assigned_partitions(m["member_assignment"])
            assert described == set(by_member[m["member_id"]].assignment), (m, described)

        offsets = admin.list_group_offsets(group)[group]
        assert {tp: (o.offset, o.metadata) for tp, o in offsets.items()} == {
            tp0: (3, "meta-0"),
            tp1: (4, ""),
            tp_other: (1, "x"),
        }

        # OffsetDelete: refused for the topic the members subscribe to, done for the other.
        res = admin.delete_group_offsets(group, [tp0, tp_other])
        assert res == {tp0: GroupSubscribedToTopicError, tp_other: NoError}, res
        offsets = admin.list_group_offsets(group)[group]
        assert {tp: o.offset for tp, o in offsets.items()} == {tp0: 3, tp1: 4}

        # DeleteGroups of a group with members: NON_EMPTY_GROUP (68), offsets kept.
        assert admin.delete_groups([group]) == {group: "NonEmptyGroupError"}
        offsets = admin.list_group_offsets(group)[group]
        assert {tp: o.offset for tp, o in offsets.items()} == {tp0: 3, tp1: 4}

        stop_members(threads)  # LeaveGroup: the group becomes Empty
        threads = []
        desc = admin.describe_groups([group])[group]
        assert desc["group_state"] == "Empty" and desc["members"] == [], desc

        assert admin.delete_groups([group]) == {group: "OK"}
        assert admin.list_group_offsets(group)[group] == {}
        assert group not in {g["group_id"] for g in admin.list_groups()}
    finally:
        stop_members(threads)
        admin.close()


# --------------------------------------------------------------------------- confluent-kafka

