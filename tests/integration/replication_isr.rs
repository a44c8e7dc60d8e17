//! acks=all and the ISR (docs/replication.md step 5) with the real binary on loopback and
//! librdkafka: three brokers, topics with three replicas.
//!
//! - With one broker down, acks=all goes on for a topic with `min.insync.replicas=2` and is
//!   refused with NOT_ENOUGH_REPLICAS (the code librdkafka reports) for one with 3 (two down
//!   would leave the three-voter quorum without a majority, so no ISR change could commit);
//!   it succeeds again once the returned broker caught up and rejoined the ISR (Metadata).
//! - A follower paused with SIGSTOP (the session timeout long, so it is not fenced) holds
//!   acks=all: a produce with a short timeout is answered REQUEST_TIMED_OUT, and one with a
//!   long timeout only once the leader dropped the follower from the ISR after
//!   `replica.lag.time.max.ms`; after SIGCONT the follower catches up and rejoins.

use crate::common;

use std::time::Duration;

use common::acks::{code, create, leader_isr, produce_one};
use common::client;
use common::cluster::{self, until_some};
use common::metrics::{scrape, value};
use common::raw::{batch, Conn};
use common::{free_port, Broker};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::error::RDKafkaErrorCode;

/// `replica.lag.time.max.ms` of the test brokers.
const LAG_MS: u64 = 2000;

/// Three brokers with `replica.lag.time.max.ms` = [`LAG_MS`] and `session_ms` as
/// `broker.session.timeout.ms`, their metrics on known ports.
struct Cluster {
    brokers: Vec<Broker>,
    metrics: Vec<u16>,
}

impl Cluster {
    fn start(session_ms: u64) -> Cluster {
        let ctl = [free_port(), free_port(), free_port()];
        let metrics: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut brokers: Vec<Broker> = (1..=3)
            .map(|n| {
                let listen = format!("127.0.0.1:{}", metrics[n - 1]);
                let mut toml = cluster::config(n, &ctl).replace(
                    &format!("broker.session.timeout.ms = {}", cluster::SESSION_MS),
                    &format!("broker.session.timeout.ms = {session_ms}"),
                );
                toml.push_str(&format!("replica.lag.time.max.ms = {LAG_MS}\n"));
                Broker::launch_with_config(&toml, &["--cores", "1", "--metrics-listen", &listen])
            })
            .collect();
        for b in &mut brokers {
            b.wait_ready();
        }
        Cluster { brokers, metrics }
    }

    /// Bootstrap list of the brokers not in `except` (1-based ids).
    fn bootstrap(&self, except: &[i32]) -> String {
        self.brokers
            .iter()
            .enumerate()
            .filter(|(i, _)| !except.contains(&(*i as i32 + 1)))
            .map(|(_, b)| b.bootstrap())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn broker(&self, id: i32) -> &Broker {
        &self.brokers[id as usize - 1]
    }
}

/// A raw Produce v9 of one record with acks=all and `timeout_ms` to `b`: the error code.
fn raw_produce(b: &Broker, topic: &str, timeout_ms: i32) -> i16 {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch(&["raw"]));
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = timeout_ms;
    req.topic_data = vec![td];
    let r = Conn::open(b).call(&req, 9);
    r.responses[0].partition_responses[0].error_code
}

