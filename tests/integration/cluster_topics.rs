//! Topics in the controller quorum, with the real binary on loopback and librdkafka's admin
//! client: three brokers started from copies of config/cluster/broker-N.toml (ports rewritten)
//! share their topics through the metadata log: a topic created through one broker has its
//! partitions placed on all three (each broker opens only its own), is listed by every broker,
//! its configs changed through one are seen by all, a second create of its name through another
//! broker is TOPIC_ALREADY_EXISTS, and its deletion through any broker removes every broker's
//! partitions. A single node upgraded from before the quorum (a data directory without a
//! controller) imports its topics.json into the metadata log once, with the same ids and data.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{self, until, SETTLE};
use common::{free_port, Broker};
use futures_lite::future::block_on;
use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use rdkafka::Offset;

/// The partitions of `topic` whose directories `broker` has.
fn local_partitions(data: &Path, topic: &str) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_dir(data)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let p = name.strip_prefix(&format!("{topic}-"))?;
                    p.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The partition count of `topic` in a fresh librdkafka client's Metadata from `bootstrap`.
fn metadata_partitions(bootstrap: &str, topic: &str) -> Option<usize> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let t = md.topics().first()?;
    t.error().is_none().then(|| t.partitions().len())
}

/// How many brokers a fresh librdkafka client's Metadata from `bootstrap` lists.
fn live_brokers(bootstrap: &str) -> usize {
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    c.fetch_metadata(None, Duration::from_secs(5))
        .map(|md| md.brokers().len())
        .unwrap_or(0)
}

/// `retention.ms` of `topic` as DescribeConfigs on `bootstrap` reports it.
fn retention(bootstrap: &str, topic: &str) -> Option<String> {
    let a = client::admin(bootstrap);
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let r = block_on(a.describe_configs([&ResourceSpecifier::Topic(topic)], &opts)).ok()?;
    let cfg = r.into_iter().next()?.ok()?;
    cfg.get("retention.ms").and_then(|e| e.value.clone())
}

/// The topic id of `topic` in `data`/topics.json.
fn stored_id(data: &Path, topic: &str) -> Option<String> {
    let text = std::fs::read_to_string(data.join("topics.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["topics"][topic]["id"].as_str().map(str::to_string)
}

#[test]
fn topics_live_in_the_quorum_and_their_partitions_spread_over_the_brokers() {
    let ctl = [free_port(), free_port(), free_port()];
    let brokers: Vec<Broker> = cluster::start_all(&ctl);
    // Replicas go on the live brokers: wait for all three to be registered and unfenced.
    until(
        "three live brokers",
        || live_brokers(&brokers[0].bootstrap()),
        |n| *n == 3,
    );
    let _ = until(
        "the 6-partition topic is created through broker 1",
        || client::try_create_topic(&brokers[0].bootstrap(), "spread", 6, 1),
        // A retry of a create whose answer was lost finds it made.
        |r| r.is_ok() || r.as_ref().err().map(String::as_str) == Some("TopicAlreadyExists"),
    );
    // Every broker opens its own partitions, two each, and together all six.
    let mut all = Vec::new();
    for b in &brokers {
        let mine = until(
            "each broker opens its partitions",
            || local_partitions(b.data_dir(), "spread"),
            |v| v.len() == 2,
        );
        all.extend(mine);
    }
    all.sort();
    assert_eq!(all, (0..6).collect::<Vec<i32>>());
    // Every broker lists the topic, with one topic id everywhere.
    for b in &brokers {
        until(
            "every broker lists the topic",
            || metadata_partitions(&b.bootstrap(), "spread"),
            |n| *n == Some(6),
        );
    }
    let id = stored_id(brokers[0].data_dir(), "spread").expect("topic id");
    for b in &brokers[1..] {
        until(
            "the same topic id on every broker",
            || stored_id(b.data_dir(), "spread"),
            |v| v.as_deref() == Some(id.as_str()),
        );
    }
    // The name is taken cluster-wide.
    assert_eq!(
        client::try_create_topic(&brokers[2].bootstrap(), "spread", 3, 1),
        Err("TopicAlreadyExists".to_string())
    );
    // More replicas than brokers is refused.
    assert_eq!(
        client::try_create_topic(&brokers[1].bootstrap(), "too-many", 1, 4),
        Err("InvalidReplicationFactor".to_string())
    );
    // A config changed through broker 3 is seen by broker 1.
    let a = client::admin(&brokers[2].bootstrap());
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(15)));
    let change = AlterConfig::new(ResourceSpecifier::Topic("spread")).set("retention.ms", "123456");
    let r = block_on(a.alter_configs([&change], &opts)).unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    until(
        "broker 1 sees the config",
        || retention(&brokers[0].bootstrap(), "spread"),
        |v| v.as_deref() == Some("123456"),
    );
    // Deleted through broker 2: every broker deletes its partitions.
    let r = block_on(a.delete_topics(&["spread"], &opts)).unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    for b in &brokers {
        until(
            "every broker removes its partitions",
            || local_partitions(b.data_dir(), "spread"),
            |v| v.is_empty(),
        );
        until(
            "no broker lists the topic",
            || metadata_partitions(&b.bootstrap(), "spread"),
            |n| n.is_none(),
        );
    }
}

