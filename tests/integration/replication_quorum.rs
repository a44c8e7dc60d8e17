//! Issue 21's acceptance on the ISR with the controller quorum apart from the brokers (how
//! production clusters run, Kafka's KRaft controllers): one controller-only node is the quorum,
//! three broker-only nodes hold a topic with three replicas and `min.insync.replicas=2`, and
//! librdkafka produces with acks=all.
//!
//! - With one broker down (kill -9), acks=all goes on (the dead replica leaves the ISR).
//! - With two down, acks=all is refused with NOT_ENOUGH_REPLICAS (the ISR is the survivor
//!   alone), and nothing is appended: an acks=1 produce lands at the next offset.
//! - When one comes back it catches up, rejoins the ISR, and acks=all is accepted again.
//!
//! With three combined nodes the second kill would also take the controller quorum's
//! majority (no ISR change could commit), which is why the quorum is apart here.

use crate::common;

use std::time::Duration;

use common::acks::{code, create, leader_isr, produce_one};
use common::apart::Apart;
use common::cluster::until_some;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

/// One acks=1 produce: the offset it got.
fn produce_acks1(bootstrap: &str, topic: &str) -> i64 {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "1")
        .set("message.timeout.ms", "20000")
        .create()
        .expect("producer");
    let rec = FutureRecord::<(), str>::to(topic)
        .payload("one")
        .partition(0);
    futures_lite::future::block_on(p.send(rec, Duration::from_secs(20)))
        .map(|d| d.offset)
        .expect("acks=1 produce")
}

#[test]
fn two_of_three_brokers_down_refuse_acks_all_until_one_returns() {
    let mut apart =
        Apart::start("broker.session.timeout.ms = 3000\nreplica.lag.time.max.ms = 2000\n");
    let brokers = &mut apart.brokers;
    let all: String = brokers
        .iter()
        .map(|b| b.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    create(&all, "mi2", &[("min.insync.replicas", "2")]);
    until_some(
        "led, three in sync",
        || leader_isr(&all, "mi2"),
        |(_, isr)| isr.len() == 3,
    );
    let (r, _) = produce_one(&all, "mi2", 10_000);
    assert_eq!(r.as_ref().ok(), Some(&0), "{r:?}");

    // One broker down, a follower: acks=all goes on once it left the ISR.
    let (leader, _) = leader_isr(&all, "mi2").unwrap();
    let followers: Vec<i32> = (1..=3).filter(|id| *id != leader).collect();
    brokers[followers[0] as usize - 1].kill9();
    let addrs: Vec<String> = brokers.iter().map(|b| b.bootstrap()).collect();
    let live = |down: &[i32]| -> String {
        addrs
            .iter()
            .enumerate()
            .filter(|(i, _)| !down.contains(&(*i as i32 + 1)))
            .map(|(_, a)| a.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let one_down = live(&followers[..1]);
    let (r, _) = until_some(
        "acks=all accepted with one broker down",
        || Some(produce_one(&one_down, "mi2", 15_000)),
        |(r, _)| r.is_ok(),
    );
    assert_eq!(r.as_ref().ok(), Some(&1), "{r:?}");

    // Two down: the ISR is the leader alone, below the minimum of 2.
    brokers[followers[1] as usize - 1].kill9();
    let two_down = live(&followers);
    until_some(
        "the ISR is the leader alone",
        || leader_isr(&two_down, "mi2"),
        |(l, isr)| *l == leader && *isr == vec![leader],
    );
    let (r, _) = produce_one(&two_down, "mi2", 10_000);
    assert_eq!(
        code(&r),
        Some(RDKafkaErrorCode::NotEnoughReplicas),
        "acks=all with the ISR below min.insync.replicas: {r:?}"
    );
    // Nothing was appended by the refused produce: acks=1 takes the next offset.
    assert_eq!(produce_acks1(&two_down, "mi2"), 2);

    // One returns: it catches up, rejoins the ISR, and acks=all is accepted again.
    brokers[followers[0] as usize - 1].restart();
    until_some(
        "the returned broker rejoins the ISR",
        || leader_isr(&two_down, "mi2"),
        |(_, isr)| isr.len() == 2 && isr.contains(&followers[0]),
    );
    let (r, _) = produce_one(&all, "mi2", 15_000);
    assert_eq!(r.as_ref().ok(), Some(&3), "{r:?}");
}
