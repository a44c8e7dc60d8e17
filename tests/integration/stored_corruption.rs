//! Stored batches that go bad on disk after they were written (issue 16): a fetch that reaches
//! one answers that partition CORRUPT_MESSAGE, after serving every good batch before it; the
//! other partitions and topics of the same request are served as usual, the broker logs the
//! corruption (rate-limited) and counts it in `runnel_corrupt_batch_reads_total`, and nothing
//! aborts. librdkafka reads every record before the bad batch, then reports the error instead
//! of stalling silently or skipping ahead.
//!
//! The records are produced through librdkafka, the broker is stopped, bytes are changed in a
//! closed segment file (recovery rescans only the active segment; closed ones with a valid
//! index are trusted, so the damage is only met when the data is read), and the broker is
//! started again. The Fetch requests are built with kafka-protocol's encoder, so the test can
//! see each partition's error code and batches.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::raw::Conn;
use common::Broker;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

const CORRUPT_MESSAGE: i16 = 2;

/// One partition's answer to a fetch: error code and the (base, next) offsets of its batches.
#[derive(Debug)]
struct Part {
    error: i16,
    batches: Vec<(i64, i64)>,
}

impl Conn {
    /// One Fetch (v11, no wait) of the given (topic, partition, offset)s, answers in order.
    fn fetch(&mut self, parts: &[(&str, i32, i64)]) -> Vec<Part> {
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 0;
        req.min_bytes = 1;
        req.max_bytes = 50 << 20;
        req.session_epoch = -1;
        for &(topic, p, offset) in parts {
            let mut fp = FetchPartition::default();
            fp.partition = p;
            fp.fetch_offset = offset;
            fp.partition_max_bytes = 1 << 20;
            fp.log_start_offset = -1;
            fp.current_leader_epoch = -1;
            let mut ft = FetchTopic::default();
            ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
            ft.partitions.push(fp);
            req.topics.push(ft);
        }
        let r: FetchResponse = self.call(&req, 11);
        r.responses
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|pd| Part {
                error: pd.error_code,
                batches: batches_in(pd.records.as_deref().unwrap_or(&[]))
                    .into_iter()
                    .map(|b| (b.base, b.next))
                    .collect(),
            })
            .collect()
    }

    /// Fetches `topic`/`p` from `from` on until an error or the end; returns the offsets read
    /// (every one of `from..end` in order) and the error that stopped it (0 at the end).
    fn read_all(&mut self, topic: &str, p: i32, from: i64) -> (Vec<i64>, i16) {
        let mut offsets = Vec::new();
        let mut at = from;
        loop {
            let part = self.fetch(&[(topic, p, at)]).remove(0);
            if part.error != 0 || part.batches.is_empty() {
                return (offsets, part.error);
            }
            for (base, next) in part.batches {
                assert_eq!(base, at, "{topic}-{p}: batches follow each other");
                offsets.extend(base..next);
                at = next;
            }
        }
    }
}

/// A batch found in a segment file.
struct StoredBatch {
    pos: usize,
    len: usize,
    base: i64,
    next: i64,
}

/// The batches in `data` (a segment file or a Fetch's records), in order.
fn batches_in(data: &[u8]) -> Vec<StoredBatch> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 61 <= data.len() {
        let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap());
        if len < 49 || pos + 12 + len as usize > data.len() {
            break;
        }
        let base = i64::from_be_bytes(data[pos..pos + 8].try_into().unwrap());
        let lod = i32::from_be_bytes(data[pos + 23..pos + 27].try_into().unwrap());
        let len = 12 + len as usize;
        out.push(StoredBatch {
            pos,
            len,
            base,
            next: base + lod as i64 + 1,
        });
        pos += len;
    }
    out
}

