//! Long-run regressions (issue 17): every periodic loop of every core is driven through more
//! than 100,000 turns with shortened intervals (`runnel.test.periodic.interval.us`) while a
//! connection is held open, a consumer long-polls an idle partition and the accept loops wait;
//! afterwards the broker must still accept and serve a new client, report healthy, and stop on
//! SIGTERM. A waker reference leaked per turn, as glommio's 16-bit task reference count once
//! wrapped after 27 minutes of 100 ms turns, ends the broker long before 100,000 turns.
//!
//! Also: a second broker on the same address, and `--cores` / config values out of range, fail
//! at startup with a message naming the cause.

use crate::common;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::metrics::{get, scrape, value};
use common::{bin, free_port, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

const TURNS: f64 = 100_000.0;
const LOOPS: [&str; 5] = [
    "stop_watch",
    "group_sweep",
    "txn_sweep",
    "housekeeping",
    "metrics_snapshot",
];

#[test]
fn periodic_loops_survive_100k_turns_and_the_broker_still_serves() {
    let mport = free_port();
    let listen = format!("127.0.0.1:{mport}");
    let mut b = Broker::start_with_config(
        "runnel.test.periodic.interval.us = 100\n",
        &["--cores", "2", "--metrics-listen", &listen],
    );
    let bs = b.bootstrap();
    client::create_topic(&bs, "idle", 2);
    client::produce(&bs, "idle", &[msg("k", "before")], &[]);

    // Held open throughout: an idle connection and a consumer long-polling idle partitions.
    let _held = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    let consumer: BaseConsumer = b
        .client_config()
        .set("group.id", "long-run")
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "100")
        .create()
        .unwrap();
    consumer.subscribe(&["idle"]).unwrap();

    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let _ = consumer.poll(Duration::from_millis(50));
        let s = scrape(mport);
        let least = (0..2)
            .flat_map(|core| {
                let core = core.to_string();
                LOOPS.iter().map(move |l| (core.clone(), *l))
            })
            .map(|(core, l)| {
                value(
                    &s,
                    "runnel_periodic_turns_total",
                    &[("core", core.as_str()), ("loop", l)],
                )
            })
            .fold(f64::INFINITY, f64::min);
        if least > TURNS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "periodic loops did not reach {TURNS} turns (slowest at {least})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(consumer);

    // A new client is accepted and served, by every core's listener.
    for i in 0..8 {
        client::produce(&bs, "idle", &[msg(&format!("k{i}"), "after")], &[]);
    }
    let got = client::consume(&bs, "idle", &[0, 1], Offset::Beginning, 9, &[]);
    assert_eq!(got.len(), 9);
    let (status, body) = get(mport, "/health");
    assert_eq!(status, 200, "{body}");
    assert!(b.stop(), "SIGTERM did not stop the broker cleanly");
    assert!(
        !b.log_text().contains("panicked"),
        "a thread panicked: {}",
        b.log_text()
    );
}

fn msg(key: &str, value: &str) -> Msg {
    Msg {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// Runs the broker binary with `args` and returns (exit success, output); bounded.
fn run_broker(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["--data-dir", dir.path().join("d").to_str().unwrap()])
        .args(["--metrics-listen", "off"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the broker did not exit on a bad startup: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn a_second_broker_on_the_same_address_refuses_to_start() {
    let b = Broker::start();
    let listen = b.bootstrap();
    let (ok, out) = run_broker(&["--listen", &listen]);
    assert!(!ok, "second broker started: {out}");
    assert!(out.contains("already in use"), "{out}");
    // The first broker still serves alone.
    client::produce(&listen, "solo", &[msg("k", "v")], &[]);
}

#[test]
fn cores_and_config_values_out_of_range_fail_with_the_cause() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    let too_many = (cpus + 1).to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    for cores in [too_many.as_str(), "99", "0", "0,0", "4096-4097"] {
        let (ok, out) = run_broker(&["--listen", &listen, "--cores", cores]);
        assert!(!ok, "--cores {cores} was accepted: {out}");
        assert!(out.contains("cores"), "--cores {cores}: {out}");
    }
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), "log.segment.bytes = 10\n").unwrap();
    let path = cfg.path().to_str().unwrap();
    let (ok, out) = run_broker(&["--listen", &listen, "--config", path]);
    assert!(!ok, "log.segment.bytes = 10 was accepted: {out}");
    assert!(out.contains("log.segment.bytes = 10"), "{out}");
    assert!(out.contains(path), "{out}");
}
