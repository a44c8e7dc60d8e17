//! Startup with 10,000 partitions: after a clean stop and after kill -9 the broker is ready well
//! under a minute, every partition keeps its record, and memory stays bounded per partition.

use crate::common;

use std::time::{Duration, Instant};

use common::client;
use common::Broker;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

const TOPICS: usize = 10;
const PARTITIONS: i32 = 1000;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn high_watermarks_all_one(b: &Broker) {
    let bs = &b.bootstrap();
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "many")
        .create()
        .unwrap();
    for t in 0..TOPICS {
        for p in [0, PARTITIONS / 2, PARTITIONS - 1] {
            // A restarted broker answers LEADER_NOT_AVAILABLE for its partitions until its
            // first heartbeat unfences it (a clean stop fenced it): retry, bounded.
            let deadline = Instant::now() + Duration::from_secs(30);
            let (lo, hi) = loop {
                match c.fetch_watermarks(&format!("many-{t}"), p, Duration::from_secs(30)) {
                    Ok(w) => break w,
                    Err(e) if Instant::now() < deadline => {
                        let md =
                            c.fetch_metadata(Some(&format!("many-{t}")), Duration::from_secs(10));
                        let seen = md.map(|m| {
                            m.topics()
                                .iter()
                                .map(|t| {
                                    (
                                        t.name().to_string(),
                                        t.error(),
                                        t.partitions().len(),
                                        t.partitions().first().map(|p| (p.leader(), p.error())),
                                    )
                                })
                                .collect::<Vec<_>>()
                        });
                        eprintln!("many-{t}/{p}: {e}; metadata {seen:?}; retrying");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => {
                        let md =
                            c.fetch_metadata(Some(&format!("many-{t}")), Duration::from_secs(10));
                        let described = md.map(|m| {
                            m.topics()
                                .iter()
                                .map(|t| {
                                    let bad: Vec<_> = t
                                        .partitions()
                                        .iter()
                                        .filter(|p| p.error().is_some() || p.leader() < 0)
                                        .take(3)
                                        .map(|p| (p.id(), p.leader(), p.error()))
                                        .collect();
                                    format!(
                                        "{} error {:?}, {} partitions, first bad {:?}",
                                        t.name(),
                                        t.error(),
                                        t.partitions().len(),
                                        bad
                                    )
                                })
                                .collect::<Vec<_>>()
                        });
                        let log = b.log_text();
                        let tail: Vec<&str> = log.lines().rev().take(60).collect();
                        panic!(
                            "many-{t}/{p}: {e}; metadata: {described:?}; broker log (newest first):\n{}",
                            tail.join("\n")
                        )
                    }
                }
            };
            assert_eq!((lo, hi), (0, 1), "many-{t}/{p}");
        }
    }
    let md = c.fetch_metadata(None, Duration::from_secs(30)).unwrap();
    let n: usize = md
        .topics()
        .iter()
        .filter(|t| t.name().starts_with("many-"))
        .map(|t| t.partitions().len())
        .sum();
    assert_eq!(n, TOPICS * PARTITIONS as usize);
}

#[test]
fn ten_thousand_partitions_start_quickly() {
    let mut b = Broker::start();
    let bs = b.bootstrap();
    let admin = client::admin(&bs);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(120)));
    let created = Instant::now();
    for t in 0..TOPICS {
        let name = format!("many-{t}");
        let nt = NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1));
        let r = futures_lite::future::block_on(admin.create_topics([&nt], &opts)).unwrap();
        assert!(r[0].is_ok(), "{:?}", r[0]);
    }
    eprintln!(
        "created {} partitions in {:?}",
        TOPICS * PARTITIONS as usize,
        created.elapsed()
    );
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()
        .unwrap();
    for t in 0..TOPICS {
        let topic = format!("many-{t}");
        for part in 0..PARTITIONS {
            while p
                .send(BaseRecord::<(), _>::to(&topic).partition(part).payload("x"))
                .is_err()
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();
    let stopping = Instant::now();
    assert!(b.stop(), "no clean stop within 20 s");
    eprintln!(
        "clean stop with 10,000 partitions in {:?}",
        stopping.elapsed()
    );
    for (label, crash) in [("clean stop", false), ("kill -9", true)] {
        if crash {
            b.kill9();
        }
        let t0 = Instant::now();
        b.restart();
        let ready = t0.elapsed();
        let pid = b.child.as_ref().unwrap().id();
        let rss = rss_kib(pid);
        eprintln!(
            "restart after {label}: ready in {ready:?}, RSS {} MiB ({} KiB per partition)",
            rss / 1024,
            rss / (TOPICS as u64 * PARTITIONS as u64)
        );
        assert!(ready < Duration::from_secs(60), "startup took {ready:?}");
        assert!(rss < 2 * 1024 * 1024, "RSS {rss} KiB for 10,000 partitions");
        high_watermarks_all_one(&b);
    }
}
