//! Transactions across brokers, with the real binary on loopback and librdkafka: three brokers
//! (config/cluster/broker-N.toml), a 6-partition topic with leaders on all three, so that every
//! transaction coordinator has partitions led by other brokers and writes their commit and
//! abort markers through WriteTxnMarkers.
//!
//! - A transactional producer writes to every partition, commits one transaction and aborts
//!   the next: a read_committed consumer reads exactly the committed records from every
//!   partition, and each partition's last stable offset reaches its high watermark (both
//!   markers written everywhere).
//! - Consume-transform-produce with `send_offsets_to_transaction`, where the group's
//!   coordinator and the transaction coordinator are different brokers: the offsets are
//!   committed after the commit and not after the abort.
//! - A broker hosting partitions of a decided transaction is killed with -9 before the markers
//!   are written and restarted: the coordinator writes them once it is back, and read_committed
//!   progresses.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{self, until, SETTLE};
use common::raw::Conn;
use common::{free_port, Broker};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTransactionsRequest, FindCoordinatorRequest, FindCoordinatorResponse,
    ListOffsetsRequest, ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 6;
const PER_PARTITION: usize = 5;

/// Three brokers, registered and unfenced, with `topic`'s partitions led by all three.
fn cluster_with_topic(topics: &[&str]) -> (Vec<Broker>, String) {
    let ctl = [free_port(), free_port(), free_port()];
    let brokers: Vec<Broker> = cluster::start_all(&ctl);
    let all = brokers
        .iter()
        .map(|b| b.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    until(
        "three live brokers",
        || leaders(&all, None).len(),
        |n| *n == 3,
    );
    for topic in topics {
        let _ = until(
            "the topic is created",
            || client::try_create_topic(&brokers[0].bootstrap(), topic, PARTITIONS, 1),
            |r| r.is_ok() || r.as_ref().err().map(String::as_str) == Some("TopicAlreadyExists"),
        );
        let by_leader = until(
            "every partition has a leader",
            || leaders(&all, Some(topic)),
            |m| m.values().map(Vec::len).sum::<usize>() == PARTITIONS as usize,
        );
        assert_eq!(
            by_leader.len(),
            3,
            "leaders on all three brokers: {by_leader:?}"
        );
    }
    (brokers, all)
}

/// The brokers (with no topic) or `topic`'s partitions by leader, from a fresh client's
/// Metadata.
fn leaders(bootstrap: &str, topic: Option<&str>) -> BTreeMap<i32, Vec<i32>> {
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return BTreeMap::new();
    };
    let Ok(md) = c.fetch_metadata(topic, Duration::from_secs(5)) else {
        return BTreeMap::new();
    };
    let mut out: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    match topic {
        None => md.brokers().iter().for_each(|b| {
            out.insert(b.id(), Vec::new());
        }),
        Some(_) => {
            for t in md.topics().iter().filter(|t| t.error().is_none()) {
                for p in t.partitions().iter().filter(|p| p.leader() >= 0) {
                    out.entry(p.leader()).or_default().push(p.id());
                }
            }
        }
    }
    out
}

fn transactional(bootstrap: &str, txn_id: &str) -> BaseProducer {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", txn_id)
        .set("transaction.timeout.ms", "30000")
        .set("linger.ms", "2")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(30)).unwrap();
    p
}

