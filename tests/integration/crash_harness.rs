//! The crash-consistency harness: cycles of start the broker, produce with acks=all from
//! librdkafka while retention and compaction run, kill -9 at a random moment, restart, and
//! verify that
//!
//! - every acknowledged record still in the retained range is readable at its acknowledged
//!   offset with its value, and the high watermark is past every acknowledged offset;
//! - offsets of the delete-policy topic are contiguous from the log start to the high watermark;
//! - no batch fails its CRC (the consumer checks CRCs);
//! - in the compacted topic every key's newest acknowledged value is there, or a newer record.
//!
//! `RUNNEL_CRASH_CYCLES` sets the number of cycles (5 by default, as `.ci/run` runs it);
//! `RUNNEL_CRASH_SEED` replays a run. The long run is documented in docs/storage.md:
//! `RUNNEL_CRASH_CYCLES=100 cargo test --release --test crash_harness -- --nocapture`.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

const DELETE_TOPIC: &str = "crash-del";
const COMPACT_TOPIC: &str = "crash-cmp";
const DELETE_PARTITIONS: i32 = 3;
const COMPACT_PARTITIONS: i32 = 2;
const KEYS: usize = 300;

const CONFIG: &str = "log.retention.check.interval.ms = 50\nlog.cleaner.backoff.ms = 50\n";

/// A small deterministic generator (xorshift), so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// An acknowledged record.
#[derive(Clone, Debug)]
struct Acked {
    topic: String,
    partition: i32,
    offset: i64,
    key: Vec<u8>,
    value: Vec<u8>,
}

#[derive(Clone, Default)]
struct AckLog(Arc<Mutex<Vec<Acked>>>);

impl ClientContext for AckLog {}
impl ProducerContext for AckLog {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = r {
            self.0.lock().unwrap().push(Acked {
                topic: m.topic().to_string(),
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().unwrap_or_default().to_vec(),
                value: m.payload().unwrap_or_default().to_vec(),
            });
        }
    }
}

/// What the harness knows must be in the log.
#[derive(Default)]
struct Expected {
    /// Delete-policy topic: value by (partition, offset).
    records: HashMap<(i32, i64), Vec<u8>>,
    /// Compacted topic: newest acknowledged (offset, value) by (partition, key).
    newest: HashMap<(i32, Vec<u8>), (i64, Vec<u8>)>,
    /// Highest acknowledged offset by (topic, partition).
    high: HashMap<(String, i32), i64>,
}

impl Expected {
    fn add(&mut self, a: Acked) {
        let h = self
            .high
            .entry((a.topic.clone(), a.partition))
            .or_insert(-1);
        *h = (*h).max(a.offset);
        if a.topic == DELETE_TOPIC {
            self.records.insert((a.partition, a.offset), a.value);
        } else {
            let e = self
                .newest
                .entry((a.partition, a.key))
                .or_insert((-1, Vec::new()));
            if a.offset > e.0 {
                *e = (a.offset, a.value);
            }
        }
    }
}

fn create_topics(bs: &str) {
    common::client::create_topic_with(
        bs,
        DELETE_TOPIC,
        DELETE_PARTITIONS,
        &[("segment.bytes", "32768"), ("retention.bytes", "131072")],
    );
    common::client::create_topic_with(
        bs,
        COMPACT_TOPIC,
        COMPACT_PARTITIONS,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "32768"),
            ("min.cleanable.dirty.ratio", "0.05"),
        ],
    );
}

/// Produces to both topics until `stop`; returns the producer so that the caller decides when
/// its outstanding messages are abandoned.
fn produce_until(bs: &str, cycle: usize, stop: Arc<AtomicBool>, acks: AckLog) {
    let producer: ThreadedProducer<AckLog> = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("batch.size", "8000")
        .set("message.timeout.ms", "5000")
        .create_with_context(acks)
        .expect("producer");
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let compact = seq.is_multiple_of(3);
        let key = format!("key-{}", seq.wrapping_mul(7919) % KEYS as u64);
        let value = format!("c{cycle}-s{seq}-{}", "x".repeat((seq % 50) as usize));
        let (topic, partition) = if compact {
            (COMPACT_TOPIC, (seq % COMPACT_PARTITIONS as u64) as i32)
        } else {
            (DELETE_TOPIC, (seq % DELETE_PARTITIONS as u64) as i32)
        };
        let rec = BaseRecord::to(topic)
            .partition(partition)
            .key(key.as_bytes())
            .payload(value.as_bytes());
        if producer.send(rec).is_err() {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        seq += 1;
        if seq.is_multiple_of(200) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // The broker is gone: whatever is in flight fails after message.timeout.ms; do not wait.
    drop(producer);
}

/// A record read back: offset, key, value.
type Rec = (i64, Vec<u8>, Vec<u8>);

/// Reads partition `p` of `topic` from the log start to the high watermark.
fn read_partition(bs: &str, topic: &str, p: i32) -> (i64, Vec<Rec>) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "crash-verify")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .create()
        .expect("consumer");
    let (low, high) = c
        .fetch_watermarks(topic, p, Duration::from_secs(10))
        .expect("watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, Offset::Offset(low))
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out
        .last()
        .map_or(low < high, |(o, _, _): &(i64, _, _)| o + 1 < high)
    {
        assert!(Instant::now() < deadline, "reading {topic}-{p} timed out");
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((
                m.offset(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            )),
            Some(Err(e)) => panic!("consuming {topic}-{p}: {e}"),
            None => {}
        }
    }
    (high, out)
}

