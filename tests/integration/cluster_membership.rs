//! Brokers in a controller quorum, with the real binary on loopback: three brokers started from
//! copies of config/cluster/broker-N.toml (ports rewritten to free ones) form a quorum, register
//! and are listed by DescribeCluster (kafka-python's admin client) and Metadata (librdkafka); a
//! broker killed with SIGKILL leaves the lists after its session timeout and comes back when
//! restarted (at once: after its predecessor's fence); killing the active controller elects
//! another, and a broker started afterwards still registers; a second process with a running broker's `node.id` is refused; bad quorum
//! settings stop the broker at startup with a message naming them.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::{
    config as cluster_config, start, start_all, until_some as until, SESSION_MS,
};
use common::raw::Conn;
use common::{bin, free_port, Broker};
use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

/// DescribeCluster through kafka-python's admin client: (controller id, unfenced broker ids).
fn describe_cluster(bootstrap: &str) -> Option<(i32, BTreeSet<i32>)> {
    let script = r#"
import json, sys
from kafka import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
d = a.describe_cluster()
a.close()
live = [b["broker_id"] for b in d["brokers"] if not b.get("is_fenced", False)]
print(json.dumps({"controller": d["controller_id"], "brokers": live}))
"#;
    let out = Command::new("timeout")
        .args(["20", "python3", "-c", script, bootstrap])
        .output()
        .expect("python3 with kafka-python (tests/python/requirements.txt)");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last()?;
    let controller = line
        .split("\"controller\": ")
        .nth(1)?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let list = line.split("\"brokers\": [").nth(1)?.split(']').next()?;
    let brokers = list
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some((controller, brokers))
}

/// The broker ids a fresh librdkafka client sees in Metadata from `bootstrap`.
fn metadata_brokers(bootstrap: &str) -> Option<BTreeSet<i32>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = c.fetch_metadata(None, Duration::from_secs(5)).ok()?;
    Some(md.brokers().iter().map(|b| b.id()).collect())
}

fn ids(v: &[i32]) -> BTreeSet<i32> {
    v.iter().copied().collect()
}

