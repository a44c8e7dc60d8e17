//! Lean consumer: one blocking TCP connection, statically assigned partitions (no consumer
//! group, no offset commits), Fetch requests built with `kafka-protocol`.
//!
//! Fetches are pipelined with the work on their results: as soon as a response arrives, its
//! batch headers give the next offsets and the next Fetch goes out; only then are the records of
//! the response walked, while the broker prepares the next one. Uncompressed batches are walked
//! in place, reading each record's value just far enough to get the send time and run id that
//! the producers embed (see `payload.rs`); compressed batches are decoded with
//! `RecordBatchDecoder`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::conn::{be_i32, be_i64, Conn};
use crate::consumer::count_consumed;
use crate::consumer::Subscription;
use crate::context::RunContext;
use crate::stats::Recorder;

/// Bytes of a v2 record batch header, up to and including the record count.
const BATCH_HEADER: usize = 61;
/// Longest the broker may hold a Fetch without data (so stop requests are noticed quickly).
const MAX_WAIT_MS: i32 = 100;
/// Per-partition fetch size.
const PARTITION_MAX_BYTES: i32 = 4 << 20;

/// The complete batches in `data`: `(base offset, last offset, attributes, whole batch bytes)`.
fn batches(data: &[u8]) -> impl Iterator<Item = (i64, i64, i16, std::ops::Range<usize>)> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if data.len() < at + BATCH_HEADER {
            return None;
        }
        let base = be_i64(data, at);
        let len = be_i32(data, at + 8);
        let end = at + 12 + len.max(0) as usize;
        if len < (BATCH_HEADER - 12) as i32 || end > data.len() || data[at + 16] != 2 {
            return None; // a partial batch at the end of the response, or not format v2
        }
        let attributes = i16::from_be_bytes([data[at + 21], data[at + 22]]);
        let last = base + i64::from(be_i32(data, at + 23));
        let range = at..end;
        at = end;
        Some((base, last, attributes, range))
    })
}

/// The offset to fetch next, after the complete batches in `data` (fetched from `from`).
pub fn next_offset(data: &[u8], from: i64) -> i64 {
    batches(data).fold(from, |o, (_, last, _, _)| o.max(last + 1))
}

/// Reads a zig-zag varint at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Result<i64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(byte) = b.get(*at) else {
            bail!("truncated varint");
        };
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
        }
    }
    bail!("varint too long")
}

/// Calls `f` with the value of every data record at offset `from` or later in `data` (a Fetch
/// response's records). Control batches are skipped.
pub fn for_each_value(data: &Bytes, from: i64, mut f: impl FnMut(&[u8])) -> Result<()> {
    for (base, _, attributes, range) in batches(data) {
        if attributes & 0x20 != 0 {
            continue;
        }
        if attributes & 0x7 != 0 {
            let mut batch = data.slice(range);
            let set = RecordBatchDecoder::decode(&mut batch).context("decoding a batch")?;
            for r in set.records.iter().filter(|r| r.offset >= from) {
                f(r.value.as_deref().unwrap_or(&[]));
            }
            continue;
        }
        let b = &data[range];
        let count = be_i32(b, BATCH_HEADER - 4);
        let mut at = BATCH_HEADER;
        for _ in 0..count {
            let len = varint(b, &mut at)?;
            let next = at + len.max(0) as usize;
            if next > b.len() {
                bail!("record runs past its batch");
            }
            at += 1; // attributes
            varint(b, &mut at)?; // timestamp delta
            let offset = base + varint(b, &mut at)?;
            let key_len = varint(b, &mut at)?;
            at += key_len.max(0) as usize;
            let value_len = varint(b, &mut at)?;
            if offset >= from {
                let end = at + value_len.max(0) as usize;
                if end > next {
                    bail!("record value runs past its record");
                }
                f(&b[at..end]);
            }
            at = next;
        }
    }
    Ok(())
}

/// Everything one lean consumer thread needs.
pub struct LeanConsumerTask {
    /// Run-wide state.
    pub run: Arc<RunContext>,
    /// Global consumer index (for the client id).
    pub index: usize,
    /// Topic consumed.
    pub topic: String,
    /// Progress of this consumer's subscription.
    pub subscription: Arc<Subscription>,
    /// Where this consumer's end-to-end latencies go.
    pub recorder: Arc<Recorder>,
    /// `(partition, start offset)` pairs of this consumer.
    pub assignment: Vec<(i32, i64)>,
}

