//! The `runnel group` subcommands against the real broker: list, describe (members,
//! assignments, committed offsets, lag), seek and delete, checked against the committed offsets
//! a real librdkafka client (the `rdkafka` crate) fetches.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{cli_in, client_bin, fails, ok, rows_starting, wait_child};
use common::client::{self, Msg};
use common::{bin, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// A broker whose first rebalance of a group is not delayed.
fn broker_fast_join() -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runnel.toml");
    std::fs::write(&cfg, "\"group.initial.rebalance.delay.ms\" = 0\n").unwrap();
    let b = Broker::start_with(&["--config", cfg.to_str().unwrap()]);
    (b, dir)
}

/// Committed offsets of `group` for partitions 0..n of `topic`, as librdkafka fetches them.
fn committed(b: &Broker, group: &str, topic: &str, n: i32) -> Vec<Option<i64>> {
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    (0..n)
        .map(|p| match got.find_partition(topic, p).unwrap().offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .collect()
}

/// Starts `runnel consume -g GROUP` in the background.
fn background_consumer(b: &Broker, topic: &str, group: &str) -> Child {
    client_bin();
    Command::new(bin())
        .args(["consume", topic, "-g", group, "-o", "start", "--brokers"])
        .arg(b.bootstrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn runnel consume")
}

#[test]
fn group_list_describe_seek_delete() {
    let (b, _dir) = broker_fast_join();
    ok(&b, &["topic", "create", "events", "-p", "2"]);
    let msgs: Vec<Msg> = (0..10)
        .map(|i| Msg {
            partition: Some(i % 2),
            value: Some(format!("e{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&b.bootstrap(), "events", &msgs, &[]);

    // A group member that reads 4 records commits exactly those.
    let out = ok(
        &b,
        &[
            "consume",
            "events",
            "-g",
            "readers",
            "--from-beginning",
            "-n",
            "4",
        ],
    );
    assert_eq!(out.lines().count(), 4, "{out}");
    let offs = committed(&b, "readers", "events", 2);
    assert_eq!(
        offs.iter().map(|o| o.unwrap_or(0)).sum::<i64>(),
        4,
        "{offs:?}"
    );

    let list = ok(&b, &["group", "list"]);
    assert_eq!(
        rows_starting(&list, "readers"),
        vec![vec!["readers", "Empty", "0", "consumer"]]
    );
    let desc = ok(&b, &["group", "describe", "readers"]);
    assert!(desc.contains("STATE          Empty"), "{desc}");
    // One row per partition with a committed offset: current, log end (5) and lag.
    let rows = rows_starting(&desc, "events");
    let mut current = 0;
    for r in &rows {
        let (p, cur): (i32, i64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        assert_eq!(Some(cur), offs[p as usize], "{desc}");
        assert_eq!(
            (r[3], r[4].parse::<i64>().unwrap()),
            ("5", 5 - cur),
            "{desc}"
        );
        current += cur;
    }
    assert_eq!(current, 4, "{desc}");

    // seek: to the start, to the end, to an offset for named topics.
    ok(&b, &["group", "seek", "readers", "--to", "start"]);
    assert_eq!(
        committed(&b, "readers", "events", 2),
        vec![Some(0), Some(0)]
    );
    ok(&b, &["group", "seek", "readers", "--to", "end"]);
    assert_eq!(
        committed(&b, "readers", "events", 2),
        vec![Some(5), Some(5)]
    );
    let out = ok(
        &b,
        &[
            "group", "seek", "readers", "--to", "3", "--topics", "events",
        ],
    );
    assert_eq!(
        rows_starting(&out, "events"),
        vec![vec!["events", "0", "5", "3"], vec!["events", "1", "5", "3"]]
    );
    assert_eq!(
        committed(&b, "readers", "events", 2),
        vec![Some(3), Some(3)]
    );
    ok(
        &b,
        &["group", "seek", "readers", "--to", "start", "--dry-run"],
    );
    assert_eq!(
        committed(&b, "readers", "events", 2),
        vec![Some(3), Some(3)]
    );
    // A new group needs --topics; with them it gets offsets.
    fails(
        &b,
        &["group", "seek", "fresh", "--to", "end"],
        2,
        "--topics",
    );
    ok(
        &b,
        &[
            "group", "seek", "fresh", "--to", "end", "--topics", "events",
        ],
    );
    assert_eq!(committed(&b, "fresh", "events", 2), vec![Some(5), Some(5)]);

    // An active member: describe shows it and its assignment; seek and delete are refused.
    let mut member = background_consumer(&b, "events", "live");
    let deadline = Instant::now() + Duration::from_secs(20);
    let desc = loop {
        let d = cli_in(&b.bootstrap(), &["group", "describe", "live"], "");
        if d.code == 0 && d.stdout.contains("events/0,events/1") {
            break d.stdout;
        }
        assert!(Instant::now() < deadline, "member never assigned: {d:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        desc.contains("STATE          Stable") && desc.contains("runnel-cli"),
        "{desc}"
    );
    fails(
        &b,
        &["group", "seek", "live", "--to", "start"],
        1,
        "NON_EMPTY_GROUP",
    );
    fails(&b, &["group", "delete", "live"], 1, "NON_EMPTY_GROUP");
    // SIGTERM: the member commits what it printed and leaves.
    unsafe { libc::kill(member.id() as i32, libc::SIGTERM) };
    let status = wait_child(&mut member, Duration::from_secs(15));
    assert!(status.success(), "consumer exit {status}");
    assert_eq!(committed(&b, "live", "events", 2), vec![Some(5), Some(5)]);

    // delete: the groups are gone.
    let out = ok(&b, &["group", "delete", "readers", "live"]);
    assert!(out.contains("deleted group readers") && out.contains("deleted group live"));
    let list = ok(&b, &["group", "list"]);
    assert!(rows_starting(&list, "readers").is_empty(), "{list}");
    assert_eq!(committed(&b, "readers", "events", 2), vec![None, None]);
    fails(
        &b,
        &["group", "describe", "readers"],
        1,
        "GROUP_ID_NOT_FOUND",
    );
    fails(&b, &["group", "delete", "readers"], 1, "GROUP_ID_NOT_FOUND");
}
