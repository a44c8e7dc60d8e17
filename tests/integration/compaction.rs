//! Log compaction with real clients: a compacted topic keeps the newest value of every key at
//! its original offset, tombstones go after delete.retention.ms, and the result survives
//! restarts.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{self, Got, Msg};
use common::Broker;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

const FAST_CLEANER: &str = "log.retention.check.interval.ms = 100\nlog.cleaner.backoff.ms = 100\n";

fn high_watermark(bs: &str, topic: &str) -> i64 {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "compaction-test")
        .create()
        .expect("consumer");
    c.fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks")
        .1
}

/// Base offset of the active (last) segment of a partition directory.
fn active_base(dir: &Path) -> i64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.strip_suffix(".log").and_then(|s| s.parse::<i64>().ok())
        })
        .max()
        .unwrap()
}

/// Bytes in closed segments.
fn closed_bytes(dir: &Path) -> u64 {
    let active = active_base(dir);
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.ends_with(".log") && n != format!("{active:020}.log")
        })
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Reads the whole partition: every record from the log start to the high watermark.
fn read_all(bs: &str, topic: &str) -> Vec<Got> {
    let high = high_watermark(bs, topic);
    let mut out: Vec<Got> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "compaction-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    while out.last().is_none_or(|g| g.offset + 1 < high) {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        use rdkafka::Message;
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(Got {
                partition: 0,
                offset: m.offset(),
                key: m.key().map(|k| k.to_vec()),
                value: m.payload().map(|v| v.to_vec()),
                headers: Vec::new(),
                timestamp: m.timestamp().to_millis(),
            });
        }
    }
    out
}

#[test]
fn compaction_keeps_the_newest_value_per_key() {
    let mut b = Broker::start_with_config(FAST_CLEANER, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(
        &bs,
        "cmp",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1048576"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    );
    const N: usize = 1_000_000;
    const KEYS: usize = 1000;
    let msgs: Vec<Msg> = (0..N)
        .map(|i| Msg {
            partition: Some(0),
            key: Some(format!("key-{}", i % KEYS).into_bytes()),
            value: Some(format!("value-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let acked = client::produce(
        &bs,
        "cmp",
        &msgs,
        &[("acks", "all"), ("compression.type", "lz4")],
    );
    let mut newest: HashMap<Vec<u8>, (i64, Vec<u8>)> = HashMap::new();
    for (m, (_, off)) in msgs.iter().zip(&acked) {
        let k = m.key.clone().unwrap();
        newest.insert(k, (*off, m.value.clone().unwrap()));
    }
    drop(msgs);
    let dir = b.data_dir().join("cmp-0");
    // Wait until the closed segments hold little more than one value per key.
    let deadline = Instant::now() + Duration::from_secs(120);
    while closed_bytes(&dir) > 200_000 {
        assert!(
            Instant::now() < deadline,
            "compaction did not shrink the log: {} bytes closed",
            closed_bytes(&dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let check = |label: &str| {
        let got = read_all(&bs, "cmp");
        let active = active_base(&dir);
        let in_active = got.iter().filter(|g| g.offset >= active).count();
        let closed = got.len() - in_active;
        assert!(
            closed <= KEYS,
            "{label}: {closed} records in closed segments for {KEYS} keys"
        );
        eprintln!(
            "{label}: {} records ({closed} closed, {in_active} in the active segment)",
            got.len()
        );
        // Offsets strictly increase, and every key's last record is the acknowledged newest.
        let mut last: HashMap<Vec<u8>, (i64, Vec<u8>)> = HashMap::new();
        let mut prev = -1;
        for g in &got {
            assert!(g.offset > prev, "{label}: offsets out of order");
            prev = g.offset;
            last.insert(g.key.clone().unwrap(), (g.offset, g.value.clone().unwrap()));
        }
        assert_eq!(last.len(), KEYS, "{label}: keys present");
        assert_eq!(last, newest, "{label}: newest value per key at its offset");
    };
    check("compacted");
    assert!(b.stop());
    b.restart();
    check("after restart");
}

#[test]
fn tombstones_go_after_delete_retention() {
    let b = Broker::start_with_config(FAST_CLEANER, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(
        &bs,
        "tomb",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "4096"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "0"),
        ],
    );
    let put = |range: std::ops::Range<usize>, tombstone: bool| -> Vec<Msg> {
        range
            .map(|i| Msg {
                partition: Some(0),
                key: Some(format!("k{i}").into_bytes()),
                value: (!tombstone).then(|| vec![b'v'; 40]),
                ..Default::default()
            })
            .collect()
    };
    let opts = [("acks", "all"), ("batch.size", "2000")];
    client::produce(&bs, "tomb", &put(0..200, false), &opts);
    client::produce(&bs, "tomb", &put(0..100, true), &opts);
    // Filler keys roll segments so that the tombstones end up in closed segments.
    client::produce(&bs, "tomb", &put(1000..1400, false), &opts);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = read_all(&bs, "tomb");
        let deleted_keys_seen = got
            .iter()
            .filter(|g| {
                let k = String::from_utf8_lossy(g.key.as_deref().unwrap_or_default()).to_string();
                k[1..].parse::<usize>().is_ok_and(|n| n < 100)
            })
            .count();
        let live: Vec<_> = got
            .iter()
            .filter(|g| {
                let k = String::from_utf8_lossy(g.key.as_deref().unwrap_or_default()).to_string();
                k[1..]
                    .parse::<usize>()
                    .is_ok_and(|n| (100..200).contains(&n))
            })
            .collect();
        assert_eq!(live.len(), 100, "keys 100..200 keep their value");
        assert!(live
            .iter()
            .all(|g| g.value.as_deref() == Some(&[b'v'; 40][..])));
        if deleted_keys_seen == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{deleted_keys_seen} records of deleted keys remain"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Delivery reports of a producer: Ok(offset) or the error text.
#[derive(Clone, Default)]
struct Reports(std::sync::Arc<std::sync::Mutex<Vec<Result<i64, String>>>>);

impl rdkafka::ClientContext for Reports {}
impl rdkafka::producer::ProducerContext for Reports {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &rdkafka::producer::DeliveryResult<'_>, _: ()) {
        use rdkafka::Message;
        let o = match r {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        self.0.lock().unwrap().push(o);
    }
}

#[test]
fn compacted_topics_refuse_records_without_a_key() {
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic_with(&bs, "keyed", 1, &[("cleanup.policy", "compact")]);
    let reports = Reports::default();
    let producer: ThreadedProducer<Reports> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("message.send.max.retries", "0")
        .create_with_context(reports.clone())
        .expect("producer");
    producer
        .send(
            BaseRecord::<str, str>::to("keyed")
                .partition(0)
                .payload("no key"),
        )
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(20)).expect("flush");
    producer
        .send(
            BaseRecord::<str, str>::to("keyed")
                .partition(0)
                .key("k")
                .payload("v"),
        )
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(20)).expect("flush");
    let r = reports.0.lock().unwrap().clone();
    assert_eq!(r.len(), 2);
    let err = r[0].as_ref().expect_err("a keyless record is refused");
    assert!(err.contains("InvalidRecord"), "{err}");
    assert_eq!(r[1], Ok(0), "the keyed record is written at offset 0");
}
