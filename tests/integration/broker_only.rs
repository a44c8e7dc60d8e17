//! A broker without a controller (`process.roles = "broker"`), with the real binary on
//! loopback: three combined brokers (config/cluster/broker-N.toml) are the quorum, and a fourth
//! node, broker 4, is a client of their voters. It registers and is listed by the others'
//! Metadata, a topic created through it is placed on all four brokers, librdkafka produces and
//! consumes through it, and it survives the active controller's kill -9 (a new topic is created
//! through it afterwards) and the loss of every voter (it keeps serving, and changes topics again
//! once they are back). Stopped with SIGTERM, it is fenced through the remote quorum at once.
//! A Kafka client that connects to a controller listener is refused with a clear log line.

use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{self, config as cluster_config, until_some as until};
use common::raw::{closed, framed, Conn};
use common::{free_port, Broker};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;

/// The config of broker 4: broker 1's file with another node.id, the broker role only, and no
/// controller listener.
fn broker_only_config(ctl: &[u16; 3]) -> String {
    let text = cluster_config(1, ctl);
    assert!(
        text.contains("node.id = 1\n") && text.contains("process.roles = \"broker,controller\"")
    );
    text.replace("node.id = 1\n", "node.id = 4\n")
        .replace(
            "process.roles = \"broker,controller\"",
            "process.roles = \"broker\"",
        )
        .lines()
        .filter(|l| !l.starts_with("listeners"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Metadata v12 of `topics` from `b`: listed broker ids, the controller id, and
/// (topic, partition, leader, error) of every partition.
type Listing = (BTreeSet<i32>, i32, Vec<(String, i32, i32, i16)>);

fn metadata(b: &Broker, topics: &[&str]) -> Option<Listing> {
    TcpStream::connect(("127.0.0.1", b.port)).ok()?;
    let mut conn = Conn::open(b);
    let mut req = MetadataRequest::default();
    req.topics = Some(
        topics
            .iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.to_string())));
                mt
            })
            .collect(),
    );
    req.allow_auto_topic_creation = false;
    let r = conn.try_call(&req, 12)?;
    let brokers = r.brokers.iter().map(|b| b.node_id.0).collect();
    let parts = r
        .topics
        .iter()
        .flat_map(|t| {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            t.partitions
                .iter()
                .map(move |p| (name.clone(), p.partition_index, p.leader_id.0, p.error_code))
        })
        .collect();
    Some((brokers, r.controller_id.0, parts))
}

fn leaders(l: &Listing) -> BTreeSet<i32> {
    l.2.iter().map(|p| p.2).collect()
}

fn messages(topic_partitions: i32, per: i32, tag: &str) -> Vec<Msg> {
    (0..topic_partitions * per)
        .map(|i| Msg {
            partition: Some(i % topic_partitions),
            value: Some(format!("{tag}-{i}").into_bytes()),
            ..Default::default()
        })
        .collect()
}

