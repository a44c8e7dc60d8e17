//! The `runnel` command line against the real broker: every `topic`, `produce`, `consume` and
//! `group` subcommand is run as a separate process, and its output and exit code are checked
//! together with the broker state as a real librdkafka client (the `rdkafka` crate) sees it.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::{bin, free_port, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// The result of one CLI run.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `runnel ARGS` with `stdin` against `bootstrap` (passed in `RUNNEL_BROKERS`), killing it
/// after 30 s.
fn cli_in(bootstrap: &str, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(bin())
        .args(args)
        .env("RUNNEL_BROKERS", bootstrap)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runnel");
    let pid = child.id() as i32;
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_secs(30)) else {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("runnel {args:?} did not finish in 30 s");
    };
    let out = out.unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `runnel ARGS` against the broker and asserts success.
fn ok(b: &Broker, args: &[&str]) -> String {
    ok_in(b, args, "")
}

fn ok_in(b: &Broker, args: &[&str], stdin: &str) -> String {
    let out = cli_in(&b.bootstrap(), args, stdin);
    assert_eq!(out.code, 0, "runnel {args:?} failed: {out:?}");
    out.stdout
}

/// Runs `runnel ARGS` against the broker and asserts it fails with `code`, naming `error`.
fn fails(b: &Broker, args: &[&str], code: i32, error: &str) {
    let out = cli_in(&b.bootstrap(), args, "");
    assert_eq!(out.code, code, "runnel {args:?}: {out:?}");
    assert!(out.stderr.contains(error), "runnel {args:?}: {out:?}");
}

/// A broker whose first rebalance of a group is not delayed.
fn broker_fast_join() -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runnel.toml");
    std::fs::write(&cfg, "\"group.initial.rebalance.delay.ms\" = 0\n").unwrap();
    let b = Broker::start_with(&["--config", cfg.to_str().unwrap()]);
    (b, dir)
}

/// Partition count of `topic` as librdkafka sees it (0 when it does not exist).
fn partition_count(b: &Broker, topic: &str) -> usize {
    let c: BaseConsumer = b.client_config().create().unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len())
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

/// The data rows of a table printed by the CLI whose first column is `first`.
fn rows_starting<'a>(table: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.first() == Some(&first))
        .collect()
}

#[test]
fn topic_create_list_describe_delete() {
    let b = Broker::start();
    let out = ok(
        &b,
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=60000",
        ],
    );
    assert!(out.contains("created topic orders (3 partitions"), "{out}");
    assert_eq!(partition_count(&b, "orders"), 3);
    ok(
        &b,
        &["topic", "create", "audit", "logs", "--partitions", "2"],
    );
    assert_eq!(partition_count(&b, "logs"), 2);

    // A dry run creates nothing; creating an existing topic fails with Kafka's error name.
    ok(&b, &["topic", "create", "ghost", "--dry-run"]);
    assert_eq!(partition_count(&b, "ghost"), 0);
    fails(
        &b,
        &["topic", "create", "orders"],
        1,
        "TOPIC_ALREADY_EXISTS",
    );

    let list = ok(&b, &["topic", "list"]);
    assert_eq!(
        rows_starting(&list, "orders"),
        vec![vec!["orders", "3", "1"]]
    );
    assert_eq!(rows_starting(&list, "logs"), vec![vec!["logs", "2", "1"]]);
    assert!(!list.contains("__consumer_offsets"), "{list}");

    // describe: one row per partition with the high watermark after two records on partition 1.
    let msgs = vec![
        Msg {
            partition: Some(1),
            value: Some(b"a".to_vec()),
            ..Default::default()
        };
        2
    ];
    client::produce(&b.bootstrap(), "orders", &msgs, &[]);
    let desc = ok(&b, &["topic", "describe", "orders"]);
    assert!(desc.contains("PARTITIONS  3"), "{desc}");
    assert_eq!(
        rows_starting(&desc, "0"),
        vec![vec!["0", "0", "[0]", "0", "0"]]
    );
    assert_eq!(
        rows_starting(&desc, "1"),
        vec![vec!["1", "0", "[0]", "0", "2"]]
    );
    assert_eq!(
        rows_starting(&desc, "2"),
        vec![vec!["2", "0", "[0]", "0", "0"]]
    );
    fails(&b, &["topic", "describe", "nope"], 1, "UNKNOWN_TOPIC");

    let out = ok(&b, &["topic", "delete", "orders", "logs"]);
    assert!(out.contains("deleted topic orders") && out.contains("deleted topic logs"));
    assert_eq!(partition_count(&b, "orders"), 0);
    assert_eq!(partition_count(&b, "logs"), 0);
    assert_eq!(partition_count(&b, "audit"), 2);
    fails(
        &b,
        &["topic", "delete", "orders"],
        1,
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
}

