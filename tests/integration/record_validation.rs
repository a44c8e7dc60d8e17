//! Record-batch validation (issue 16): batches whose CRC is right but whose header counts or
//! records are impossible are refused with Kafka's codes (`CORRUPT_MESSAGE` for malformed
//! records, `INVALID_RECORD` for inconsistent header counts), the partition's offsets do not
//! move, the broker stays up, and librdkafka reads everything that was acknowledged; batches
//! planted straight into a segment file give an error for that partition or are truncated at
//! recovery, never an abort.
//!
//! The corrupt batches are made by hand on purpose (no client produces them); the Produce
//! requests around them are built with kafka-protocol's encoder, and the good data goes through
//! librdkafka.

use crate::common;

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use common::client::{self, Msg};
use common::raw::Conn;
use common::Broker;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, ListOffsetsRequest, ListOffsetsResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;

const CORRUPT_MESSAGE: i16 = 2;
const INVALID_RECORD: i16 = 87;
const KAFKA_STORAGE_ERROR: i16 = 56;

impl Conn {
    /// Produces the raw records `records` to partition 0 of `topic`; returns the error code,
    /// `None` when the connection died instead of answering.
    fn produce(&mut self, topic: &str, records: Vec<u8>) -> Option<i16> {
        let mut pd = PartitionProduceData::default();
        pd.index = 0;
        pd.records = Some(Bytes::from(records));
        let mut td = TopicProduceData::default();
        td.name = TopicName(StrBytes::from_string(topic.to_string()));
        td.partition_data.push(pd);
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 10000;
        req.topic_data.push(td);
        let r: ProduceResponse = self.try_call(&req, 9)?;
        Some(r.responses[0].partition_responses[0].error_code)
    }

    /// ListOffsets of partition `p` of `topic` at timestamp `ts`: (error, offset).
    fn offset_for(&mut self, topic: &str, p: i32, ts: i64) -> (i16, i64) {
        let mut part = ListOffsetsPartition::default();
        part.partition_index = p;
        part.timestamp = ts;
        part.current_leader_epoch = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions.push(part);
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics.push(t);
        let r: ListOffsetsResponse = self.call(&req, 7);
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    }
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A record body from raw varint fields after the attributes byte, plus `tail` bytes, framed
/// with its length (+ `len_adjust`).
fn raw_record(fields: &[i64], tail: &[u8], len_adjust: i64) -> Vec<u8> {
    let mut body = vec![0u8];
    for &f in fields {
        put_varint(&mut body, f);
    }
    body.extend_from_slice(tail);
    let mut out = Vec::new();
    put_varint(&mut out, body.len() as i64 + len_adjust);
    out.extend(body);
    out
}

/// A well-formed record: timestamp delta 0, offset delta `delta`, key and value.
fn record(delta: i64, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8];
    put_varint(&mut body, 0);
    put_varint(&mut body, delta);
    put_varint(&mut body, key.len() as i64);
    body.extend_from_slice(key);
    put_varint(&mut body, value.len() as i64);
    body.extend_from_slice(value);
    put_varint(&mut body, 0);
    let mut out = Vec::new();
    put_varint(&mut out, body.len() as i64);
    out.extend(body);
    out
}

