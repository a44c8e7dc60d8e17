//! The quorum's producer ids, cluster id and leader epochs, with the real binary on loopback:
//! three brokers (copies of config/cluster/broker-N.toml) hand out distinct producer ids (blocks
//! from the quorum), also after a restart; every broker reports one cluster id in Metadata and
//! DescribeCluster and keeps it in meta.properties; Fetch and ListOffsets with an old leader
//! epoch answer FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH, while librdkafka keeps
//! producing and consuming across the restart that bumped the epoch. A single node upgraded
//! from local producer-id blocks keeps its cluster id and never repeats an id; a data directory
//! of another cluster id refuses to start, naming both ids.

use crate::common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{self, until};
use common::raw::Conn;
use common::{free_port, Broker};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, FetchRequest, InitProducerIdRequest, ListOffsetsRequest,
    MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;

const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

/// `n` idempotent producer ids from `b` (InitProducerId v4 without a transactional id); an
/// error code instead of an id stops the series (the caller retries).
fn producer_ids(b: &Broker, n: usize) -> Result<Vec<i64>, i16> {
    let mut c = Conn::open(b);
    let mut req = InitProducerIdRequest::default();
    req.transaction_timeout_ms = 60_000;
    req.producer_id = kafka_protocol::messages::ProducerId(-1);
    req.producer_epoch = -1;
    (0..n)
        .map(|_| {
            let r = c.call(&req, 4);
            if r.error_code == 0 {
                Ok(r.producer_id.0)
            } else {
                Err(r.error_code)
            }
        })
        .collect()
}

/// Producer ids from every broker, asserting that none was handed out before.
fn fresh_ids(brokers: &[Broker], seen: &mut HashSet<i64>) {
    for b in brokers {
        let ids = until(
            "InitProducerId answers",
            || producer_ids(b, 30),
            |r| r.is_ok(),
        )
        .unwrap();
        for id in ids {
            assert!(id >= 0);
            assert!(seen.insert(id), "producer id {id} handed out twice");
        }
    }
}

/// The cluster id of Metadata v12 and of DescribeCluster v0 from `b`.
fn cluster_ids(b: &Broker) -> (Option<String>, String) {
    let mut c = Conn::open(b);
    let md = c.call(&MetadataRequest::default(), 12);
    let dc = c.call(&DescribeClusterRequest::default(), 0);
    (
        md.cluster_id.map(|s| s.to_string()),
        dc.cluster_id.to_string(),
    )
}

fn stored_cluster_id(b: &Broker) -> Option<String> {
    let text = std::fs::read_to_string(b.data_dir().join("meta.properties")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .map(str::to_string)
}

/// The one cluster id every broker reports (Metadata and DescribeCluster) and stores.
fn one_cluster_id(brokers: &[Broker]) -> String {
    let mut all = HashSet::new();
    for b in brokers {
        let (md, dc) = until(
            "the broker reports the cluster's id and stores it",
            || (cluster_ids(b), stored_cluster_id(b)),
            |((md, dc), stored)| md.as_deref() == Some(dc.as_str()) && stored.as_ref() == Some(dc),
        )
        .0;
        all.insert(md.unwrap());
        all.insert(dc);
    }
    assert_eq!(all.len(), 1, "one cluster id: {all:?}");
    all.into_iter().next().unwrap()
}

/// (leader, leader epoch) of partition `p` of `topic` in Metadata v12 from `b`.
fn leader(b: &Broker, topic: &str, p: i32) -> Option<(i32, i32)> {
    let mut c = Conn::open(b);
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(topic.to_string())));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let md = c.try_call(&req, 12)?;
    let part = md
        .topics
        .first()?
        .partitions
        .iter()
        .find(|x| x.partition_index == p)?;
    Some((part.leader_id.0, part.leader_epoch))
}

/// The error codes of Fetch v12 and ListOffsets v4 for partition `p` of `topic` on `b` with
/// leader epoch `epoch`.
fn with_epoch(b: &Broker, topic: &str, p: i32, epoch: i32) -> (i16, i16) {
    let mut c = Conn::open(b);
    let mut fp = FetchPartition::default();
    fp.partition = p;
    fp.partition_max_bytes = 1 << 20;
    fp.current_leader_epoch = epoch;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.replica_id = BrokerId(-1);
    req.topics.push(ft);
    let fetch = c.call(&req, 12).responses[0].partitions[0].error_code;
    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = p;
    lp.timestamp = -1;
    lp.current_leader_epoch = epoch;
    let mut lt = ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_string(topic.to_string()));
    lt.partitions.push(lp);
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics.push(lt);
    let list = c.call(&req, 4).topics[0].partitions[0].error_code;
    (fetch, list)
}

