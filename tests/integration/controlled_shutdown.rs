//! Controlled shutdown with the real binary on loopback: three brokers (copies of
//! config/cluster/broker-N.toml) with a 30 s session timeout, so that a fence well before it can
//! only come from the controlled shutdown. A broker stopped with SIGTERM asks the quorum to
//! fence it: the others stop listing it in Metadata and its partitions answer leader -1 /
//! LEADER_NOT_AVAILABLE at a new leader epoch within seconds; restarted, it leads them again at
//! a higher epoch. With the quorum unreachable the stop still completes within its bound.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{config as cluster_config, within, SESSION_MS, SETTLE};
use common::raw::Conn;
use common::{free_port, Broker};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// The session timeout of these brokers: far longer than anything the test waits for.
const LONG_SESSION_MS: u64 = 30_000;
/// Kafka's LEADER_NOT_AVAILABLE.
const LEADER_NOT_AVAILABLE: i16 = 5;

/// Launches broker `n` (see [`Broker::launch_with_config`]: wait for it before use).
fn launch(n: usize, ctl: &[u16; 3]) -> Broker {
    let short = format!("broker.session.timeout.ms = {SESSION_MS}\n");
    let text = cluster_config(n, ctl);
    assert!(text.contains(&short), "{text}");
    let text = text.replace(
        &short,
        &format!("broker.session.timeout.ms = {LONG_SESSION_MS}\n"),
    );
    Broker::launch_with_config(&text, &["--cores", "1"])
}

/// A partition as Metadata describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    id: i32,
    leader: i32,
    epoch: i32,
    error: i16,
}

/// Metadata v12 of `topic` from `b`: the listed broker ids and the topic's partitions.
fn metadata(b: &Broker, topic: &str) -> Option<(BTreeSet<i32>, Vec<Part>)> {
    let mut conn = Conn::open(b);
    let mut req = MetadataRequest::default();
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(topic.into())));
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    let r = conn.try_call(&req, 12)?;
    let brokers = r.brokers.iter().map(|b| b.node_id.0).collect();
    let mut parts: Vec<Part> = r
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| Part {
            id: p.partition_index,
            leader: p.leader_id.0,
            epoch: p.leader_epoch,
            error: p.error_code,
        })
        .collect();
    parts.sort_by_key(|p| p.id);
    Some((brokers, parts))
}

#[test]
fn a_stopping_broker_is_fenced_at_once_and_leads_again_when_back() {
    let ctl = [free_port(), free_port(), free_port()];
    let mut brokers: Vec<Broker> = (1..=3).map(|n| launch(n, &ctl)).collect();
    for b in &mut brokers {
        b.wait_ready();
    }
    let all: BTreeSet<i32> = [1, 2, 3].into();
    within(
        "three live brokers",
        SETTLE,
        || metadata(&brokers[0], "moving"),
        |(b, _)| *b == all,
    );
    client::create_topic(&brokers[0].bootstrap(), "moving", 6);
    let (_, before) = within(
        "six partitions led by three brokers",
        SETTLE,
        || metadata(&brokers[0], "moving"),
        |(_, p)| {
            p.len() == 6
                && p.iter().all(|p| p.error == 0)
                && p.iter().map(|p| p.leader).collect::<BTreeSet<_>>() == all
        },
    );
    let theirs: Vec<Part> = before.iter().copied().filter(|p| p.leader == 3).collect();
    assert_eq!(theirs.len(), 2, "{before:?}");

    // SIGTERM: a clean stop, which fences broker 3 long before its session would expire.
    let stopped = Instant::now();
    assert!(brokers[2].stop(), "clean stop: {}", brokers[2].log_text());
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(10), "the stop took {took:?}");
    assert!(
        brokers[2]
            .log_text()
            .contains("controlled shutdown: fenced by the quorum"),
        "{}",
        brokers[2].log_text()
    );
    let (listed, fenced) = within(
        "broker 3 unlisted, its partitions without a leader",
        Duration::from_secs(10),
        || metadata(&brokers[1], "moving"),
        |(b, p)| {
            !b.contains(&3)
                && p.len() == 6
                && theirs.iter().all(|t| {
                    // Broker 2 may not have applied the topic's creation yet: no partitions.
                    p.get(t.id as usize).is_some_and(|now| {
                        now.leader == -1 && now.error == LEADER_NOT_AVAILABLE && now.epoch > t.epoch
                    })
                })
        },
    );
    assert!(
        stopped.elapsed() < Duration::from_millis(LONG_SESSION_MS / 2),
        "fenced by the shutdown, not the session: {:?}",
        stopped.elapsed()
    );
    assert_eq!(listed, [1, 2].into());
    // The other brokers' partitions did not move.
    for p in before.iter().filter(|p| p.leader != 3) {
        assert_eq!(fenced[p.id as usize], *p);
    }

    // Back: it registers, is unfenced and leads its partitions again at a higher epoch.
    brokers[2].restart();
    let (_, back) = within(
        "broker 3 leads its partitions again",
        SETTLE,
        || metadata(&brokers[0], "moving"),
        |(b, p)| {
            *b == all
                && theirs.iter().all(|t| {
                    p.get(t.id as usize).is_some_and(|now| {
                        now.leader == 3 && now.error == 0 && now.epoch > fenced[t.id as usize].epoch
                    })
                })
        },
    );
    assert_eq!(back.len(), 6);
    let msgs: Vec<Msg> = theirs
        .iter()
        .map(|p| Msg {
            partition: Some(p.id),
            value: Some(b"back".to_vec()),
            ..Default::default()
        })
        .collect();
    let acked = client::produce(&brokers[0].bootstrap(), "moving", &msgs, &[("acks", "all")]);
    assert_eq!(acked.len(), msgs.len(), "broker 3 takes writes again");

    // The quorum unreachable (two of three voters killed): the stop waits a bounded time for
    // the fence, then completes anyway.
    brokers[0].kill9();
    brokers[1].kill9();
    let stopped = Instant::now();
    assert!(brokers[2].stop(), "clean stop: {}", brokers[2].log_text());
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(12), "the stop took {took:?}");
    assert!(
        brokers[2].log_text().contains("controlled shutdown failed"),
        "{}",
        brokers[2].log_text()
    );
}