/// Sends `value-p-i` for every partition and `PER_PARTITION` values, in the open transaction.
fn send_all(p: &BaseProducer, topic: &str, value: &str) {
    for part in 0..PARTITIONS {
        for i in 0..PER_PARTITION {
            let v = format!("{value}-{part}-{i}");
            let rec = BaseRecord::<(), str>::to(topic).partition(part).payload(&v);
            p.send(rec).unwrap();
        }
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn consumer(bootstrap: &str, group: Option<&str>, committed: bool) -> BaseConsumer {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", bootstrap)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .set(
            "isolation.level",
            if committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        );
    cc.set("group.id", group.unwrap_or("cluster-txn-reader"));
    cc.create().unwrap()
}

/// Every value a read_committed consumer reads from `topic`'s partitions, polling until `want`
/// values came or `SETTLE` passed; by partition.
fn read_committed(bootstrap: &str, topic: &str, want: usize) -> BTreeMap<i32, Vec<String>> {
    let c = consumer(bootstrap, None, true);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut got: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let end = Instant::now() + SETTLE;
    let mut n = 0;
    // A little longer than needed, so that records beyond `want` would be seen.
    let mut quiet_until: Option<Instant> = None;
    while Instant::now() < end {
        if let Some(q) = quiet_until {
            if Instant::now() > q {
                break;
            }
        }
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string();
            got.entry(m.partition()).or_default().push(v);
            n += 1;
        }
        if n >= want && quiet_until.is_none() {
            quiet_until = Some(Instant::now() + Duration::from_millis(1500));
        }
    }
    got
}

/// `topic`/`partition`'s latest offset at `isolation` (0 read_uncommitted: the high
/// watermark; 1 read_committed: the last stable offset), by a raw ListOffsets to `b`.
fn latest(b: &Broker, topic: &str, partition: i32, isolation: i8) -> Option<i64> {
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.isolation_level = isolation;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = -1;
    t.partitions.push(p);
    req.topics.push(t);
    let resp = Conn::open(b).try_call(&req, 7)?;
    let p = resp.topics.first()?.partitions.first()?;
    (p.error_code == 0).then_some(p.offset)
}

/// Per partition: (last stable offset, high watermark), asked of the partition's leader.
fn lso_and_hw(brokers: &[Broker], all: &str, topic: &str) -> Vec<(i64, i64)> {
    let by_leader = leaders(all, Some(topic));
    let mut out = vec![(-1, -2); PARTITIONS as usize];
    for (leader, parts) in by_leader {
        let b = &brokers[(leader - 1) as usize];
        for p in parts {
            let lso = latest(b, topic, p, 1).unwrap_or(-1);
            let hw = latest(b, topic, p, 0).unwrap_or(-2);
            out[p as usize] = (lso, hw);
        }
    }
    out
}

fn committed_values(value: &str) -> BTreeMap<i32, Vec<String>> {
    (0..PARTITIONS)
        .map(|p| {
            let vs = (0..PER_PARTITION)
                .map(|i| format!("{value}-{p}-{i}"))
                .collect();
            (p, vs)
        })
        .collect()
}

#[test]
fn markers_reach_partitions_on_every_broker() {
    let (brokers, all) = cluster_with_topic(&["txx"]);
    let p = transactional(&all, "cluster-txn-1");
    p.begin_transaction().unwrap();
    send_all(&p, "txx", "kept");
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    send_all(&p, "txx", "dropped");
    p.abort_transaction(Duration::from_secs(30)).unwrap();
    // Both markers on every partition: the last stable offset is the high watermark
    // (5 records, a commit marker, 5 records, an abort marker).
    until(
        "every partition's LSO reaches its high watermark",
        || lso_and_hw(&brokers, &all, "txx"),
        |v| {
            v.iter()
                .all(|&(lso, hw)| lso == hw && hw == 2 * PER_PARTITION as i64 + 2)
        },
    );
    let got = read_committed(&all, "txx", PARTITIONS as usize * PER_PARTITION);
    assert_eq!(got, committed_values("kept"));
    // WriteTxnMarkers from outside: another broker's partition is NOT_LEADER_OR_FOLLOWER, an
    // unknown topic UNKNOWN_TOPIC_OR_PARTITION.
    let by_leader = leaders(&all, Some("txx"));
    let elsewhere = by_leader
        .iter()
        .find(|(id, _)| **id != 1)
        .map(|(_, ps)| ps[0])
        .unwrap();
    let mut req = WriteTxnMarkersRequest::default();
    let mut m = WritableTxnMarker::default();
    m.producer_id = ProducerId(123_456);
    m.producer_epoch = 0;
    m.transaction_result = false;
    for (topic, part) in [("txx", elsewhere), ("no-such-topic", 0)] {
        let mut t = WritableTxnMarkerTopic::default();
        t.name = TopicName(StrBytes::from_static_str(topic));
        t.partition_indexes = vec![part];
        m.topics.push(t);
    }
    req.markers.push(m);
    let resp = Conn::open(&brokers[0]).call(&req, 1);
    let codes: Vec<i16> = resp.markers[0]
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(codes, vec![6, 3]);
}