fn msgs(p: i32, from: usize, n: usize) -> Vec<Msg> {
    (from..from + n)
        .map(|i| Msg {
            partition: Some(p),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect()
}

#[test]
fn producer_ids_cluster_id_and_leader_epochs_come_from_the_quorum() {
    let ctl = [free_port(), free_port(), free_port()];
    let mut brokers: Vec<Broker> = cluster::start_all(&ctl);
    let mut seen = HashSet::new();
    fresh_ids(&brokers, &mut seen);
    fresh_ids(&brokers, &mut seen);
    let id = one_cluster_id(&brokers);

    // A topic with a partition on broker 3.
    let _ = until(
        "the topic is created",
        || client::try_create_topic(&brokers[0].bootstrap(), "epochs", 3, 1),
        |r| r.is_ok() || r.as_ref().err().map(String::as_str) == Some("TopicAlreadyExists"),
    );
    let p = until(
        "a partition led by broker 3",
        || (0..3).find(|&p| leader(&brokers[0], "epochs", p).is_some_and(|(l, _)| l == 3)),
        |p| p.is_some(),
    )
    .unwrap();
    let (_, first_epoch) = until(
        "broker 3 knows it leads",
        || leader(&brokers[2], "epochs", p),
        |l| l.is_some_and(|(l, _)| l == 3),
    )
    .unwrap();
    assert_eq!(with_epoch(&brokers[2], "epochs", p, first_epoch), (0, 0));
    assert_eq!(with_epoch(&brokers[2], "epochs", p, -1), (0, 0));
    let sent = client::produce(
        &brokers[0].bootstrap(),
        "epochs",
        &msgs(p, 0, 10),
        &[("enable.idempotence", "true")],
    );
    assert_eq!(sent.len(), 10);

    // Broker 3 killed: fenced after its session, its partition loses its leader (a new epoch);
    // restarted, it leads it again (another one).
    brokers[2].kill9();
    until(
        "the partition has no leader",
        || leader(&brokers[0], "epochs", p),
        |l| l.is_some_and(|(l, _)| l == -1),
    );
    brokers[2].restart();
    let (_, epoch) = until(
        "broker 3 leads again, at a newer epoch, in its own Metadata",
        || leader(&brokers[2], "epochs", p),
        |l| l.is_some_and(|(l, e)| l == 3 && e > first_epoch),
    )
    .unwrap();
    assert_eq!(
        with_epoch(&brokers[2], "epochs", p, first_epoch),
        (FENCED_LEADER_EPOCH, FENCED_LEADER_EPOCH)
    );
    assert_eq!(
        with_epoch(&brokers[2], "epochs", p, epoch + 1),
        (UNKNOWN_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH)
    );
    assert_eq!(with_epoch(&brokers[2], "epochs", p, epoch), (0, 0));
    assert_eq!(with_epoch(&brokers[2], "epochs", p, -1), (0, 0));
    // librdkafka (which sends leader epochs) keeps producing and consuming.
    let sent = client::produce(
        &brokers[0].bootstrap(),
        "epochs",
        &msgs(p, 10, 10),
        &[("enable.idempotence", "true")],
    );
    assert_eq!(sent.len(), 10);
    let got = client::consume(
        &brokers[0].bootstrap(),
        "epochs",
        &[p],
        Offset::Beginning,
        20,
        &[],
    );
    assert_eq!(got.len(), 20);

    // After restarts: the same cluster id, and no producer id handed out twice.
    assert!(brokers[1].stop());
    brokers[1].restart();
    fresh_ids(&brokers, &mut seen);
    assert_eq!(one_cluster_id(&brokers), id);
}

#[test]
fn an_upgraded_single_node_keeps_its_cluster_id_and_never_repeats_a_producer_id() {
    let mut b = Broker::start_with(&["--cores", "2"]);
    assert!(b.stop());
    // A data directory from before the quorum: its own cluster id and local id blocks.
    std::fs::remove_dir_all(b.data_dir().join("controller")).unwrap();
    let old = "UpgradedClusterId00001";
    std::fs::write(
        b.data_dir().join("meta.properties"),
        format!("version=1\ncluster.id={old}\nnode.id=1\n"),
    )
    .unwrap();
    let local = b.data_dir().join("producer-ids");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("core-0"), "3\n").unwrap();
    std::fs::write(local.join("core-1"), "2\n").unwrap();
    b.restart();
    let brokers = [b];
    let mut seen = HashSet::new();
    fresh_ids(&brokers, &mut seen);
    // Core 0's last local block ended at (2 * 1024 + 1) * 1000.
    assert!(
        seen.iter().all(|&id| id >= (2 * 1024 + 1) * 1000),
        "{seen:?}"
    );
    assert_eq!(one_cluster_id(&brokers), old);
    let [mut b] = brokers;
    assert!(b.stop());
    b.restart();
    let brokers = [b];
    fresh_ids(&brokers, &mut seen);
    assert_eq!(one_cluster_id(&brokers), old);
}

#[test]
fn a_data_directory_of_another_cluster_refuses_to_start() {
    let b = Broker::start();
    let brokers = [b];
    let id = one_cluster_id(&brokers);
    let [mut b] = brokers;
    assert!(b.stop());
    let other = "AnotherClusterId000001";
    std::fs::write(
        b.data_dir().join("meta.properties"),
        format!("version=1\ncluster.id={other}\nnode.id=1\n"),
    )
    .unwrap();
    let log = b.data_dir().with_file_name("refused.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = b
        .command()
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!(
                "the broker did not stop: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{text}");
    assert!(text.contains(&id) && text.contains(other), "{text}");
    // Nothing was rewritten: the directory still names its own cluster.
    let stored = std::fs::read_to_string(b.data_dir().join("meta.properties")).unwrap();
    assert!(stored.contains(other));
}

#[test]
fn without_a_quorum_init_producer_id_is_a_retriable_error_not_a_hang() {
    // Broker 1 alone of three voters: no leader, no registration, no producer id block.
    let ctl = [free_port(), free_port(), free_port()];
    let b = cluster::start(1, &ctl);
    let start = Instant::now();
    const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    assert_eq!(producer_ids(&b, 1), Err(COORDINATOR_LOAD_IN_PROGRESS));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}