/// A v2 batch with a correct CRC and whatever header counts it is told.
fn batch(base: i64, attrs: i16, last_delta: i32, count: i32, ts: i64, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 61];
    b.extend_from_slice(body);
    let len = (b.len() - 12) as i32;
    b[0..8].copy_from_slice(&base.to_be_bytes());
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[16] = 2;
    b[21..23].copy_from_slice(&attrs.to_be_bytes());
    b[23..27].copy_from_slice(&last_delta.to_be_bytes());
    b[27..35].copy_from_slice(&ts.to_be_bytes());
    b[35..43].copy_from_slice(&ts.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The hostile batches of issue 16 with the code each must get.
fn hostile_batches() -> Vec<(&'static str, Vec<u8>, i16)> {
    let ts = now_ms();
    let good = record(0, b"k", b"v");
    let one = |body: &[u8]| batch(0, 0, 0, 1, ts, body);
    let max = i32::MAX;
    let mut random = Vec::new();
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    vec![
        (
            "records_count 2^31-1 over one record",
            batch(0, 0, max - 1, max, ts, &good),
            CORRUPT_MESSAGE,
        ),
        (
            "record length -1",
            one(&[1]), // zig-zag varint of -1
            CORRUPT_MESSAGE,
        ),
        (
            "key length -7",
            one(&raw_record(&[0, 0, -7, 1], b"v\x00", 0)),
            CORRUPT_MESSAGE,
        ),
        (
            "value length 2^31",
            one(&raw_record(&[0, 0, 1], b"k\x80\x80\x80\x80\x10\x00", 0)),
            CORRUPT_MESSAGE,
        ),
        (
            "header count 2^31-1",
            one(&raw_record(&[0, 0, 1], b"k\x02v\xfe\xff\xff\xff\x0f", 0)),
            CORRUPT_MESSAGE,
        ),
        (
            "header count -3",
            one(&raw_record(&[0, 0, -1, -1, -3], b"", 0)),
            CORRUPT_MESSAGE,
        ),
        ("random bytes", one(&random), CORRUPT_MESSAGE),
        (
            "gzip attribute over garbage",
            batch(0, 1, 0, 1, ts, b"\x1f\x8b garbage, not a gzip stream"),
            CORRUPT_MESSAGE,
        ),
        (
            "gzip over records that claim two",
            batch(0, 1, 1, 2, ts, &gzip(&good)),
            CORRUPT_MESSAGE,
        ),
        (
            "records_count 1 with last offset delta 2^31-2",
            batch(0, 0, max - 1, 1, ts, &good),
            INVALID_RECORD,
        ),
        (
            "1000 claimed, one present",
            batch(0, 0, 999, 1000, ts, &good),
            CORRUPT_MESSAGE,
        ),
        (
            "0 records, last offset delta 5",
            batch(0, 0, 5, 0, ts, b""),
            INVALID_RECORD,
        ),
        (
            "record longer than the batch",
            one(&raw_record(&[0, 0, 1, 1], b"kv\x00", 40)),
            CORRUPT_MESSAGE,
        ),
    ]
}

/// High watermark of partition `p` of `topic`.
fn end_offset(b: &Broker, topic: &str, p: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = b.client_config().create().unwrap();
    for _ in 0..50 {
        if let Ok((_, high)) = c.fetch_watermarks(topic, p, Duration::from_secs(10)) {
            return high;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no watermarks for {topic}");
}

fn keyed(key: &str, value: &str) -> Msg {
    Msg {
        partition: Some(0),
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

fn alive(b: &mut Broker) {
    let c = b.child.as_mut().expect("running");
    assert!(
        c.try_wait().unwrap().is_none(),
        "the broker died: {}",
        b.log_text()
    );
}

#[test]
fn hostile_batches_are_refused_and_everything_acknowledged_stays_readable() {
    let mut b = Broker::start();
    let plain = "rv-plain";
    let compacted = "rv-compacted";
    let zstd = "rv-zstd";
    client::create_topic(&b.bootstrap(), plain, 1);
    client::create_topic_with(
        &b.bootstrap(),
        compacted,
        1,
        &[("cleanup.policy", "compact")],
    );
    client::create_topic_with(&b.bootstrap(), zstd, 1, &[("compression.type", "zstd")]);
    let topics = [plain, compacted, zstd];
    for t in topics {
        client::produce(&b.bootstrap(), t, &[keyed("a", "before")], &[]);
    }
    let mut c = Conn::open(&b);
    // Every case is tried and every wrong answer listed, so a failure shows them all.
    let mut wrong = Vec::new();
    'all: for t in topics {
        for (what, bytes, code) in hostile_batches() {
            let got = c.produce(t, bytes);
            let Some(got) = got else {
                wrong.push(format!("{t}: {what}: the broker died"));
                break 'all;
            };
            if got != code {
                wrong.push(format!("{t}: {what}: error {got}, want {code}"));
            }
            let end = end_offset(&b, t, 0);
            if end != 1 {
                wrong.push(format!("{t}: {what}: end offset moved to {end}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    alive(&mut b);
    for t in topics {
        client::produce(&b.bootstrap(), t, &[keyed("b", "after")], &[]);
    }
    let read = |b: &Broker| {
        for t in topics {
            let got = client::consume(&b.bootstrap(), t, &[0], Offset::Beginning, 2, &[]);
            let values: Vec<_> = got.iter().map(|g| (g.offset, g.value.clone())).collect();
            assert_eq!(
                values,
                vec![(0, Some(b"before".to_vec())), (1, Some(b"after".to_vec()))],
                "{t}"
            );
        }
    };
    read(&b);
    // After a restart, a lookup by timestamp on each partition answers (the landmine of issue
    // 16 made it abort the broker after every restart).
    assert!(b.stop(), "clean stop");
    b.restart();
    let mut c = Conn::open(&b);
    for t in topics {
        let (err, offset) = c.offset_for(t, 0, 0);
        assert_eq!((err, offset), (0, 0), "{t}");
        assert_eq!(c.offset_for(t, 0, now_ms() + 3_600_000), (0, -1), "{t}");
    }
    read(&b);
    alive(&mut b);
}

/// Position after the last batch of a segment file and the next offset.
fn end_of_batches(data: &[u8]) -> (usize, i64) {
    let mut pos = 0;
    let mut next = 0;
    while pos + 61 <= data.len() {
        let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap());
        if len <= 0 || pos + 12 + len as usize > data.len() {
            break;
        }
        let base = i64::from_be_bytes(data[pos..pos + 8].try_into().unwrap());
        let lod = i32::from_be_bytes(data[pos + 23..pos + 27].try_into().unwrap());
        next = base + lod as i64 + 1;
        pos += 12 + len as usize;
    }
    (pos, next)
}

/// Writes `make(next_offset)` into the partition's first segment right after its last batch.
fn plant(b: &Broker, topic: &str, p: i32, make: impl Fn(i64) -> Vec<u8>) {
    let path = b
        .data_dir()
        .join(format!("{topic}-{p}"))
        .join("00000000000000000000.log");
    let mut data = std::fs::read(&path).unwrap();
    let (end, next) = end_of_batches(&data);
    assert_eq!(next, 2, "two records produced before");
    let planted = make(next);
    data.truncate(end);
    data.extend_from_slice(&planted);
    std::fs::write(&path, &data).unwrap();
}

#[test]
fn batches_planted_in_segment_files_give_errors_or_truncation_never_an_abort() {
    let mut b = Broker::start();
    let t = "planted";
    client::create_topic(&b.bootstrap(), t, 3);
    for p in 0..3 {
        let msgs: Vec<Msg> = ["one", "two"]
            .iter()
            .map(|v| Msg {
                partition: Some(p),
                value: Some(v.as_bytes().to_vec()),
                ..Default::default()
            })
            .collect();
        client::produce(&b.bootstrap(), t, &msgs, &[]);
    }
    assert!(b.stop(), "clean stop");
    let later = now_ms() + 3_600_000;
    let good = record(0, b"k", b"v");
    // Partition 0: a gzip batch whose header claims 2^31-1 records over one. Recovery does not
    // decompress, so it stays; the lookup by timestamp that reaches it gets an error.
    let gz = gzip(&good);
    plant(&b, t, 0, |next| {
        batch(next, 1, i32::MAX - 1, i32::MAX, later, &gz)
    });
    // Partition 1: the same lie uncompressed: recovery truncates it.
    plant(&b, t, 1, |next| {
        batch(next, 0, i32::MAX - 1, i32::MAX, later, &good)
    });
    // Partition 2: a record with an impossible key length.
    let bad = raw_record(&[0, 0, -7, 1], b"v\x00", 0);
    plant(&b, t, 2, |next| batch(next, 0, 0, 1, later, &bad));
    b.restart();
    let mut c = Conn::open(&b);
    let (err, _) = c.offset_for(t, 0, later - 1000);
    assert_eq!(
        err, KAFKA_STORAGE_ERROR,
        "partition 0: an error, not an abort"
    );
    alive(&mut b);
    for p in [1, 2] {
        assert_eq!(
            end_offset(&b, t, p),
            2,
            "partition {p}: the planted batch was truncated"
        );
        assert_eq!(c.offset_for(t, p, later - 1000), (0, -1), "partition {p}");
    }
    // The other partitions go on as before.
    for p in [1, 2] {
        let r = client::produce(
            &b.bootstrap(),
            t,
            &[Msg {
                partition: Some(p),
                value: Some(b"three".to_vec()),
                ..Default::default()
            }],
            &[],
        );
        assert_eq!(r[0], (p, 2));
        let got = client::consume(&b.bootstrap(), t, &[p], Offset::Beginning, 3, &[]);
        let values: Vec<_> = got.iter().map(|g| g.value.clone().unwrap()).collect();
        assert_eq!(
            values,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
    }
    // Partition 0's good records are still readable.
    let got = client::consume(&b.bootstrap(), t, &[0], Offset::Beginning, 2, &[]);
    assert_eq!(got[1].value.as_deref(), Some(&b"two"[..]));
    alive(&mut b);
    // And it comes back after another restart.
    assert!(b.stop(), "clean stop");
    b.restart();
    let mut c = Conn::open(&b);
    assert_eq!(c.offset_for(t, 0, later - 1000).0, KAFKA_STORAGE_ERROR);
    assert_eq!(c.offset_for(t, 1, 0), (0, 0));
    alive(&mut b);
}