#[test]
fn min_insync_replicas_with_a_broker_down_and_back() {
    // The three brokers are also the three controller voters: with two down the quorum is
    // lost (no ISR change can commit), so the ISR is made smaller than the minimum with one
    // broker down and `min.insync.replicas=3` on a second topic.
    let mut c = Cluster::start(cluster::SESSION_MS);
    let all = c.bootstrap(&[]);
    create(&all, "mi2", &[("min.insync.replicas", "2")]);
    create(&all, "mi3", &[("min.insync.replicas", "3")]);
    for t in ["mi2", "mi3"] {
        until_some(
            "led, three in sync",
            || leader_isr(&all, t),
            |(_, isr)| isr.len() == 3,
        );
        let (r, _) = produce_one(&all, t, 10_000);
        assert_eq!(r.as_ref().ok(), Some(&0), "{t}: {r:?}");
    }
    // A broker that leads neither goes down: fenced, out of both ISRs.
    let (l2, _) = leader_isr(&all, "mi2").unwrap();
    let (l3, _) = leader_isr(&all, "mi3").unwrap();
    let victim = (1..=3)
        .find(|&b| b != l2 && b != l3)
        .expect("a broker leading neither");
    c.brokers[victim as usize - 1].kill9();
    let rest = c.bootstrap(&[victim]);
    for t in ["mi2", "mi3"] {
        until_some(
            "the killed broker left the ISR",
            || leader_isr(&rest, t),
            |(_, isr)| isr.len() == 2 && !isr.contains(&victim),
        );
    }
    // Two in sync: enough for min.insync.replicas=2, not for 3 (refused before appending).
    let (r, _) = produce_one(&rest, "mi2", 10_000);
    assert_eq!(r.as_ref().ok(), Some(&1), "{r:?}");
    let (r, _) = produce_one(&rest, "mi3", 5_000);
    assert_eq!(code(&r), Some(RDKafkaErrorCode::NotEnoughReplicas), "{r:?}");
    let m = scrape(c.metrics[l3 as usize - 1]);
    assert!(
        value(
            &m,
            "runnel_request_errors_total",
            &[("api", "Produce"), ("code", "19")]
        ) >= 1.0
    );
    // acks=1 is not held to the minimum.
    let one = client::produce(
        &rest,
        "mi3",
        &[client::Msg {
            value: Some(b"one".to_vec()),
            partition: Some(0),
            ..client::Msg::default()
        }],
        &[("acks", "1")],
    );
    assert_eq!(
        one,
        vec![(0, 1)],
        "nothing was appended by the refused produce"
    );
    // The broker returns: it catches up, the leaders add it back, acks=all succeeds again.
    c.brokers[victim as usize - 1].restart();
    for t in ["mi2", "mi3"] {
        until_some(
            "the returned broker rejoined the ISR",
            || leader_isr(&all, t),
            |(_, isr)| isr.len() == 3,
        );
    }
    let (r, _) = produce_one(&all, "mi3", 10_000);
    assert_eq!(r.as_ref().ok(), Some(&2), "{r:?}");
    let expands: f64 = [l2, l3]
        .iter()
        .map(|&l| {
            value(
                &scrape(c.metrics[l as usize - 1]),
                "runnel_isr_expands_total",
                &[],
            )
        })
        .sum();
    assert!(expands >= 1.0);
}

#[test]
fn a_paused_follower_holds_acks_all_until_it_leaves_the_isr() {
    // Sessions far longer than the test: a paused broker is never fenced, only the leader's
    // lag check can take it out of the ISR.
    let c = Cluster::start(120_000);
    let all = c.bootstrap(&[]);
    create(&all, "lag", &[]);
    let (leader, _) = until_some(
        "led, three in sync",
        || leader_isr(&all, "lag"),
        |(_, isr)| isr.len() == 3,
    );
    let (r, _) = produce_one(&all, "lag", 10_000);
    assert_eq!(r.as_ref().ok(), Some(&0), "{r:?}");
    let paused = (1..=3).find(|&b| b != leader).unwrap();
    signal(c.broker(paused), libc::SIGSTOP);
    // Not answered before the paused follower has it: a short timeout expires.
    let lb = c.broker(leader);
    assert_eq!(raw_produce(lb, "lag", 300), REQUEST_TIMED_OUT);
    // A long one is answered once the leader dropped the follower from the ISR.
    let (r, took) = produce_one(&lb.bootstrap(), "lag", 20_000);
    assert!(r.is_ok(), "{r:?}");
    let running = c.bootstrap(&[paused]);
    let (_, isr) = leader_isr(&running, "lag").expect("metadata");
    assert!(!isr.contains(&paused), "{isr:?}");
    assert_eq!(isr.len(), 2);
    assert!(
        took >= Duration::from_millis(LAG_MS / 4),
        "answered after {took:?}, before the follower left the ISR"
    );
    let m = scrape(c.metrics[leader as usize - 1]);
    assert!(value(&m, "runnel_isr_shrinks_total", &[]) >= 1.0);
    assert!(value(&m, "runnel_under_replicated_partitions", &[]) >= 1.0);
    // Back: it catches up and rejoins; acks=all waits for it again.
    signal(c.broker(paused), libc::SIGCONT);
    until_some(
        "the paused follower rejoined",
        || leader_isr(&all, "lag"),
        |(_, isr)| isr.len() == 3,
    );
    let (r, _) = produce_one(&all, "lag", 10_000);
    assert!(r.is_ok(), "{r:?}");
    // Gauges are published once a second.
    let settled = until_some(
        "an expand, nothing under-replicated",
        || {
            let m = scrape(c.metrics[leader as usize - 1]);
            Some((
                value(&m, "runnel_isr_expands_total", &[]),
                value(&m, "runnel_under_replicated_partitions", &[]),
            ))
        },
        |&(expands, under)| expands >= 1.0 && under == 0.0,
    );
    assert!(settled.0 >= 1.0);
}

/// Kafka's REQUEST_TIMED_OUT.
const REQUEST_TIMED_OUT: i16 = 7;

/// Sends `sig` to broker `b`'s process.
fn signal(b: &Broker, sig: i32) {
    let pid = b.child.as_ref().expect("running").id() as i32;
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}