#[test]
fn an_upgraded_single_node_imports_its_topics_once() {
    let mut b = Broker::start();
    client::create_topic_with(&b.bootstrap(), "old", 3, &[("retention.ms", "7777777")]);
    let msgs: Vec<Msg> = (0..30)
        .map(|i| Msg {
            partition: Some(i % 3),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    assert_eq!(client::produce(&b.bootstrap(), "old", &msgs, &[]).len(), 30);
    assert!(b.stop());
    let id = stored_id(b.data_dir(), "old").expect("topic id");
    // A data directory from before the quorum: topics.json and the logs, no controller.
    std::fs::remove_dir_all(b.data_dir().join("controller")).unwrap();
    b.restart();
    let got = client::consume(
        &b.bootstrap(),
        "old",
        &[0, 1, 2],
        Offset::Beginning,
        30,
        &[],
    );
    assert_eq!(got.len(), 30, "the data is kept");
    assert_eq!(stored_id(b.data_dir(), "old").as_deref(), Some(id.as_str()));
    assert_eq!(retention(&b.bootstrap(), "old").as_deref(), Some("7777777"));
    assert!(
        b.log_text()
            .contains("imported topic into the metadata log"),
        "{}",
        b.log_text()
    );
    assert!(b.data_dir().join("controller/topics-imported").exists());
    // From now on the metadata log is the truth: a deleted topic stays deleted after restarts.
    let a = client::admin(&b.bootstrap());
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(15)));
    let r = block_on(a.delete_topics(&["old"], &opts)).unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    assert!(b.stop());
    b.restart();
    // Metadata after the restart, once the broker has caught up with its log.
    client::create_topic(&b.bootstrap(), "new", 1);
    assert_eq!(metadata_partitions(&b.bootstrap(), "old"), None);
    assert!(local_partitions(b.data_dir(), "old").is_empty());
    assert_eq!(metadata_partitions(&b.bootstrap(), "new"), Some(1));
}

/// (partition, leader, error) of every partition of `topic` in Metadata from `bootstrap`.
fn leaders(bootstrap: &str, topic: &str) -> Vec<(i32, i32, bool)> {
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return Vec::new();
    };
    let Ok(md) = c.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return Vec::new();
    };
    md.topics()
        .iter()
        .flat_map(|t| t.partitions().iter())
        .map(|p| (p.id(), p.leader(), p.error().is_some()))
        .collect()
}

/// Reads `expect` messages of `topic` as a member of `group` from `bootstrap`, commits them
/// and leaves; returns their values.
fn consume_in_group(bootstrap: &str, topic: &str, group: &str, expect: usize) -> Vec<String> {
    use rdkafka::consumer::CommitMode;
    use rdkafka::Message;
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let end = Instant::now() + SETTLE;
    while out.len() < expect {
        assert!(Instant::now() < end, "group read {} of {expect}", out.len());
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string());
        }
    }
    c.commit_consumer_state(CommitMode::Sync).unwrap();
    out
}

/// Produce v12 and Fetch v16 of partition `p` of "data" sent to `to`, which does not host it:
/// NOT_LEADER_OR_FOLLOWER naming `leader` and its `port`.
fn not_leader_hints(to: &Broker, p: i32, leader: i32, port: u16) {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{FetchRequest, ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;
    const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    let mut c = common::raw::Conn::open(to);
    let mut pd = PartitionProduceData::default();
    pd.index = p;
    pd.records = Some(common::raw::batch(&["misdirected"]));
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str("data"));
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![td];
    let r = c.call(&req, 12);
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!(pr.error_code, NOT_LEADER_OR_FOLLOWER);
    assert_eq!(pr.current_leader.leader_id.0, leader);
    let e = r.node_endpoints.iter().find(|e| e.node_id.0 == leader);
    assert_eq!(
        e.map(|e| e.port),
        Some(port as i32),
        "{:?}",
        r.node_endpoints
    );

    let mut fp = FetchPartition::default();
    fp.partition = p;
    fp.partition_max_bytes = 1 << 20;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_static_str("data"));
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.replica_id = kafka_protocol::messages::BrokerId(-1);
    req.topics.push(ft);
    // v16 names topics by id: look the id up in this broker's table.
    let id: uuid::Uuid = stored_id(to.data_dir(), "data").unwrap().parse().unwrap();
    req.topics[0].topic_id = id;
    let r = c.call(&req, 16);
    let pd = &r.responses[0].partitions[0];
    assert_eq!(pd.error_code, NOT_LEADER_OR_FOLLOWER);
    assert_eq!(pd.current_leader.leader_id.0, leader);
    let e = r.node_endpoints.iter().find(|e| e.node_id.0 == leader);
    assert_eq!(
        e.map(|e| e.port),
        Some(port as i32),
        "{:?}",
        r.node_endpoints
    );
}