/// FindCoordinator (v4, batched) through `b` for `keys` of `key_type`: each key's coordinator.
fn coordinators(b: &Broker, key_type: i8, keys: &[String]) -> Vec<i32> {
    until(
        "coordinators found",
        || {
            let mut req = FindCoordinatorRequest::default();
            req.key_type = key_type;
            req.coordinator_keys = keys
                .iter()
                .map(|k| StrBytes::from_string(k.clone()))
                .collect();
            let resp: Option<FindCoordinatorResponse> = Conn::open(b).try_call(&req, 4);
            resp.map(|r| {
                r.coordinators
                    .iter()
                    .map(|c| if c.error_code == 0 { c.node_id.0 } else { -1 })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        },
        |v: &Vec<i32>| v.len() == keys.len() && v.iter().all(|n| *n > 0),
    )
}

/// A group id and a transactional id whose coordinators are different brokers.
fn ids_on_different_brokers(b: &Broker) -> (String, String, i32, i32) {
    let groups: Vec<String> = (0..8).map(|i| format!("ctp-group-{i}")).collect();
    let txns: Vec<String> = (0..8).map(|i| format!("ctp-txn-{i}")).collect();
    let g = coordinators(b, 0, &groups);
    let t = coordinators(b, 1, &txns);
    for (gi, gc) in g.iter().enumerate() {
        for (ti, tc) in t.iter().enumerate() {
            if gc != tc {
                return (groups[gi].clone(), txns[ti].clone(), *gc, *tc);
            }
        }
    }
    panic!("all coordinators on one broker: groups {g:?}, transactions {t:?}");
}

/// The committed offsets of `group` for `topic` (require_stable: pending ones wait).
fn committed(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let c = consumer(bootstrap, Some(group), true);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(20)).unwrap();
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

#[test]
fn offsets_sent_to_a_transaction_follow_its_outcome_across_coordinators() {
    let (brokers, all) = cluster_with_topic(&["ctp-in", "ctp-out"]);
    let input: Vec<Msg> = (0..PARTITIONS as usize * 4)
        .map(|i| Msg {
            partition: Some((i % PARTITIONS as usize) as i32),
            value: Some(format!("in-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    assert_eq!(
        client::produce(&all, "ctp-in", &input, &[]).len(),
        input.len()
    );
    let (group, txn_id, gc, tc) = ids_on_different_brokers(&brokers[0]);
    assert_ne!(gc, tc);
    let c = consumer(&all, Some(&group), true);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset("ctp-in", p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let meta = c.group_metadata().expect("group metadata");
    let p = transactional(&all, &txn_id);
    // Transaction 1: two records of each input partition, committed.
    // Transaction 2: the other two, aborted.
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen = 0;
    let end = Instant::now() + SETTLE;
    let mut outcome_offsets = Vec::new();
    for (round, commit) in [(0, true), (1, false)] {
        p.begin_transaction().unwrap();
        let want = PARTITIONS as usize * 2 * (round + 1);
        while seen < want {
            assert!(Instant::now() < end, "input read: {seen} of {want}");
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else {
                continue;
            };
            let v = format!("out-{}", String::from_utf8_lossy(m.payload().unwrap()));
            let rec = BaseRecord::<(), str>::to("ctp-out")
                .partition(m.partition())
                .payload(&v);
            p.send(rec).unwrap();
            positions.insert(m.partition(), m.offset() + 1);
            seen += 1;
        }
        p.flush(Duration::from_secs(30)).unwrap();
        let mut offsets = TopicPartitionList::new();
        for (&part, &o) in &positions {
            offsets
                .add_partition_offset("ctp-in", part, Offset::Offset(o))
                .unwrap();
        }
        p.send_offsets_to_transaction(&offsets, &meta, Duration::from_secs(30))
            .unwrap();
        if commit {
            p.commit_transaction(Duration::from_secs(30)).unwrap();
        } else {
            p.abort_transaction(Duration::from_secs(30)).unwrap();
        }
        outcome_offsets.push(positions.clone());
    }
    // The committed transaction's offsets stand; the aborted one's were never committed.
    let first = &outcome_offsets[0];
    let now = until(
        "the group's committed offsets settle",
        || committed(&all, &group, "ctp-in"),
        |o| o == first,
    );
    assert_ne!(&now, &outcome_offsets[1]);
    // The output holds exactly the committed transaction's records.
    let got = read_committed(&all, "ctp-out", PARTITIONS as usize * 2);
    let n: usize = got.values().map(Vec::len).sum();
    assert_eq!(n, PARTITIONS as usize * 2, "{got:?}");
    let distinct: BTreeSet<&String> = got.values().flatten().collect();
    assert_eq!(distinct.len(), n);
}

#[test]
fn markers_for_a_killed_broker_are_written_when_it_returns() {
    let (mut brokers, all) = cluster_with_topic(&["txk"]);
    let txn_id = "cluster-txn-kill".to_string();
    let coordinator = coordinators(&brokers[0], 1, std::slice::from_ref(&txn_id))[0];
    let p = transactional(&all, &txn_id);
    p.begin_transaction().unwrap();
    send_all(&p, "txk", "survives");
    // A broker other than the coordinator, leading some of the transaction's partitions.
    let by_leader = leaders(&all, Some("txk"));
    let (&victim, victim_parts) = by_leader
        .iter()
        .find(|(id, _)| **id != coordinator)
        .expect("a leader other than the coordinator");
    let victim_parts = victim_parts.clone();
    brokers[(victim - 1) as usize].kill9();
    // Decided while the victim is down: its partitions cannot take their markers yet.
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    let live: Vec<&Broker> = brokers.iter().filter(|b| b.child.is_some()).collect();
    let others = live
        .iter()
        .map(|b| b.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let by_leader_now = leaders(&others, Some("txk"));
    for (leader, parts) in &by_leader_now {
        if *leader == victim {
            continue;
        }
        let b = &brokers[(*leader - 1) as usize];
        for &part in parts {
            until(
                "the live brokers' partitions get their markers",
                || (latest(b, "txk", part, 1), latest(b, "txk", part, 0)),
                |(lso, hw)| lso.is_some() && lso == hw,
            );
        }
    }
    // Never complete while a marker is missing: the coordinator still holds the decision.
    let ci = (coordinator - 1) as usize;
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = vec![TransactionalId(StrBytes::from_string(txn_id.clone()))];
    let resp = Conn::open(&brokers[ci]).call(&req, 0);
    assert_eq!(
        resp.transaction_states[0].transaction_state.as_str(),
        "PrepareCommit"
    );
    brokers[(victim - 1) as usize].restart();
    let back = &brokers[(victim - 1) as usize];
    for &part in &victim_parts {
        until(
            "the returned broker's partitions get their markers",
            || (latest(back, "txk", part, 1), latest(back, "txk", part, 0)),
            |(lso, hw)| *hw == Some(PER_PARTITION as i64 + 1) && lso == hw,
        );
    }
    until(
        "the coordinator logs the completion",
        || {
            let resp = Conn::open(&brokers[ci]).call(&req, 0);
            resp.transaction_states[0].transaction_state.to_string()
        },
        |s| s == "CompleteCommit",
    );
    let got = read_committed(&all, "txk", PARTITIONS as usize * PER_PARTITION);
    assert_eq!(got, committed_values("survives"));
}