#[test]
fn produce_then_consume_round_trip() {
    let b = Broker::start();
    ok(&b, &["topic", "create", "lines", "-p", "2"]);
    let input = "k1:v1\nk2:v2:with:colons\nk3:v3\nno-key\n";
    let out = ok_in(&b, &["produce", "lines", "--key-separator", ":"], input);
    let acks: Vec<&str> = out.lines().collect();
    assert_eq!(acks.len(), 4, "one line per record: {out}");
    assert!(acks.iter().all(|l| l.starts_with("partition ")), "{out}");

    // A real client sees the keys and values the lines held.
    let got = client::consume(&b.bootstrap(), "lines", &[0, 1], Offset::Beginning, 4, &[]);
    let seen: BTreeSet<(Option<Vec<u8>>, Vec<u8>)> = got
        .iter()
        .map(|g| (g.key.clone(), g.value.clone().unwrap_or_default()))
        .collect();
    let want: BTreeSet<(Option<Vec<u8>>, Vec<u8>)> = [
        (Some(b"k1".to_vec()), b"v1".to_vec()),
        (Some(b"k2".to_vec()), b"v2:with:colons".to_vec()),
        (Some(b"k3".to_vec()), b"v3".to_vec()),
        (None, b"no-key".to_vec()),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, want);

    // --partition, headers and --quiet.
    let out = ok_in(
        &b,
        &[
            "produce", "lines", "-p", "1", "-H", "src=cli", "--quiet", "--acks", "1",
        ],
        "h1\nh2\n",
    );
    assert_eq!(out.trim(), "produced 2 record(s) to lines");

    // The CLI reads back everything, in a template format, and stops at the end.
    let all = ok(
        &b,
        &[
            "consume",
            "lines",
            "--from-beginning",
            "--exit-at-end",
            "-f",
            "%p|%k|%v|%h\\n",
        ],
    );
    let lines: BTreeSet<&str> = all.lines().collect();
    assert_eq!(lines.len(), 6, "{all}");
    assert!(
        lines.iter().any(|l| l.ends_with("|k2|v2:with:colons|")),
        "{all}"
    );
    assert!(
        lines.contains("1||h1|src=cli") && lines.contains("1||h2|src=cli"),
        "{all}"
    );

    // The last record of partition 1 in JSON, from an offset relative to the end.
    let last = ok(
        &b,
        &[
            "consume", "lines", "-p", "1", "-o", "-1", "-e", "-f", "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(last.trim()).unwrap();
    assert_eq!(
        (v["partition"].as_i64(), v["value"].as_str()),
        (Some(1), Some("h2"))
    );
    assert_eq!(v["headers"]["src"], "cli");

    // An absolute offset, --num, and an idle timeout that ends a read with nothing new.
    let one = ok(
        &b,
        &[
            "consume", "lines", "-p", "1", "-o", "0", "-n", "1", "-f", "%o\\n",
        ],
    );
    assert_eq!(one, "0\n");
    let started = Instant::now();
    let none = ok(&b, &["consume", "lines", "--idle-timeout", "1"]);
    assert_eq!(none, "", "the default start is the end of the log");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Starts `runnel consume -g GROUP` in the background.
fn background_consumer(b: &Broker, topic: &str, group: &str) -> Child {
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

/// Waits for a child process (bounded), killing it on timeout.
fn wait_child(c: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("child {} did not exit", c.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_input_and_unreachable_brokers() {
    let b = Broker::start();
    // Usage errors: exit code 2.
    fails(&b, &["topic", "create", "x", "-p", "0"], 2, "at least 1");
    fails(&b, &["topic", "frobnicate"], 2, "unrecognized subcommand");
    fails(&b, &["consume", "t", "--offset", "soon"], 2, "--offset");
    fails(
        &b,
        &["consume", "t", "-g", "g", "-o", "5"],
        2,
        "start or end",
    );
    fails(&b, &["consume", "t", "-f", "%q"], 2, "%q");
    fails(&b, &["topic", "alter-config", "t"], 2, "nothing to change");
    fails(
        &b,
        &["topic", "create", "x", "-c", "novalue"],
        2,
        "KEY=VALUE",
    );
    fails(&b, &["group", "seek", "g", "--to", "-4"], 2, "--to");
    fails(
        &b,
        &["--listen", "127.0.0.1:1", "topic", "list"],
        2,
        "cannot be used",
    );
    // Broker errors: exit code 1 with the Kafka error name.
    fails(
        &b,
        &["consume", "missing", "-e"],
        1,
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
    ok(&b, &["topic", "create", "two", "-p", "2"]);
    fails(&b, &["consume", "two", "-p", "7"], 1, "UNKNOWN_PARTITION");
    // Nobody listening: exit code 3.
    let dead = format!("127.0.0.1:{}", free_port());
    for args in [
        &["topic", "list", "--timeout", "2"][..],
        &["group", "list", "--timeout", "2"],
        &[
            "topic",
            "alter-config",
            "t",
            "--set",
            "a=b",
            "--timeout",
            "2",
        ],
    ] {
        let out = cli_in(&dead, args, "");
        assert_eq!(out.code, 3, "{args:?}: {out:?}");
    }
    let out = cli_in(&dead, &["produce", "t", "--timeout", "2"], "x\n");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("MESSAGE_TIMED_OUT"), "{out:?}");
    // --brokers overrides RUNNEL_BROKERS.
    let out = cli_in(&dead, &["topic", "list", "--brokers", &b.bootstrap()], "");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("two"), "{out:?}");
    // --help on every level.
    for args in [
        &["--help"][..],
        &["start", "--help"],
        &["topic", "--help"],
        &["topic", "create", "--help"],
        &["topic", "list", "--help"],
        &["topic", "describe", "--help"],
        &["topic", "delete", "--help"],
        &["topic", "alter-config", "--help"],
        &["produce", "--help"],
        &["consume", "--help"],
        &["group", "--help"],
        &["group", "list", "--help"],
        &["group", "describe", "--help"],
        &["group", "delete", "--help"],
        &["group", "seek", "--help"],
    ] {
        let out = cli_in(&dead, args, "");
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.contains("Usage: runnel"), "{args:?}: {out:?}");
    }
}

#[test]
fn start_subcommand_runs_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let mut broker = Command::new(bin())
        .arg("start")
        .arg("--listen")
        .arg(&bootstrap)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn runnel start");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = cli_in(&bootstrap, &["topic", "create", "t", "--timeout", "2"], "");
        if out.code == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "broker never answered: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let list = cli_in(&bootstrap, &["topic", "list"], "");
    assert!(list.stdout.contains('t'), "{list:?}");
    unsafe { libc::kill(broker.id() as i32, libc::SIGTERM) };
    assert!(wait_child(&mut broker, Duration::from_secs(20)).success());
}

#[test]
#[ignore = "needs broker DescribeConfigs/IncrementalAlterConfigs (issue 7 admin work)"]
fn topic_configs_describe_and_alter() {
    let b = Broker::start();
    ok(
        &b,
        &["topic", "create", "conf", "-c", "retention.ms=123456"],
    );
    let config_value = |name: &str| -> Option<String> {
        let desc = ok(&b, &["topic", "describe", "conf"]);
        rows_starting(&desc, name).first().map(|r| r[1].to_string())
    };
    assert_eq!(config_value("retention.ms").as_deref(), Some("123456"));
    assert!(
        config_value("cleanup.policy").is_some(),
        "every config is listed"
    );

    let out = ok(
        &b,
        &[
            "topic",
            "alter-config",
            "conf",
            "--set",
            "retention.ms=5000",
            "--set",
            "max.message.bytes=2000000",
        ],
    );
    assert!(out.contains("applied 2 config change(s)"), "{out}");
    assert_eq!(config_value("retention.ms").as_deref(), Some("5000"));
    assert_eq!(
        config_value("max.message.bytes").as_deref(),
        Some("2000000")
    );
    // A dry run changes nothing; delete reverts to the default.
    ok(
        &b,
        &[
            "topic",
            "alter-config",
            "conf",
            "--set",
            "retention.ms=1",
            "--dry-run",
        ],
    );
    assert_eq!(config_value("retention.ms").as_deref(), Some("5000"));
    ok(
        &b,
        &["topic", "alter-config", "conf", "--delete", "retention.ms"],
    );
    assert_eq!(config_value("retention.ms").as_deref(), Some("604800000"));
    fails(
        &b,
        &["topic", "alter-config", "nope", "--set", "retention.ms=1"],
        1,
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
}