/// Runs the binary with `args` to its exit (at most 60 s): (success, combined output).
fn run_to_exit(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (status.success(), text);
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the broker did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_brokers_form_a_quorum_and_track_membership() {
    let ctl = [free_port(), free_port(), free_port()];
    let mut brokers: Vec<Broker> = start_all(&ctl);
    let all = ids(&[1, 2, 3]);

    // Every broker is registered and unfenced; one of them is the active controller.
    let (controller, live) = until(
        "DescribeCluster lists three brokers",
        || describe_cluster(&brokers[0].bootstrap()),
        |(c, live)| *live == all && all.contains(c),
    );
    assert_eq!(live, all);
    for b in &brokers {
        let seen = until(
            "Metadata lists three brokers",
            || metadata_brokers(&b.bootstrap()),
            |s| *s == all,
        );
        assert_eq!(seen, all);
    }
    // Every Metadata version lists the three brokers at their client ports, and (v1+) the
    // active controller.
    let mut conn = Conn::open(&brokers[2]);
    for version in 0..=13 {
        let mut req = MetadataRequest::default();
        req.topics = Some(Vec::new());
        let r = conn.call(&req, version);
        let listed: Vec<(i32, i32)> = r.brokers.iter().map(|b| (b.node_id.0, b.port)).collect();
        let want: Vec<(i32, i32)> = brokers
            .iter()
            .enumerate()
            .map(|(i, b)| (i as i32 + 1, b.port as i32))
            .collect();
        assert_eq!(listed, want, "Metadata v{version}");
        if version >= 1 {
            assert_eq!(r.controller_id.0, controller, "Metadata v{version}");
        }
    }

    // A broker other than the controller dies: fenced after its session, gone from Metadata.
    let victim = if controller == 2 { 3 } else { 2 };
    brokers[victim - 1].kill9();
    let died = Instant::now();
    let survivor = if victim == 2 { 0 } else { 1 };
    let others: BTreeSet<i32> = all
        .iter()
        .copied()
        .filter(|&b| b != victim as i32)
        .collect();
    until(
        "Metadata drops the killed broker",
        || metadata_brokers(&brokers[survivor].bootstrap()),
        |s| *s == others,
    );
    assert!(
        died.elapsed() >= Duration::from_millis(SESSION_MS / 2),
        "fenced only after the session timeout"
    );
    // Restarted, it registers again and is listed everywhere.
    brokers[victim - 1].restart();
    until(
        "Metadata lists the restarted broker",
        || metadata_brokers(&brokers[survivor].bootstrap()),
        |s| *s == all,
    );
    // Killed and restarted at once: its previous incarnation is still registered and unfenced,
    // so the new one is refused as a duplicate until that one is fenced, then registers.
    brokers[victim - 1].kill9();
    brokers[victim - 1].restart();
    until(
        "the at-once restarted broker registers after its predecessor's fence",
        || {
            let log = brokers[victim - 1].log_text();
            let refused = log.contains("still registered by another incarnation");
            let registered = log
                .rsplit("still registered by another incarnation")
                .next()
                .is_some_and(|after| after.contains("broker unfenced"));
            Some((refused, registered))
        },
        |&(refused, registered)| refused && registered,
    );
    until(
        "Metadata lists the at-once restarted broker",
        || metadata_brokers(&brokers[survivor].bootstrap()),
        |s| *s == all,
    );

    // The active controller dies: the others elect a new one, which fences the dead broker.
    let (controller, _) = until(
        "a controller is known",
        || describe_cluster(&brokers[survivor].bootstrap()),
        |(c, live)| *live == all && all.contains(c),
    );
    brokers[controller as usize - 1].kill9();
    let alive: Vec<usize> = (0..3).filter(|&i| i != controller as usize - 1).collect();
    let rest: BTreeSet<i32> = all.iter().copied().filter(|&b| b != controller).collect();
    let (new_controller, live) = until(
        "a new controller fences the old one",
        || describe_cluster(&brokers[alive[0]].bootstrap()),
        |(c, live)| *live == rest && rest.contains(c),
    );
    assert_ne!(new_controller, controller);
    assert_eq!(live, rest);
    // A broker started afterwards (the old controller, back) still registers.
    brokers[controller as usize - 1].restart();
    until(
        "the restarted controller's broker registers with the new controller",
        || describe_cluster(&brokers[alive[1]].bootstrap()),
        |(_, live)| *live == all,
    );

    // A second process with a running broker's node.id is refused with a clear error.
    let dup_dir = tempfile::tempdir().unwrap();
    let cfg = dup_dir.path().join("dup.toml");
    std::fs::write(&cfg, cluster_config(3, &ctl)).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let (ok, out) = run_to_exit(&[
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        &listen,
        "--data-dir",
        dup_dir.path().join("data").to_str().unwrap(),
        "--metrics-listen",
        "off",
        "--cores",
        "1",
    ]);
    assert!(!ok, "a duplicate node.id must not start: {out}");
    assert!(out.contains("node.id 3"), "{out}");
    // The cluster did not notice.
    let seen = until(
        "Metadata still lists three brokers",
        || metadata_brokers(&brokers[alive[0]].bootstrap()),
        |s| *s == all,
    );
    assert_eq!(seen, all);
    for b in &mut brokers {
        assert!(b.stop(), "clean shutdown: {}", b.log_text());
        assert!(
            b.log_text().contains("controller stopped"),
            "{}",
            b.log_text()
        );
    }
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_unreachable_quorum_refuses_topic_changes_in_bounded_time_and_a_controller_only_voter_completes_it(
) {
    let ctl = [free_port(), free_port(), free_port()];
    let metrics = free_port();
    let metrics_flag = format!("--metrics-listen=127.0.0.1:{metrics}");
    // Broker 1 alone: one voter of three, no controller can be elected.
    let b1 = Broker::start_with_config(&cluster_config(1, &ctl), &["--cores", "1", &metrics_flag]);
    assert_eq!(metadata_brokers(&b1.bootstrap()), Some(ids(&[1])));
    // Topics are created through the quorum: without one, CreateTopics answers
    // REQUEST_TIMED_OUT after a bounded wait instead of hanging.
    let started = std::time::Instant::now();
    assert_eq!(
        common::client::try_create_topic(&b1.bootstrap(), "alone", 1, 1),
        Err("RequestTimedOut".to_string()),
        "no quorum, no topic"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        common::metrics::get(metrics, "/ready").0,
        503,
        "not registered"
    );
    until(
        "the broker says it cannot register",
        || {
            Some(
                b1.log_text()
                    .contains("cannot register with the controller quorum"),
            )
        },
        |&said| said,
    );

    // Voter 3 as a controller only (no Kafka listener) makes a majority: broker 1 registers.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("controller-3.toml");
    let toml = cluster_config(3, &ctl).replace(
        "process.roles = \"broker,controller\"",
        "process.roles = \"controller\"",
    );
    assert!(toml.contains("process.roles = \"controller\""));
    std::fs::write(&cfg, toml).unwrap();
    let log = std::fs::File::create(dir.path().join("controller-3.log")).unwrap();
    let _voter3 = Child(
        Command::new(bin())
            .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    until(
        "/ready once registered",
        || Some(common::metrics::get(metrics, "/ready").0),
        |&code| code == 200,
    );
    // With a quorum the topic is created, and the data path serves it.
    common::client::create_topic(&b1.bootstrap(), "alone", 1);
    let msgs: Vec<common::client::Msg> = (0..10)
        .map(|i| common::client::Msg {
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let acked = common::client::produce(&b1.bootstrap(), "alone", &msgs, &[]);
    assert_eq!(acked.len(), 10, "produced once the quorum is complete");
    let b2 = start(2, &ctl);
    let (controller, _) = until(
        "DescribeCluster lists brokers 1 and 2",
        || describe_cluster(&b1.bootstrap()),
        |(_, live)| *live == ids(&[1, 2]),
    );
    // A broker's controller id is always a live broker (voter 3 serves no clients).
    assert!([1, 2].contains(&controller), "{controller}");
    // The controllers (endpoint type 2): all three voters, and the active one.
    let mut c = Conn::open(&b2);
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 2;
    let r = c.call(&req, 1);
    assert_eq!(r.error_code, 0);
    let voters: Vec<(i32, i32)> = r.brokers.iter().map(|b| (b.broker_id.0, b.port)).collect();
    let want: Vec<(i32, i32)> = (0..3).map(|i| (i as i32 + 1, ctl[i] as i32)).collect();
    assert_eq!(voters, want);
    assert!(
        [1, 2, 3].contains(&r.controller_id.0),
        "{:?}",
        r.controller_id
    );
    let dir3 = std::fs::read_to_string(dir.path().join("controller-3.log")).unwrap();
    assert!(dir3.contains("controller only"), "{dir3}");
}

#[test]
fn bad_quorum_settings_stop_the_broker_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "controller.quorum.voters = \"1@127.0.0.1\"\nnode.id = 1\n",
            "controller.quorum.voters",
        ),
        (
            "controller.quorum.voters = \"one@127.0.0.1:19192\"\nnode.id = 1\n",
            "controller.quorum.voters",
        ),
        (
            "controller.quorum.voters = \"1@127.0.0.1:19192,2@127.0.0.1:19193\"\nnode.id = 5\n",
            "node.id 5 is not one of controller.quorum.voters",
        ),
        ("process.roles = \"broker,zookeeper\"\n", "unknown role"),
        (
            "process.roles = \"broker\"\n",
            "needs controller.quorum.voters",
        ),
    ];
    for (i, (toml, needle)) in cases.iter().enumerate() {
        let cfg = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&cfg, toml).unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let data = dir.path().join(format!("data-{i}"));
        let (ok, out) = run_to_exit(&[
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
            "--metrics-listen",
            "off",
        ]);
        assert!(!ok, "{toml}: started anyway: {out}");
        assert!(out.contains(needle), "{toml}: {out}");
    }
}

#[test]
fn a_single_node_is_its_own_quorum_and_lists_itself() {
    let mut b = Broker::start();
    let (controller, live) = until(
        "DescribeCluster of a single node",
        || describe_cluster(&b.bootstrap()),
        |(_, live)| !live.is_empty(),
    );
    assert_eq!((controller, live), (0, ids(&[0])));
    assert_eq!(metadata_brokers(&b.bootstrap()), Some(ids(&[0])));
    // Restarted, its one-member quorum comes back on another free port.
    assert!(b.stop());
    b.restart();
    let (controller, live) = until(
        "DescribeCluster after a restart",
        || describe_cluster(&b.bootstrap()),
        |(_, live)| !live.is_empty(),
    );
    assert_eq!((controller, live), (0, ids(&[0])));
    assert!(b
        .log_text()
        .contains("registered with the controller quorum"));
}
