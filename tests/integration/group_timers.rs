//! Group timers fire at their deadlines (issue 18, item 5): static members that close (and so
//! do not leave) expire when their session timeout ends, not on the next turn of a sweep, and
//! the timer task does not wake up periodically while nothing is due.

use crate::common;

use std::time::{Duration, Instant};

use common::metrics::{scrape, value};
use common::{client, free_port, Broker};
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

fn member(b: &Broker, group: &str, instance: &str) -> BaseConsumer {
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", group)
        .set("group.instance.id", instance)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .unwrap();
    c.subscribe(&["timers"]).unwrap();
    c
}

fn delete_group(b: &Broker, group: &str) -> Result<(), RDKafkaErrorCode> {
    let admin = client::admin(&b.bootstrap());
    let r = futures_lite::future::block_on(admin.delete_groups(&[group], &AdminOptions::new()))
        .expect("DeleteGroups");
    match &r[0] {
        Ok(_) => Ok(()),
        Err((_, code)) => Err(*code),
    }
}

#[test]
fn closed_static_members_expire_at_their_session_deadline() {
    let b = Broker::start_with_config("group.initial.rebalance.delay.ms = 0\n", &[]);
    client::create_topic(&b.bootstrap(), "timers", 3);
    let members: Vec<BaseConsumer> = (0..3)
        .map(|i| member(&b, "static-g", &format!("i{i}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Every member must hold a partition: three partitions over two members also sum to three,
    // and a member whose join is still pending would start a fresh session after the others close.
    while !members
        .iter()
        .all(|m| m.assignment().map(|a| a.count()).unwrap_or(0) == 1)
    {
        assert!(Instant::now() < deadline, "the group never formed");
        for m in &members {
            let _ = m.poll(Duration::from_millis(50));
        }
    }
    drop(members);
    let closed = Instant::now();
    // Static members do not leave on close: the group keeps them until their sessions end.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        delete_group(&b, "static-g"),
        Err(RDKafkaErrorCode::NonEmptyGroup)
    );
    let gone_by = closed + Duration::from_millis(6_000 + 1_000);
    loop {
        match delete_group(&b, "static-g") {
            Ok(()) => break,
            Err(RDKafkaErrorCode::NonEmptyGroup) => {
                assert!(
                    Instant::now() < gone_by,
                    "members still there 1 s after their session timeout"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("DeleteGroups: {e:?}"),
        }
    }
}

#[test]
fn the_timer_task_sleeps_while_nothing_is_due() {
    let mport = free_port();
    let listen = format!("127.0.0.1:{mport}");
    let b = Broker::start_with(&["--cores", "1", "--metrics-listen", &listen]);
    client::create_topic(&b.bootstrap(), "timers", 1);
    let m = member(&b, "idle-g", "only");
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.assignment().map(|a| a.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no assignment");
        let _ = m.poll(Duration::from_millis(50));
    }
    let turns = || {
        let s = scrape(mport);
        value(
            &s,
            "runnel_periodic_turns_total",
            &[("loop", "group_sweep")],
        )
    };
    let before = turns();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let _ = m.poll(Duration::from_millis(100));
    }
    let woke = turns() - before;
    // A 50 ms sweep turned 100 times in 5 s; deadline timers wake once per session renewal at
    // most (the member heartbeats, so its 6 s deadline keeps moving).
    assert!(
        woke <= 10.0,
        "the group timer task woke {woke} times in 5 s"
    );
    drop(m);
}
