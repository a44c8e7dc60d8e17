//! High watermarks across restarts and ISR changes (docs/replication.md step 6) with the real
//! binary on loopback and librdkafka; the controller quorum apart from the three brokers
//! (tests/common/apart.rs), so that stopping brokers never costs the quorum its majority.
//!
//! - The high-watermark checkpoint: a leader whose followers are paused (SIGSTOP) takes
//!   records they never fetch (after one their fetches in flight may carry); its `replication-offset-checkpoint.0` holds the high watermark
//!   (not its log end) while it runs and after a clean stop, and once restarted its visible
//!   offset starts there: the records above it are not exposed (before step 6 it started at
//!   its whole log). When the followers return, the new leader's log wins: that tail is cut
//!   and a consumer reads the replicated records and the new ones only.
//! - NOT_ENOUGH_REPLICAS_AFTER_APPEND: with `min.insync.replicas=3`, an acks=all produce that
//!   waits on a paused follower is answered once the leader dropped it from the ISR (the
//!   shrink commits while the produce waits), with error 20 as librdkafka reports it.

use crate::common;

use std::time::Duration;

use common::acks::{code, create, leader_isr, produce_one};
use common::apart::{signal, Apart};
use common::client::{self, Msg};
use common::cluster::until_some;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::Offset;

fn msgs(n: usize, tag: &str) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            value: Some(format!("{tag}-{i}").into_bytes()),
            partition: Some(0),
            ..Msg::default()
        })
        .collect()
}

fn checkpoint(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("replication-offset-checkpoint.0")).unwrap_or_default()
}

#[test]
fn a_restarted_broker_starts_at_its_checkpointed_high_watermark() {
    // Sessions longer than the test: the paused followers stay unfenced (and in the ISR).
    let mut c = Apart::start(
        "broker.session.timeout.ms = 60000\n\
         replica.high.watermark.checkpoint.interval.ms = 200\n",
    );
    let all = c.bootstrap(&[]);
    create(&all, "hw", &[]);
    until_some(
        "led, three in sync",
        || leader_isr(&all, "hw"),
        |(_, isr)| isr.len() == 3,
    );
    let first = msgs(10, "first");
    client::produce(&all, "hw", &first, &[("acks", "all")]);
    for id in 1..=3 {
        until_some(
            &format!("broker {id} has hw-0 up to 10"),
            || c.offsets(id, "hw", 0),
            |o| *o == (10, 10),
        );
    }
    let (leader, _) = leader_isr(&all, "hw").unwrap();
    let followers: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    for &f in &followers {
        signal(c.broker(f), libc::SIGSTOP);
    }
    // The paused followers' fetches in flight are answered with one record (the answer
    // waits in their sockets); then a tail they never fetch: the leader's log end moves, its
    // high watermark does not.
    let only_leader = c.broker(leader).bootstrap();
    let one = msgs(1, "one");
    client::produce(&only_leader, "hw", &one, &[("acks", "1")]);
    std::thread::sleep(Duration::from_millis(300));
    client::produce(&only_leader, "hw", &msgs(5, "tail"), &[("acks", "1")]);
    until_some(
        "the leader took the tail",
        || c.offsets(leader, "hw", 0),
        |o| *o == (16, 10),
    );
    let dir = c.broker(leader).data_dir().to_path_buf();
    until_some(
        "the periodic checkpoint",
        || Some(checkpoint(&dir)),
        |t| t == "0\n1\nhw 0 10\n",
    );
    // A clean stop writes it once more: still the high watermark, not the log end.
    assert!(c.broker(leader).stop(), "clean stop");
    assert_eq!(checkpoint(&dir), "0\n1\nhw 0 10\n");
    // Restarted (a follower now: its controlled shutdown moved the leadership to a paused
    // follower), its visible offset starts at the checkpoint.
    c.broker(leader).restart();
    let (leo, hw) = until_some(
        "the restarted broker reports hw-0",
        || c.offsets(leader, "hw", 0),
        |o| o.0 == 16,
    );
    assert_eq!((leo, hw), (16, 10), "visible offset from the checkpoint");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.offsets(leader, "hw", 0), Some((16, 10)), "still held");

    // The followers return; the new leader's log is the partition's.
    for &f in &followers {
        signal(c.broker(f), libc::SIGCONT);
    }
    let second = msgs(5, "second");
    let offsets = client::produce(&all, "hw", &second, &[("acks", "all")]);
    let start = offsets[0].1;
    assert!(
        (10..=11).contains(&start),
        "the new leader goes on from what the followers fetched, not the tail: {start}"
    );
    let end = start + 5;
    for id in 1..=3 {
        until_some(
            &format!("broker {id} has hw-0 up to {end}"),
            || c.offsets(id, "hw", 0),
            |o| *o == (end, end),
        );
    }
    let got = client::consume(
        &all,
        "hw",
        &[0],
        Offset::Beginning,
        end as usize,
        &[("isolation.level", "read_uncommitted")],
    );
    let values: Vec<Vec<u8>> = got.iter().map(|g| g.value.clone().unwrap()).collect();
    let fetched = if start == 11 { &one[..] } else { &[] };
    let want: Vec<Vec<u8>> = first
        .iter()
        .chain(fetched)
        .chain(&second)
        .map(|m| m.value.clone().unwrap())
        .collect();
    assert_eq!(values, want);
}

#[test]
fn acks_all_gets_not_enough_replicas_after_append_when_the_isr_shrinks_meanwhile() {
    let mut c = Apart::start(
        "broker.session.timeout.ms = 60000\n\
         replica.lag.time.max.ms = 2000\n",
    );
    let all = c.bootstrap(&[]);
    create(&all, "mi3", &[("min.insync.replicas", "3")]);
    until_some(
        "led, three in sync",
        || leader_isr(&all, "mi3"),
        |(_, isr)| isr.len() == 3,
    );
    let (r, _) = produce_one(&all, "mi3", 10_000);
    assert_eq!(r.as_ref().ok(), Some(&0), "{r:?}");
    let (leader, _) = leader_isr(&all, "mi3").unwrap();
    let paused = (1..=3).find(|&b| b != leader).unwrap();
    signal(c.broker(paused), libc::SIGSTOP);
    let rest = c.bootstrap(&[paused]);
    // Appended with three in the ISR; the paused follower never fetches it, the leader drops
    // it after replica.lag.time.max.ms, the high watermark passes the record with two in sync.
    let (r, took) = produce_one(&rest, "mi3", 20_000);
    assert_eq!(
        code(&r),
        Some(RDKafkaErrorCode::NotEnoughReplicasAfterAppend),
        "{r:?} after {took:?}"
    );
    assert!(
        took < Duration::from_secs(15),
        "answered at the shrink: {took:?}"
    );
    let (_, isr) = leader_isr(&rest, "mi3").unwrap();
    assert!(!isr.contains(&paused), "{isr:?}");
    // Now refused before appending, and the record of the refused produce stayed in the log.
    let (r, _) = produce_one(&rest, "mi3", 5_000);
    assert_eq!(code(&r), Some(RDKafkaErrorCode::NotEnoughReplicas), "{r:?}");
    let offsets = client::produce(&rest, "mi3", &msgs(1, "one"), &[("acks", "1")]);
    assert_eq!(offsets[0].1, 2);
    signal(c.broker(paused), libc::SIGCONT);
}