/// The `.log` files of `topic`-`p`, oldest first.
fn segments(b: &Broker, topic: &str, p: i32) -> Vec<PathBuf> {
    let dir = b.data_dir().join(format!("{topic}-{p}"));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// Changes the third batch of the second segment of `topic`-`p` with `spoil` (given the
/// segment's bytes and the batch); returns that batch's base offset.
fn spoil_closed_segment(
    b: &Broker,
    topic: &str,
    p: i32,
    spoil: impl Fn(&mut [u8], &StoredBatch),
) -> i64 {
    let segs = segments(b, topic, p);
    assert!(segs.len() >= 3, "{topic}-{p}: several segments: {segs:?}");
    let mut data = std::fs::read(&segs[1]).unwrap();
    let batches = batches_in(&data);
    assert!(batches.len() >= 4, "{topic}-{p}: batches in the segment");
    let victim = &batches[2];
    spoil(&mut data, victim);
    std::fs::write(&segs[1], &data).unwrap();
    victim.base
}

/// `n` records of ~300 bytes to `topic`-`p`, one batch each.
fn produce_batches(b: &Broker, topic: &str, p: i32, n: usize) {
    let msgs: Vec<Msg> = (0..n)
        .map(|i| Msg {
            partition: Some(p),
            value: Some(format!("{p}-{i:04}-{}", "x".repeat(300)).into_bytes()),
            ..Default::default()
        })
        .collect();
    let acks = client::produce(
        &b.bootstrap(),
        topic,
        &msgs,
        &[("batch.num.messages", "1"), ("linger.ms", "0")],
    );
    assert_eq!(acks.last(), Some(&(p, n as i64 - 1)));
}

fn metric_port() -> u16 {
    common::free_port()
}

#[test]
fn corrupt_stored_batches_fail_their_partition_after_the_good_records() {
    let mport = metric_port();
    let listen = format!("127.0.0.1:{mport}");
    let mut b = Broker::start_with(&["--metrics-listen", &listen]);
    let t = "spoiled";
    let other = "intact";
    client::create_topic_with(&b.bootstrap(), t, 3, &[("segment.bytes", "4096")]);
    client::create_topic(&b.bootstrap(), other, 1);
    for p in 0..3 {
        produce_batches(&b, t, p, 40);
    }
    produce_batches(&b, other, 0, 5);
    assert!(b.stop(), "clean stop");

    // Partition 0: one bit of a record's value flipped (the CRC no longer matches).
    let k0 = spoil_closed_segment(&b, t, 0, |data, v| data[v.pos + v.len - 3] ^= 0x04);
    // Partition 1: a batch length that runs far past the segment.
    let k1 = spoil_closed_segment(&b, t, 1, |data, v| {
        data[v.pos + 8..v.pos + 12].copy_from_slice(&0x7fff_0000i32.to_be_bytes())
    });
    // Partition 2: a base offset that goes back (outside the CRC).
    let k2 = spoil_closed_segment(&b, t, 2, |data, v| {
        data[v.pos..v.pos + 8].copy_from_slice(&3i64.to_be_bytes())
    });
    b.restart();

    let mut c = Conn::open(&b);
    for (p, k) in [(0, k0), (1, k1), (2, k2)] {
        let (offsets, err) = c.read_all(t, p, 0);
        assert_eq!(
            err, CORRUPT_MESSAGE,
            "partition {p}: the error, not a stall"
        );
        assert_eq!(
            offsets,
            (0..k).collect::<Vec<_>>(),
            "partition {p}: every record before the bad batch, nothing after it"
        );
        // Starting right at the bad batch, and again: the same error, every time.
        for _ in 0..5 {
            let part = c.fetch(&[(t, p, k)]).remove(0);
            assert_eq!(
                (part.error, part.batches.len()),
                (CORRUPT_MESSAGE, 0),
                "{p}"
            );
        }
    }
    // Past a batch whose CRC fails, the partition reads on (its length still leads to the next
    // batch); past a wrong length or offset there is no telling where batches are: the error.
    let part = c.fetch(&[(t, 0, k0 + 1)]).remove(0);
    assert_eq!(part.error, 0, "partition 0 past the bad batch");
    assert_eq!(part.batches.first(), Some(&(k0 + 1, k0 + 2)));
    for (p, k) in [(1, k1), (2, k2)] {
        assert_eq!(c.fetch(&[(t, p, k + 1)])[0].error, CORRUPT_MESSAGE, "{p}");
    }

    // One request over the bad partitions and good ones: only the bad ones fail.
    let answers = c.fetch(&[(t, 0, k0), (other, 0, 0), (t, 1, k1), (t, 0, 0)]);
    assert_eq!(answers[0].error, CORRUPT_MESSAGE);
    assert_eq!(answers[1].error, 0);
    assert_eq!(
        answers[1].batches,
        (0..5).map(|o| (o, o + 1)).collect::<Vec<_>>()
    );
    assert_eq!(answers[2].error, CORRUPT_MESSAGE);
    assert_eq!(answers[3].error, 0);
    assert_eq!(answers[3].batches.first(), Some(&(0, 1)));
    let (offsets, err) = c.read_all(other, 0, 0);
    assert_eq!((offsets, err), ((0..5).collect(), 0));

    // librdkafka reads every record before the bad batch of partition 0, then reports the
    // error (it does not skip ahead, and does not wait without a word).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.bootstrap())
        .set("group.id", "stored-corruption")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(t, 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let mut reported = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(reported && got.len() as i64 >= k0) {
        assert!(
            Instant::now() < deadline,
            "read {got:?}, error seen: {reported}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => got.push(m.offset()),
            Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::InvalidMessage) => {
                reported = true
            }
            Some(Err(e)) => eprintln!("consumer event: {e}"),
            None => {}
        }
    }
    // A little longer: nothing past the bad batch shows up.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            got.push(m.offset());
        }
    }
    assert_eq!(got, (0..k0).collect::<Vec<_>>());
    drop(consumer);

    // Logged once per partition (rate-limited), every refused fetch counted.
    let log = b.log_text();
    let lines = log.matches("corrupt stored batch").count();
    assert!((3..=6).contains(&lines), "{lines} log lines:\n{log}");
    let s = common::metrics::scrape(mport);
    let refused = common::metrics::value(&s, "runnel_corrupt_batch_reads_total", &[]);
    assert!(
        refused >= 20.0,
        "runnel_corrupt_batch_reads_total = {refused}"
    );

    // Still up, and still serving the good partitions after another restart.
    assert!(b.stop(), "clean stop");
    b.restart();
    let mut c = Conn::open(&b);
    assert_eq!(c.read_all(other, 0, 0), ((0..5).collect(), 0));
    assert_eq!(c.read_all(t, 0, 0), ((0..k0).collect(), CORRUPT_MESSAGE));
}