fn fetch_request(topic: &str, offsets: &[(i32, i64)]) -> FetchRequest {
    let partitions = offsets
        .iter()
        .map(|(p, o)| {
            FetchPartition::default()
                .with_partition(*p)
                .with_fetch_offset(*o)
                .with_current_leader_epoch(-1)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(PARTITION_MAX_BYTES)
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(64 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(partitions)])
}

impl LeanConsumerTask {
    /// Connects, publishes the static assignment and runs the consumer on a new thread until
    /// `stop_consuming` is set.
    pub fn spawn(self) -> Result<std::thread::JoinHandle<()>> {
        let conn = Conn::connect(
            &self.run.workload.bootstrap,
            &format!("runnel-loadgen-lean-c{}", self.index),
            Duration::from_secs(30),
        )?;
        self.subscription.publish(0, self.assignment.len());
        std::thread::Builder::new()
            .name(format!("lean-consumer-{}", self.index))
            .spawn(move || {
                if let Err(e) = self.run_loop(conn) {
                    let c = &self.run.counters;
                    if c.consumer_errors.fetch_add(1, Ordering::Relaxed) < 10 {
                        eprintln!("lean consumer {}: {e:#}", self.index);
                    }
                }
                self.subscription.publish(self.assignment.len(), 0);
            })
            .context("spawning lean consumer thread")
    }

    fn run_loop(&self, mut conn: Conn) -> Result<()> {
        let run = &self.run;
        let c = &run.counters;
        let v = conn.versions.fetch;
        let mut offsets = self.assignment.clone();
        if !run.wait_for_consume_gate() {
            return Ok(());
        }
        if offsets.is_empty() {
            while !run.stop_consuming.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        let mut id = conn
            .writer
            .send(ApiKey::Fetch, v, &fetch_request(&self.topic, &offsets))?;
        loop {
            let resp: FetchResponse = conn.reader.recv(ApiKey::Fetch, v, id)?;
            if resp.error_code != 0 {
                bail!("fetch failed with error code {}", resp.error_code);
            }
            let from = offsets.clone();
            let mut data = Vec::new();
            for p in resp.responses.iter().flat_map(|t| t.partitions.iter()) {
                if p.error_code != 0 {
                    if c.consumer_errors.fetch_add(1, Ordering::Relaxed) < 10 {
                        eprintln!(
                            "lean consumer {}: partition {}: error {}",
                            self.index, p.partition_index, p.error_code
                        );
                    }
                    continue;
                }
                let Some(records) = &p.records else { continue };
                if let Some(o) = offsets.iter_mut().find(|o| o.0 == p.partition_index) {
                    o.1 = next_offset(records, o.1);
                }
                data.push((p.partition_index, records.clone()));
            }
            let stop = run.stop_consuming.load(Ordering::Relaxed);
            if !stop {
                id = conn
                    .writer
                    .send(ApiKey::Fetch, v, &fetch_request(&self.topic, &offsets))?;
            }
            for (p, records) in &data {
                let start = from.iter().find(|o| o.0 == *p).map_or(0, |o| o.1);
                for_each_value(records, start, |value| self.count(value))?;
            }
            if stop {
                return Ok(());
            }
        }
    }

    fn count(&self, value: &[u8]) {
        count_consumed(&self.run, &self.subscription, &self.recorder, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lean::producer::new_record;
    use crate::payload::write_header;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};

    fn batch(base: i64, n: usize, compression: Compression, out: &mut BytesMut) {
        let records: Vec<_> = (0..n)
            .map(|i| {
                let mut v = vec![0u8; 40];
                write_header(&mut v, 1000 + (base as u64) + i as u64, 77);
                let key = (i % 2 == 0).then_some(&b"key"[..]);
                new_record(base + i as i64, 1, key, &v)
            })
            .collect();
        let opts = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(out, records.iter(), &opts).unwrap();
    }

    fn values(data: &Bytes, from: i64) -> Vec<u64> {
        let mut got = Vec::new();
        for_each_value(data, from, |v| {
            got.push(crate::payload::read_header(v).unwrap().0)
        })
        .unwrap();
        got
    }

    #[test]
    fn walks_plain_and_compressed_batches() {
        let mut out = BytesMut::new();
        batch(10, 3, Compression::None, &mut out);
        batch(13, 2, Compression::Zstd, &mut out);
        let data = out.freeze();
        assert_eq!(next_offset(&data, 10), 15);
        assert_eq!(values(&data, 10), vec![1010, 1011, 1012, 1013, 1014]);
        // Records before the fetch offset (same batch) are skipped.
        assert_eq!(values(&data, 12), vec![1012, 1013, 1014]);
        assert_eq!(values(&data, 14), vec![1014]);
    }

    #[test]
    fn a_partial_last_batch_is_left_for_the_next_fetch() {
        let mut out = BytesMut::new();
        batch(0, 4, Compression::None, &mut out);
        let first = out.len();
        batch(4, 4, Compression::None, &mut out);
        let data = out.freeze().slice(..first + 30);
        assert_eq!(next_offset(&data, 0), 4);
        assert_eq!(values(&data, 0).len(), 4);
        assert_eq!(next_offset(&[], 9), 9);
    }

    #[test]
    fn zigzag_varints_decode() {
        let mut at = 0;
        let b = [0x01, 0x02, 0xac, 0x02];
        assert_eq!(varint(&b, &mut at).unwrap(), -1);
        assert_eq!(varint(&b, &mut at).unwrap(), 1);
        assert_eq!(varint(&b, &mut at).unwrap(), 150);
        assert!(varint(&b, &mut at).is_err());
    }

    #[test]
    fn fetch_requests_name_every_partition() {
        let r = fetch_request("t", &[(0, 5), (3, 9)]);
        let ps = &r.topics[0].partitions;
        assert_eq!(ps.len(), 2);
        assert_eq!((ps[1].partition, ps[1].fetch_offset), (3, 9));
        assert_eq!(r.max_wait_ms, MAX_WAIT_MS);
    }
}
