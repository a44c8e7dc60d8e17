//! File descriptors do not grow with partitions: 4,000 partitions holding a record each, on a
//! broker that keeps at most 64 segment files open per core, stay readable while the process
//! holds far fewer descriptors than partitions, before and after a restart.

use crate::common;

use std::time::Duration;

use common::client;
use common::Broker;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::Offset;

const PARTITIONS: i32 = 4000;
/// Descriptors the broker may hold: 2 cores x 64 segment files, connections, io_uring rings,
/// the data directory lock, the metrics listener and the like; far below one per partition.
const FD_BOUND: usize = 400;

fn open_fds(b: &Broker) -> usize {
    let pid = b.child.as_ref().expect("running").id();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc/PID/fd")
        .count()
}

fn produce_one_each(bs: &str) {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()
        .unwrap();
    for part in 0..PARTITIONS {
        let value = format!("p{part}");
        while p
            .send(
                BaseRecord::<(), _>::to("fds")
                    .partition(part)
                    .payload(&value),
            )
            .is_err()
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();
}

fn check_watermarks(bs: &str) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "fds")
        .create()
        .unwrap();
    for p in (0..PARTITIONS).step_by(97) {
        let w = c
            .fetch_watermarks("fds", p, Duration::from_secs(30))
            .unwrap();
        assert_eq!(w, (0, 1), "partition {p}");
    }
}

/// Reads the record of a spread of partitions (from disk after a restart).
fn read_back(bs: &str) {
    let parts: Vec<i32> = (0..PARTITIONS).step_by(50).collect();
    let got = client::consume(bs, "fds", &parts, Offset::Beginning, parts.len(), &[]);
    assert_eq!(got.len(), parts.len());
    for g in &got {
        assert_eq!(
            g.value.as_deref(),
            Some(format!("p{}", g.partition).as_bytes())
        );
    }
}

#[test]
fn descriptors_stay_bounded_with_thousands_of_partitions() {
    let mut b =
        Broker::start_with_config("runnel.log.open.files.per.core = 64\n", &["--cores", "2"]);
    let bs = b.bootstrap();
    let admin = client::admin(&bs);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(300)));
    let nt = NewTopic::new("fds", PARTITIONS, TopicReplication::Fixed(1));
    let r = futures_lite::future::block_on(admin.create_topics([&nt], &opts)).unwrap();
    assert!(r[0].is_ok(), "{:?}", r[0]);
    produce_one_each(&bs);
    let n = open_fds(&b);
    eprintln!("{n} descriptors open with {PARTITIONS} partitions");
    assert!(
        n < FD_BOUND,
        "{n} descriptors open for {PARTITIONS} partitions"
    );
    check_watermarks(&bs);
    read_back(&bs);
    assert!(b.stop());
    b.restart();
    let n = open_fds(&b);
    eprintln!("{n} descriptors open after a restart");
    assert!(n < FD_BOUND, "{n} descriptors open after a restart");
    check_watermarks(&bs);
    read_back(&bs);
    let n = open_fds(&b);
    assert!(n < FD_BOUND, "{n} descriptors open after reading back");
}