fn verify(bs: &str, exp: &mut Expected, cycle: usize) -> usize {
    let mut checked = 0;
    for p in 0..DELETE_PARTITIONS {
        let (high, recs) = read_partition(bs, DELETE_TOPIC, p);
        let acked_high = exp
            .high
            .get(&(DELETE_TOPIC.to_string(), p))
            .copied()
            .unwrap_or(-1);
        assert!(
            high > acked_high,
            "cycle {cycle}: {DELETE_TOPIC}-{p} high watermark {high} <= acknowledged {acked_high}"
        );
        let low = recs.first().map_or(high, |r| r.0);
        for w in recs.windows(2) {
            assert_eq!(
                w[1].0,
                w[0].0 + 1,
                "cycle {cycle}: {DELETE_TOPIC}-{p} offsets not contiguous"
            );
        }
        let by_offset: HashMap<i64, &Vec<u8>> = recs.iter().map(|r| (r.0, &r.2)).collect();
        exp.records.retain(|(part, off), value| {
            if *part != p || *off < low {
                return *part != p; // below the log start: retention removed it
            }
            checked += 1;
            match by_offset.get(off) {
                Some(v) => assert_eq!(*v, value, "cycle {cycle}: {DELETE_TOPIC}-{p}@{off} changed"),
                None => panic!(
                    "cycle {cycle}: acknowledged {DELETE_TOPIC}-{p}@{off} lost (log {low}..{high})"
                ),
            }
            true
        });
    }
    for p in 0..COMPACT_PARTITIONS {
        let (high, recs) = read_partition(bs, COMPACT_TOPIC, p);
        let acked_high = exp
            .high
            .get(&(COMPACT_TOPIC.to_string(), p))
            .copied()
            .unwrap_or(-1);
        assert!(
            high > acked_high,
            "cycle {cycle}: {COMPACT_TOPIC}-{p} high watermark {high} <= acknowledged {acked_high}"
        );
        let mut last: HashMap<&[u8], (i64, &[u8])> = HashMap::new();
        let mut prev = -1;
        for (o, k, v) in &recs {
            assert!(
                *o > prev,
                "cycle {cycle}: {COMPACT_TOPIC}-{p} offsets out of order"
            );
            prev = *o;
            last.insert(k, (*o, v));
        }
        for ((part, key), (off, value)) in &exp.newest {
            if *part != p {
                continue;
            }
            checked += 1;
            match last.get(key.as_slice()) {
                Some((o, v)) if o == off => assert_eq!(v, value, "cycle {cycle}: {COMPACT_TOPIC}-{p}@{off} changed"),
                Some((o, _)) if o > off => {}
                other => panic!("cycle {cycle}: newest value of {} at {COMPACT_TOPIC}-{p}@{off} lost (log has {other:?})", String::from_utf8_lossy(key)),
            }
        }
    }
    checked
}

#[test]
fn crash_cycles_lose_no_acknowledged_record() {
    let cycles: usize = std::env::var("RUNNEL_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("RUNNEL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash harness: {cycles} cycles, RUNNEL_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut b = Broker::start_with_config(CONFIG, &[]);
    let bs = b.bootstrap();
    create_topics(&bs);
    let mut exp = Expected::default();
    let mut total_acked = 0usize;
    for cycle in 0..cycles {
        let acks = AckLog::default();
        let stop = Arc::new(AtomicBool::new(false));
        let producer = {
            let (bs, stop, acks) = (bs.clone(), stop.clone(), acks.clone());
            std::thread::spawn(move || produce_until(&bs, cycle, stop, acks))
        };
        let run_for = Duration::from_millis(500 + rng.below(1500));
        std::thread::sleep(run_for);
        b.kill9();
        stop.store(true, Ordering::Relaxed);
        producer.join().unwrap();
        let acked: Vec<Acked> = std::mem::take(&mut *acks.0.lock().unwrap());
        total_acked += acked.len();
        for a in acked {
            exp.add(a);
        }
        b.restart();
        let checked = verify(&bs, &mut exp, cycle);
        eprintln!(
            "cycle {cycle}: killed after {run_for:?}, {total_acked} acknowledged so far, {checked} checked"
        );
    }
    assert!(total_acked > 0, "nothing was acknowledged");
    eprintln!(
        "crash harness: {cycles} cycles, {total_acked} acknowledged records, 0 lost, {:?}",
        started.elapsed()
    );
}
