//! The `runnel` command line against the real broker: the `topic`, `produce` and `consume`
//! subcommands, bad input, unreachable brokers and `runnel start`, each run as a separate
//! process, with output and exit codes checked together with the broker state as a real
//! librdkafka client (the `rdkafka` crate) sees it. Group commands: tests/integration/cli_groups.rs.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{cli_in, client_bin, client_in, fails, ok, ok_in, rows_starting, wait_child};
use common::client::{self, Msg};
use common::{bin, free_port, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

/// Partition count of `topic` as librdkafka sees it (0 when it does not exist).
fn partition_count(b: &Broker, topic: &str) -> usize {
    let c: BaseConsumer = b.client_config().create().unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len())
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
        vec![vec!["0", "0", "0", "[0]", "[0]", "[]", "0", "0"]]
    );
    assert_eq!(
        rows_starting(&desc, "1"),
        vec![vec!["1", "0", "0", "[0]", "[0]", "[]", "0", "2"]]
    );
    assert_eq!(
        rows_starting(&desc, "2"),
        vec![vec!["2", "0", "0", "[0]", "[0]", "[]", "0", "0"]]
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
    // acks=0: no offset comes back, and the record still arrives.
    ok(&b, &["topic", "create", "zero"]);
    let out = ok_in(&b, &["produce", "zero", "--acks", "0"], "fire-and-forget\n");
    assert_eq!(out, "partition 0 offset -\n");
    let got = client::consume(&b.bootstrap(), "zero", &[0], Offset::Beginning, 1, &[]);
    assert_eq!(got[0].value.as_deref(), Some(&b"fire-and-forget"[..]));

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
    let out = cli_in(&b.bootstrap(), &["produce", "two", "-p", "7"], "x\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("UNKNOWN_PARTITION"), "{out:?}");
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
        &["topic", "elect-leaders", "--help"],
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

/// `runnel topic ...` only execs `runnel-cli`, which carries out the client commands itself,
/// connection flags before the command included, and names itself in its usage lines.
#[test]
fn runnel_cli_runs_the_client_commands_itself() {
    let b = Broker::start();
    let dead = format!("127.0.0.1:{}", free_port());
    let create = ["--brokers", &b.bootstrap(), "topic", "create", "direct"];
    let out = client_in(&dead, &create, "");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(partition_count(&b, "direct"), 1);
    let out = client_in(&b.bootstrap(), &["produce", "direct", "-q"], "one\ntwo\n");
    assert_eq!(out.code, 0, "{out:?}");
    let all = ["consume", "direct", "--from-beginning", "-e", "-f", "%v\\n"];
    let out = client_in(&b.bootstrap(), &all, "");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "one\ntwo\n"),
        "{out:?}"
    );
    let out = client_in(&dead, &["topic", "list", "--timeout", "2"], "");
    assert_eq!(out.code, 3, "{out:?}");

    let out = client_in(&dead, &["--help"], "");
    assert!(
        out.stdout.contains("Usage: runnel-cli <COMMAND>"),
        "{out:?}"
    );
    // Through `runnel`, the usage lines name `runnel`.
    let out = cli_in(&dead, &["topic", "--help"], "");
    assert!(out.stdout.contains("Usage: runnel topic"), "{out:?}");
    // `runnel-cli` runs no broker.
    let out = client_in(&dead, &["start"], "");
    assert_eq!(out.code, 2, "{out:?}");
}

/// Without a `runnel-cli` beside it or on PATH, `runnel topic ...` says what is missing and
/// exits with 127, as a shell does for a command it cannot find; the broker still runs.
#[test]
fn a_missing_runnel_cli_is_named() {
    client_bin();
    let alone = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let runnel = alone.path().join("runnel");
    // A hard link where the target directory's filesystem allows it (no 40 MB copy).
    if std::fs::hard_link(bin(), &runnel).is_err() {
        std::fs::copy(bin(), &runnel).unwrap();
    }
    let out = Command::new(&runnel)
        .args(["topic", "list"])
        .env("PATH", alone.path().join("nothing-here"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(127), "{stderr}");
    assert!(
        stderr.contains("`runnel-cli`") && stderr.contains("PATH"),
        "{stderr}"
    );
    // The same binary still answers as the broker.
    let out = Command::new(&runnel).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("topic"));
}

/// The small Kafka client behind `topic alter-config` negotiates versions with ApiVersions and
/// frames flexible (tagged-field) requests the broker parses: here Metadata v12.
#[test]
fn wire_client_speaks_flexible_versions() {
    use kafka_protocol::messages::MetadataRequest;
    use runnel_cli::common::ConnArgs;
    use runnel_cli::wire::WireClient;

    let b = Broker::start();
    ok(&b, &["topic", "create", "seen", "-p", "4"]);
    let conn = ConnArgs {
        brokers: format!("127.0.0.1:{},{}", free_port(), b.bootstrap()),
        client_properties: vec![],
        timeout: 5,
        command_config: None,
    };
    // The first address is dead: the client moves on to the next one.
    let mut c = WireClient::connect(&conn).expect("connect");
    let md = c
        .send(&MetadataRequest::default().with_topics(None))
        .expect("metadata");
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("seen"))
        .expect("topic listed");
    assert_eq!(t.partitions.len(), 4);
    // And again on the same connection (correlation ids advance).
    let again = c
        .send(&MetadataRequest::default().with_topics(None))
        .expect("metadata");
    assert_eq!(again.topics.len(), md.topics.len());
}