#[test]
fn a_broker_without_a_controller_joins_serves_and_survives_the_controllers_loss() {
    let ctl = [free_port(), free_port(), free_port()];
    let mut brokers: Vec<Broker> = cluster::start_all(&ctl);
    let mut b4 = Broker::start_with_config(&broker_only_config(&ctl), &["--cores", "1"]);
    let four: BTreeSet<i32> = [1, 2, 3, 4].into();
    // Registered through the remote quorum: every broker lists it, and it lists everyone.
    for b in brokers.iter().chain(std::iter::once(&b4)) {
        until(
            "Metadata lists four brokers",
            || metadata(b, &[]),
            |l| l.0 == four,
        );
    }
    assert!(b4
        .log_text()
        .contains("registered with the controller quorum"));
    assert!(
        b4.log_text().contains("none (process.roles = broker)"),
        "{}",
        b4.log_text()
    );

    // A topic created through broker 4 is placed on all four brokers.
    client::create_topic(&b4.bootstrap(), "spread", 8);
    let placed = until(
        "eight partitions led by four brokers",
        || metadata(&brokers[0], &["spread"]),
        |l| l.2.len() == 8 && l.2.iter().all(|p| p.3 == 0) && leaders(l) == four,
    );
    let on4: Vec<i32> = placed.2.iter().filter(|p| p.2 == 4).map(|p| p.1).collect();
    assert_eq!(on4.len(), 2, "{placed:?}");
    until(
        "broker 4 lists the topic as led by four brokers",
        || metadata(&b4, &["spread"]),
        |l| l.2.len() == 8 && leaders(l) == four,
    );
    // librdkafka through broker 4 alone: every partition written and read back.
    let msgs = messages(8, 5, "a");
    let acked = client::produce(&b4.bootstrap(), "spread", &msgs, &[("acks", "all")]);
    assert_eq!(acked.len(), 40);
    let all: Vec<i32> = (0..8).collect();
    let got = client::consume(&b4.bootstrap(), "spread", &all, Offset::Beginning, 40, &[]);
    assert_eq!(got.len(), 40);
    for p in 0..8 {
        assert_eq!(got.iter().filter(|g| g.partition == p).count(), 5, "p{p}");
    }
    // Broker 4's own partitions live in its data directory.
    for p in &on4 {
        assert!(
            b4.data_dir().join(format!("spread-{p}")).exists(),
            "spread-{p} on broker 4"
        );
    }

    // The active controller's node dies: broker 4 follows the new leader and keeps serving.
    let (_, controller, _) = until(
        "an active controller",
        || metadata(&brokers[0], &[]),
        |l| (1..=3).contains(&l.1),
    );
    brokers[controller as usize - 1].kill9();
    let rest: BTreeSet<i32> = four.iter().copied().filter(|&b| b != controller).collect();
    until(
        "broker 4 lists the survivors and itself",
        || metadata(&b4, &[]),
        |l| l.0 == rest && l.1 != controller,
    );
    client::create_topic(&b4.bootstrap(), "after", 3);
    until(
        "the topic created through broker 4 after the controller's loss",
        || metadata(&b4, &["after"]),
        |l| l.2.len() == 3 && l.2.iter().all(|p| p.3 == 0),
    );
    let more: Vec<Msg> = on4
        .iter()
        .map(|&p| Msg {
            partition: Some(p),
            value: Some(b"after".to_vec()),
            ..Default::default()
        })
        .collect();
    let acked = client::produce(&b4.bootstrap(), "spread", &more, &[("acks", "all")]);
    assert_eq!(acked.len(), on4.len(), "broker 4 still takes writes");
    assert!(
        b4.log_text().contains("broker unfenced") && !b4.log_text().contains("panicked"),
        "{}",
        b4.log_text()
    );

    // Every voter down: broker 4 keeps serving what it has (Metadata, its own partitions).
    for b in brokers.iter_mut() {
        b.kill9();
    }
    let asked = Instant::now();
    let (listed, _, _) = metadata(&b4, &["spread"]).expect("broker 4 answers Metadata");
    assert!(listed.contains(&4), "{listed:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let acked = client::produce(&b4.bootstrap(), "spread", &more, &[("acks", "all")]);
    assert_eq!(
        acked.len(),
        on4.len(),
        "broker 4 takes writes without a quorum"
    );
    // The voters come back: broker 4 finds the new leader and changes topics again.
    for b in brokers.iter_mut() {
        b.restart();
    }
    let _created = until(
        "a topic created through broker 4 once the voters are back",
        || Some(client::try_create_topic(&b4.bootstrap(), "back", 2, 1)),
        // An earlier try whose answer was lost may have created it.
        |r| r.is_ok() || r.as_ref().is_err_and(|e| e == "TopicAlreadyExists"),
    );
    until(
        "broker 4 lists the new topic",
        || metadata(&b4, &["back"]),
        |l| l.2.len() == 2 && l.2.iter().all(|p| p.3 == 0),
    );

    // SIGTERM: the controlled shutdown goes through the remote quorum.
    let survivor = brokers
        .iter()
        .position(|b| b.child.is_some())
        .expect("a survivor");
    let stopped = Instant::now();
    assert!(b4.stop(), "clean stop: {}", b4.log_text());
    assert!(
        b4.log_text()
            .contains("controlled shutdown: fenced by the quorum"),
        "{}",
        b4.log_text()
    );
    until(
        "broker 4 unlisted at once",
        || metadata(&brokers[survivor], &["spread"]),
        |l| !l.0.contains(&4) && l.2.iter().filter(|p| on4.contains(&p.1)).all(|p| p.2 == -1),
    );
    assert!(stopped.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_kafka_client_at_a_controller_listener_is_refused_clearly() {
    let ctl = [free_port(), free_port(), free_port()];
    let b1 = cluster::start(1, &ctl);
    // An ApiVersions v0 request, as a Kafka client sends first.
    let mut s = TcpStream::connect(("127.0.0.1", ctl[0])).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = [0u8, 18, 0, 0, 0, 0, 0, 1, 0, 3, b'c', b'l', b'i'];
    s.write_all(&framed(&body)).unwrap();
    let asked = Instant::now();
    assert!(closed(s), "the controller listener closes the connection");
    assert!(asked.elapsed() < Duration::from_secs(6));
    until(
        "the controller says why",
        || Some(b1.log_text()),
        |log| log.contains("Kafka clients connect to a broker's listeners"),
    );
}