#[test]
fn clients_use_every_partition_through_one_broker_and_a_killed_broker_comes_back() {
    let ctl = [free_port(), free_port(), free_port()];
    let mut brokers: Vec<Broker> = cluster::start_all(&ctl);
    until(
        "three live brokers",
        || live_brokers(&brokers[0].bootstrap()),
        |n| *n == 3,
    );
    client::create_topic(&brokers[1].bootstrap(), "data", 6);
    let led = until(
        "six partitions led by three brokers",
        || leaders(&brokers[0].bootstrap(), "data"),
        |v| {
            v.len() == 6
                && v.iter().all(|p| !p.2)
                && v.iter()
                    .map(|p| p.1)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    == 3
        },
    );
    // librdkafka, bootstrapped from broker 1 only, writes to every partition.
    let msgs: Vec<Msg> = (0..60)
        .map(|i| Msg {
            partition: Some(i % 6),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let acked = client::produce(&brokers[0].bootstrap(), "data", &msgs, &[("acks", "all")]);
    assert_eq!(acked.len(), 60);
    let all: Vec<i32> = (0..6).collect();
    let got = client::consume(
        &brokers[2].bootstrap(),
        "data",
        &all,
        Offset::Beginning,
        60,
        &[],
    );
    assert_eq!(got.len(), 60);
    for p in 0..6 {
        assert_eq!(
            got.iter().filter(|g| g.partition == p).count(),
            10,
            "partition {p}"
        );
    }
    // A consumer group (its coordinator on whichever broker hosts its offsets partition)
    // commits, and a new member resumes after the commit.
    assert_eq!(
        consume_in_group(&brokers[0].bootstrap(), "data", "g", 60).len(),
        60
    );
    let more: Vec<Msg> = (60..66)
        .map(|i| Msg {
            partition: Some(i % 6),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&brokers[1].bootstrap(), "data", &more, &[("acks", "all")]);
    let mut resumed = consume_in_group(&brokers[2].bootstrap(), "data", "g", 6);
    resumed.sort();
    let mut want: Vec<String> = (60..66).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(resumed, want, "the group resumes after its commit");

    // A data request to a broker that does not host the partition: NOT_LEADER_OR_FOLLOWER with
    // the current leader and its endpoint (KIP-951).
    let (p2, _, _) = *led.iter().find(|p| p.1 == 2).unwrap();
    not_leader_hints(&brokers[0], p2, 2, brokers[1].port);

    // Broker 3 killed: its partitions lose their leader, the others keep serving.
    brokers[2].kill9();
    let theirs: Vec<i32> = led.iter().filter(|p| p.1 == 3).map(|p| p.0).collect();
    assert_eq!(theirs.len(), 2, "{led:?}");
    until(
        "broker 3's partitions have no leader",
        || leaders(&brokers[0].bootstrap(), "data"),
        |v| {
            v.iter()
                .filter(|p| theirs.contains(&p.0))
                .all(|p| p.1 == -1 && p.2)
        },
    );
    let alive: Vec<i32> = (0..6).filter(|p| !theirs.contains(p)).collect();
    let during: Vec<Msg> = alive
        .iter()
        .map(|&p| Msg {
            partition: Some(p),
            value: Some(format!("during-{p}").into_bytes()),
            ..Default::default()
        })
        .collect();
    assert_eq!(
        client::produce(&brokers[0].bootstrap(), "data", &during, &[]).len(),
        alive.len()
    );
    // Restarted, it leads its partitions again with every acknowledged record.
    brokers[2].restart();
    until(
        "broker 3 leads its partitions again",
        || leaders(&brokers[0].bootstrap(), "data"),
        |v| v.len() == 6 && v.iter().all(|p| !p.2 && p.1 > 0),
    );
    let got = client::consume(
        &brokers[0].bootstrap(),
        "data",
        &all,
        Offset::Beginning,
        66 + alive.len(),
        &[],
    );
    for &p in &theirs {
        assert_eq!(
            got.iter().filter(|g| g.partition == p).count(),
            11,
            "partition {p}"
        );
    }
}
