//! Per-record errors in Produce responses (KIP-467, issue 18): a batch refused because some of
//! its records break a topic rule (no key on a compacted topic, a CreateTime timestamp out of
//! bounds, a producer-set LogAppendTime) names those records by index with Kafka's messages,
//! plus Kafka's summary, from Produce v8; older versions get the code alone; a malformed batch
//! stays `CORRUPT_MESSAGE` with nothing named. When several records are named, librdkafka fails
//! exactly those with `INVALID_RECORD` and the rest of the batch with
//! `_INVALID_DIFFERENT_RECORD`; with one, it gives the whole batch the partition's code.
//!
//! The wire-level cases build their batches by hand (the test must choose which records are
//! bad and read the raw response fields); the client-level cases use librdkafka.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::client::{self, Msg};
use common::Broker;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, RequestHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset};

const CORRUPT_MESSAGE: i16 = 2;
const INVALID_TIMESTAMP: i16 = 32;
const INVALID_RECORD: i16 = 87;

/// Produces `records` (one partition's raw batches per entry) to `topic` with Produce
/// `version` and returns the partition responses in order.
fn produce(
    b: &Broker,
    version: i16,
    topic: &str,
    parts: &[&[u8]],
) -> Vec<PartitionProduceResponse> {
    let mut s = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    for (i, records) in parts.iter().enumerate() {
        let mut pd = PartitionProduceData::default();
        pd.index = i as i32;
        pd.records = Some(Bytes::copy_from_slice(records));
        td.partition_data.push(pd);
    }
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10000;
    req.topic_data.push(td);
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Produce as i16;
    h.request_api_version = version;
    h.correlation_id = 7;
    h.client_id = Some(StrBytes::from_static_str("record-errors-test"));
    let mut body = BytesMut::new();
    h.encode(&mut body, ApiKey::Produce.request_header_version(version))
        .unwrap();
    req.encode(&mut body, version).unwrap();
    s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("the broker answers");
    let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    let mut buf = Bytes::from(buf);
    kafka_protocol::messages::ResponseHeader::decode(
        &mut buf,
        ApiKey::Produce.response_header_version(version),
    )
    .unwrap();
    let mut r = ProduceResponse::decode(&mut buf, version).unwrap();
    r.responses.remove(0).partition_responses
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

/// One record: offset delta `delta`, timestamp delta `ts_delta`, optional key, value "v".
fn record(delta: i64, ts_delta: i64, key: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![0u8];
    put_varint(&mut body, ts_delta);
    put_varint(&mut body, delta);
    match key {
        Some(k) => {
            put_varint(&mut body, k.len() as i64);
            body.extend_from_slice(k);
        }
        None => put_varint(&mut body, -1),
    }
    put_varint(&mut body, 1);
    body.push(b'v');
    put_varint(&mut body, 0);
    let mut out = Vec::new();
    put_varint(&mut out, body.len() as i64);
    out.extend(body);
    out
}

/// A v2 batch of `records` (offset deltas 0..n) with attributes `attrs` and base / max
/// timestamps, with a correct CRC.
fn batch(attrs: i16, base_ts: i64, max_ts: i64, records: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0u8; 61];
    for r in records {
        b.extend_from_slice(r);
    }
    let n = records.len() as i32;
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[16] = 2;
    b[21..23].copy_from_slice(&attrs.to_be_bytes());
    b[23..27].copy_from_slice(&(n - 1).to_be_bytes());
    b[27..35].copy_from_slice(&base_ts.to_be_bytes());
    b[35..43].copy_from_slice(&max_ts.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&n.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// (batch index, message) of each record error.
fn named(p: &PartitionProduceResponse) -> Vec<(i32, String)> {
    p.record_errors
        .iter()
        .map(|e| {
            let m = e.batch_index_error_message.as_ref().map(|m| m.to_string());
            (e.batch_index, m.unwrap_or_default())
        })
        .collect()
}

/// High watermark of partition `p` of `topic`.
fn end_offset(b: &Broker, topic: &str, p: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = b.client_config().create().unwrap();
    let (_, high) = c
        .fetch_watermarks(topic, p, Duration::from_secs(10))
        .expect("watermarks");
    high
}

#[test]
fn keyless_records_on_a_compacted_topic_are_named() {
    let b = Broker::start();
    let t = "re-compacted";
    client::create_topic_with(&b.bootstrap(), t, 2, &[("cleanup.policy", "compact")]);
    let now = now_ms();
    let recs: Vec<Vec<u8>> = (0..5)
        .map(|i| record(i, 0, (i != 1 && i != 3).then_some(&b"k"[..])))
        .collect();
    let bad = batch(0, now, now, &recs);
    let good = batch(0, now, now, &[record(0, 0, Some(b"k"))]);
    for version in [8, 9, 12] {
        let r = produce(&b, version, t, &[&bad, &good]);
        let msg =
            format!("Compacted topic cannot accept message without key in topic partition {t}-0.");
        assert_eq!(r[0].error_code, INVALID_RECORD, "v{version}");
        assert_eq!(
            named(&r[0]),
            [(1, msg.clone()), (3, msg.clone())],
            "v{version}"
        );
        assert_eq!(
            r[0].error_message.as_deref(),
            Some(
                format!(
                    "One or more records have been rejected due to 2 record errors in total, \
                     and only showing the first three errors at most: [RecordError(batchIndex=1, \
                     message='{msg}'), RecordError(batchIndex=3, message='{msg}')]"
                )
                .as_str()
            ),
            "v{version}"
        );
        assert_eq!(r[0].base_offset, -1);
        // The other partition of the same request is appended and names nothing.
        assert_eq!(r[1].error_code, 0, "v{version}");
        assert!(r[1].record_errors.is_empty() && r[1].error_message.is_none());
    }
    // Before v8 the response has no room for them: the code alone.
    let r = produce(&b, 7, t, &[&bad]);
    assert_eq!(r[0].error_code, INVALID_RECORD);
    assert!(r[0].record_errors.is_empty() && r[0].error_message.is_none());
    assert_eq!(
        end_offset(&b, t, 0),
        0,
        "nothing of the refused batch was appended"
    );
    assert_eq!(end_offset(&b, t, 1), 3);
}

#[test]
fn every_record_timestamp_is_checked_and_named() {
    let b = Broker::start();
    let t = "re-timestamps";
    client::create_topic_with(
        &b.bootstrap(),
        t,
        1,
        &[
            ("message.timestamp.before.max.ms", "60000"),
            ("message.timestamp.after.max.ms", "60000"),
        ],
    );
    let before = now_ms();
    // The header's base and max timestamps are both `now`: only records 2 (an hour old) and
    // 4 (an hour ahead) are out of bounds.
    let hour = 3_600_000;
    let deltas = [0, 0, -hour, 0, hour];
    let recs: Vec<Vec<u8>> = (0..5)
        .map(|i| record(i, deltas[i as usize], Some(b"k")))
        .collect();
    let r = produce(&b, 9, t, &[&batch(0, before, before, &recs)]);
    let after = now_ms();
    assert_eq!(r[0].error_code, INVALID_TIMESTAMP);
    assert_eq!(
        r[0].error_message.as_deref(),
        Some("One or more records have been rejected due to invalid timestamp")
    );
    let got = named(&r[0]);
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [2, 4]);
    for ((_, m), (offset, ts)) in got.iter().zip([(2, before - hour), (4, before + hour)]) {
        let head = format!(
            "Timestamp {ts} of message with offset {offset} is out of range. The timestamp \
             should be within ["
        );
        assert!(m.starts_with(&head), "{m}");
        // The window is the broker's clock at the check, +- 60 s.
        let window: Vec<i64> = m[head.len()..m.len() - 1]
            .split(", ")
            .map(|x| x.parse().unwrap())
            .collect();
        let now = window[0] + 60_000;
        assert!((before..=after).contains(&now), "{m}");
        assert_eq!(window[1], now + 60_000, "{m}");
    }
    assert_eq!(end_offset(&b, t, 0), 0);
    // The same records in bounds are taken.
    let recs: Vec<Vec<u8>> = (0..5).map(|i| record(i, i, Some(b"k"))).collect();
    let now = now_ms();
    let r = produce(&b, 9, t, &[&batch(0, now, now + 4, &recs)]);
    assert_eq!((r[0].error_code, r[0].base_offset), (0, 0));
}

#[test]
fn producer_set_log_append_time_and_malformed_batches() {
    let b = Broker::start();
    let lat = "re-log-append-time";
    client::create_topic_with(
        &b.bootstrap(),
        lat,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    );
    let now = now_ms();
    let recs: Vec<Vec<u8>> = (0..2).map(|i| record(i, 0, Some(b"key"))).collect();
    // A batch flagged LogAppendTime (attribute bit 3) by the producer.
    let r = produce(&b, 9, lat, &[&batch(0x08, now, now, &recs)]);
    assert_eq!(r[0].error_code, INVALID_TIMESTAMP);
    let want = |offset: i32| {
        format!(
            "Invalid timestamp type in message DefaultRecord(offset={offset}, timestamp={now}, \
             key=3 bytes, value=1 bytes). Producer should not set timestamp type to \
             LogAppendTime."
        )
    };
    assert_eq!(named(&r[0]), [(0, want(0)), (1, want(1))]);
    // Unflagged, it is stamped and taken.
    let r = produce(&b, 9, lat, &[&batch(0, now, now, &recs)]);
    assert_eq!(r[0].error_code, 0);
    assert!(r[0].log_append_time_ms >= now);
    // A malformed record makes the batch unreadable: CORRUPT_MESSAGE, nothing named.
    let mut broken = record(1, 0, None);
    broken[0] += 2; // record length past the batch
    let plain = "re-plain";
    client::create_topic(&b.bootstrap(), plain, 1);
    let r = produce(
        &b,
        9,
        plain,
        &[&batch(0, now, now, &[record(0, 0, None), broken])],
    );
    assert_eq!(r[0].error_code, CORRUPT_MESSAGE);
    assert!(r[0].record_errors.is_empty() && r[0].error_message.is_none());
}

/// A delivery result: message index and error code, `None` for success.
type Delivery = (usize, Option<RDKafkaErrorCode>);

/// Delivery results as they arrive.
#[derive(Clone, Default)]
struct Codes(Arc<Mutex<Vec<Delivery>>>);

impl ClientContext for Codes {}
impl ProducerContext for Codes {
    type DeliveryOpaque = Box<usize>;
    fn delivery(&self, r: &DeliveryResult<'_>, idx: Self::DeliveryOpaque) {
        let code = r.as_ref().err().map(|(e, _)| e.rdkafka_error_code());
        self.0
            .lock()
            .unwrap()
            .push((*idx, code.map(|c| c.unwrap())));
    }
}

/// Produces `msgs` to partition 0 of `topic` in one batch (a long linger) and returns each
/// message's delivery error code in input order.
fn librdkafka_batch(b: &Broker, topic: &str, msgs: &[Msg]) -> Vec<Option<RDKafkaErrorCode>> {
    let codes = Codes::default();
    let producer: ThreadedProducer<Codes> = ClientConfig::new()
        .set("bootstrap.servers", b.bootstrap())
        .set("linger.ms", "1000")
        .set("message.timeout.ms", "30000")
        .create_with_context(codes.clone())
        .expect("producer");
    for (i, m) in msgs.iter().enumerate() {
        let mut rec: BaseRecord<'_, [u8], [u8], Box<usize>> =
            BaseRecord::with_opaque_to(topic, Box::new(i)).partition(0);
        if let Some(k) = &m.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &m.value {
            rec = rec.payload(v.as_slice());
        }
        if let Some(ts) = m.timestamp {
            rec = rec.timestamp(ts);
        }
        producer.send(rec).map_err(|(e, _)| e).expect("queued");
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let mut got = codes.0.lock().unwrap().clone();
    assert_eq!(got.len(), msgs.len(), "a report for every message");
    got.sort_by_key(|g| g.0);
    got.into_iter().map(|g| g.1).collect()
}

fn msg(key: Option<&str>, value: &str, timestamp: Option<i64>) -> Msg {
    Msg {
        partition: Some(0),
        key: key.map(|k| k.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        timestamp,
        ..Default::default()
    }
}

#[test]
fn librdkafka_fails_exactly_the_named_records() {
    use RDKafkaErrorCode::{InvalidDifferentRecord as Other, InvalidRecord, InvalidTimestamp};
    let b = Broker::start();
    let t = "re-librdkafka";
    client::create_topic_with(
        &b.bootstrap(),
        t,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("message.timestamp.before.max.ms", "60000"),
        ],
    );
    // Two keyless records among four: librdkafka fails each named record with INVALID_RECORD
    // and the others of the batch with _INVALID_DIFFERENT_RECORD.
    let msgs: Vec<Msg> = (0..4)
        .map(|i| msg((i % 2 == 0).then_some("k"), &format!("b{i}"), None))
        .collect();
    let got = librdkafka_batch(&b, t, &msgs);
    assert_eq!(
        got,
        [
            Some(Other),
            Some(InvalidRecord),
            Some(Other),
            Some(InvalidRecord)
        ]
    );
    // A single named record: librdkafka (2.12 to 2.16) then gives every record of the batch
    // the partition's code (its on_acknowledgement path forces the batch error when fewer than
    // two records are named); only the per-message error strings differ.
    let msgs: Vec<Msg> = (0..5)
        .map(|i| msg((i != 2).then_some("k"), &format!("a{i}"), None))
        .collect();
    assert_eq!(librdkafka_batch(&b, t, &msgs), [Some(InvalidRecord); 5]);
    // One record an hour old among three, then two of them.
    let old = now_ms() - 3_600_000;
    let msgs: Vec<Msg> = (0..3)
        .map(|i| msg(Some("k"), &format!("c{i}"), (i == 1).then_some(old)))
        .collect();
    assert_eq!(librdkafka_batch(&b, t, &msgs), [Some(InvalidTimestamp); 3]);
    let msgs: Vec<Msg> = (0..3)
        .map(|i| msg(Some("k"), &format!("c{i}"), (i != 1).then_some(old)))
        .collect();
    let got = librdkafka_batch(&b, t, &msgs);
    // With several named, librdkafka reports INVALID_RECORD for each, whatever the cause.
    assert_eq!(got, [Some(InvalidRecord), Some(Other), Some(InvalidRecord)]);
    // Nothing of the refused batches was appended; a good batch goes through.
    let msgs: Vec<Msg> = (0..3)
        .map(|i| msg(Some("k"), &format!("d{i}"), None))
        .collect();
    assert_eq!(librdkafka_batch(&b, t, &msgs), [None, None, None]);
    let read = client::consume(&b.bootstrap(), t, &[0], Offset::Beginning, 3, &[]);
    let values: Vec<_> = read
        .iter()
        .map(|g| (g.offset, g.value.clone().unwrap()))
        .collect();
    assert_eq!(
        values,
        [
            (0, b"d0".to_vec()),
            (1, b"d1".to_vec()),
            (2, b"d2".to_vec())
        ]
    );
}
