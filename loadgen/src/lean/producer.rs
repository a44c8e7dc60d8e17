//! Lean producer: one blocking TCP connection, Produce requests built with `kafka-protocol`'s
//! `RecordBatchEncoder` (one batch per partition per request), several requests in flight.
//!
//! The sending thread paces messages with the shared [`Schedule`], stamps each value with its
//! intended send time, and buffers it in its partition's batch. A request goes out when a batch
//! reaches `batch_size` bytes or the oldest buffered message has waited `linger_ms`. An
//! acknowledgement thread reads the responses (the broker answers in order) and records publish
//! latency = acknowledgement time - intended send time for every message, so time spent waiting
//! for a free in-flight slot counts against the broker, as with librdkafka.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};

use super::batch::RawBatch;
use super::conn::{Conn, Reader};
use crate::context::RunContext;
use crate::payload::{KeySource, PayloadSource};
use crate::schedule::Schedule;
use crate::stats::Recorder;
use crate::workload::Workload;

/// Requests in flight per connection unless `producer_config` sets
/// `max.in.flight.requests.per.connection` (or `max.in.flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 5;

/// Produce settings taken from the workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProduceSettings {
    /// `acks` as the protocol spells it (-1 = all).
    pub acks: i16,
    /// Batch compression.
    pub compression: Compression,
    /// A request is sent once one of its batches holds this many bytes.
    pub batch_size: usize,
    /// ... or once its oldest message has waited this long.
    pub linger: Duration,
    /// Produce requests in flight at most.
    pub max_in_flight: usize,
}

impl ProduceSettings {
    /// Maps the workload's producer fields onto the lean producer.
    pub fn from_workload(w: &Workload) -> Result<ProduceSettings> {
        let acks = match w.acks.as_str() {
            "0" => 0,
            "1" => 1,
            _ => -1,
        };
        let compression = match w.compression.as_str() {
            "none" | "" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            other => bail!("lean client: unknown compression {other:?}"),
        };
        let key = ["max.in.flight.requests.per.connection", "max.in.flight"]
            .iter()
            .find_map(|k| w.producer_config.get(*k));
        let max_in_flight = match key {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .with_context(|| format!("max.in.flight must be a positive integer, got {v:?}"))?,
            None => DEFAULT_MAX_IN_FLIGHT,
        };
        Ok(ProduceSettings {
            acks,
            compression,
            batch_size: w.batch_size.max(1),
            linger: Duration::from_secs_f64(w.linger_ms.max(0.0) / 1000.0),
            max_in_flight,
        })
    }
}

/// Messages buffered for one partition.
#[derive(Default)]
struct PartBuf {
    /// Records of a compressed batch (encoded by `kafka-protocol` at flush).
    records: Vec<Record>,
    /// Records of an uncompressed batch, encoded as they come.
    raw: RawBatch,
    sent_ns: Vec<u64>,
    bytes: u64,
}

impl PartBuf {
    /// Adds a message sent (intended) at `sent_ns`.
    fn push(&mut self, compression: Compression, sent_ns: u64, key: Option<&[u8]>, value: &[u8]) {
        if compression == Compression::None {
            self.raw.push((sent_ns / 1_000_000) as i64, key, value);
        } else {
            let offset = self.records.len() as i64;
            self.records.push(new_record(offset, sent_ns, key, value));
        }
        self.sent_ns.push(sent_ns);
        self.bytes += value.len() as u64;
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.raw.is_empty()
    }
}

/// What one in-flight request carries: per partition, the intended send times and value bytes.
#[derive(Debug, Default, PartialEq)]
pub struct InFlight {
    /// Correlation id of the request.
    pub id: i32,
    /// `(partition, intended send times, value bytes)`.
    pub parts: Vec<(i32, Vec<u64>, u64)>,
}

impl InFlight {
    fn messages(&self) -> u64 {
        self.parts.iter().map(|p| p.1.len() as u64).sum()
    }
}

/// A record as the lean producer sends it: no headers, no idempotence. `offset` is its index in
/// its batch. `RecordBatchEncoder` only keeps records in one batch while `offset - sequence` stays
/// the same, so the sequence runs along with the offset from `NO_SEQUENCE`: the batch's base
/// sequence is then -1, as a non-idempotent producer sends it.
pub fn new_record(offset: i64, sent_ns: u64, key: Option<&[u8]>, value: &[u8]) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: NO_SEQUENCE.wrapping_add(offset as i32),
        timestamp: (sent_ns / 1_000_000) as i64,
        key: key.map(Bytes::copy_from_slice),
        value: Some(Bytes::copy_from_slice(value)),
        headers: Default::default(),
    }
}

/// Builds a Produce request from the non-empty buffers (one batch each) and empties them.
fn build_request(
    topic: &str,
    bufs: &mut [PartBuf],
    s: &ProduceSettings,
) -> Result<(ProduceRequest, InFlight)> {
    let mut partition_data = Vec::new();
    let mut flight = InFlight::default();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: s.compression,
    };
    for (p, b) in bufs.iter_mut().enumerate() {
        if b.is_empty() {
            continue;
        }
        let count = b.records.len() + b.raw.len();
        let mut out = BytesMut::with_capacity(b.bytes as usize + 32 * count + 64);
        if b.raw.is_empty() {
            RecordBatchEncoder::encode(&mut out, b.records.iter(), &opts)
                .context("encoding a record batch")?;
        } else {
            b.raw.finish(&mut out);
        }
        partition_data.push(
            PartitionProduceData::default()
                .with_index(p as i32)
                .with_records(Some(out.freeze())),
        );
        b.records.clear();
        flight
            .parts
            .push((p as i32, std::mem::take(&mut b.sent_ns), b.bytes));
        b.bytes = 0;
    }
    let req = ProduceRequest::default()
        .with_acks(s.acks)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(partition_data)]);
    Ok((req, flight))
}

/// FNV-1a: where a keyed message goes (stable per key; not Kafka's murmur2 partitioner).
pub fn key_partition(key: &[u8], partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % partitions.max(1) as u64) as usize
}

/// Everything one lean producer thread needs (the same as the librdkafka producer's).
pub struct LeanProducerTask {
    /// Run-wide state.
    pub run: Arc<RunContext>,
    /// Global producer index (client id, seeds, schedule stagger).
    pub index: usize,
    /// Total number of producers in the run.
    pub producers: usize,
    /// Topic this producer writes to.
    pub topic: String,
    /// Index of `topic` in the workload's topic list.
    pub topic_index: usize,
    /// Where this producer's publish latencies go.
    pub recorder: Arc<Recorder>,
}

/// Records the outcome of one request's messages.
struct Acker {
    run: Arc<RunContext>,
    topic_index: usize,
    recorder: Arc<Recorder>,
}

impl Acker {
    fn acked(&self, sent: &[u64], bytes: u64) {
        let c = &self.run.counters;
        let now = self.run.clock.now_ns();
        let start = self.run.measure_start_ns();
        for ns in sent {
            self.recorder
                .record(now.saturating_sub(*ns) / 1000, *ns >= start);
        }
        let n = sent.len() as u64;
        c.acked.fetch_add(n, Ordering::Relaxed);
        c.acked_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.run.acked_per_topic[self.topic_index].fetch_add(n, Ordering::Relaxed);
    }

    fn failed(&self, n: u64) {
        self.run.counters.failed.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads one response per in-flight request until the sender hangs up.
    fn ack_loop(self, mut reader: Reader, rx: Receiver<InFlight>, version: i16, index: usize) {
        let mut broken = false;
        let mut reported = 0;
        while let Ok(f) = rx.recv() {
            if broken {
                self.failed(f.messages());
                continue;
            }
            match reader.recv::<ProduceResponse>(ApiKey::Produce, version, f.id) {
                Ok(resp) => {
                    let errors: Vec<(i32, i16)> = resp
                        .responses
                        .iter()
                        .flat_map(|t| t.partition_responses.iter())
                        .map(|p| (p.index, p.error_code))
                        .collect();
                    for (p, sent, bytes) in &f.parts {
                        let code = errors.iter().find(|e| e.0 == *p).map_or(-1, |e| e.1);
                        if code == 0 {
                            self.acked(sent, *bytes);
                        } else {
                            self.failed(sent.len() as u64);
                            if reported < 10 {
                                reported += 1;
                                eprintln!("lean producer {index}: partition {p}: error {code}");
                            }
                        }
                    }
                }
                Err(e) => {
                    eprintln!("lean producer {index}: {e:#}");
                    broken = true;
                    self.failed(f.messages());
                }
            }
        }
    }
}

impl LeanProducerTask {
    /// Connects, negotiates versions and reads the topic's partition count, then runs the
    /// producer on a new thread (setup errors are reported before any traffic).
    pub fn spawn(self) -> Result<std::thread::JoinHandle<()>> {
        let w = &self.run.workload;
        let settings = ProduceSettings::from_workload(w)?;
        let timeout = Duration::from_secs_f64(w.drain_timeout_s.max(1.0) + 30.0);
        let mut conn = Conn::connect(
            &w.bootstrap,
            &format!("runnel-loadgen-lean-p{}", self.index),
            timeout,
        )?;
        let partitions = conn.partitions(&self.topic)? as usize;
        std::thread::Builder::new()
            .name(format!("lean-producer-{}", self.index))
            .spawn(move || self.run_loop(conn, partitions, settings))
            .context("spawning lean producer thread")
    }

    fn run_loop(self, conn: Conn, partitions: usize, s: ProduceSettings) {
        let run = self.run.clone();
        let w = &run.workload;
        let seed = run.run_id ^ (self.index as u64 + 1).wrapping_mul(0x9E37_79B9);
        let mut payloads = PayloadSource::new(&w.message_size, run.payload_file.clone(), seed);
        let mut keys = KeySource::new(w.key_distribution, w.key_count, self.index, seed);
        let tl = *run.timeline();
        let mut schedule = Schedule::new(tl.t0, w.producer_rate, self.index, self.producers);
        let Conn {
            mut writer,
            reader,
            versions,
        } = conn;
        let acker = Acker {
            run: run.clone(),
            topic_index: self.topic_index,
            recorder: self.recorder.clone(),
        };
        let with_acks = s.acks != 0;
        // One request is held by the acknowledgement thread, the rest wait in the channel.
        let (tx, rx) = sync_channel::<InFlight>(s.max_in_flight - 1);
        let index = self.index;
        let acks_thread = with_acks.then(|| {
            std::thread::Builder::new()
                .name(format!("lean-acks-{index}"))
                .spawn(move || acker.ack_loop(reader, rx, versions.produce, index))
        });
        let acks_thread = match acks_thread {
            Some(Ok(h)) => Some(h),
            Some(Err(e)) => {
                eprintln!("lean producer {index}: {e}");
                run.producers_done.fetch_add(1, Ordering::Relaxed);
                return;
            }
            None => None,
        };
        // acks = 0: messages count as acknowledged once written.
        let local = Acker {
            run: run.clone(),
            topic_index: self.topic_index,
            recorder: self.recorder.clone(),
        };
        let mut bufs: Vec<PartBuf> = (0..partitions).map(|_| PartBuf::default()).collect();
        let mut oldest: Option<Instant> = None;
        let mut full = false;
        let mut next_partition = 0usize;
        let mut broken = false;
        let mut flush = |bufs: &mut [PartBuf]| -> bool {
            let (req, mut flight) = match build_request(&self.topic, bufs, &s) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("lean producer {index}: {e:#}");
                    return false;
                }
            };
            let n = flight.messages();
            match writer.send(ApiKey::Produce, versions.produce, &req) {
                Ok(id) if with_acks => {
                    flight.id = id;
                    if tx.send(flight).is_err() {
                        local.failed(n);
                        return false;
                    }
                    true
                }
                Ok(_) => {
                    for (_, sent, bytes) in &flight.parts {
                        local.acked(sent, *bytes);
                    }
                    true
                }
                Err(e) => {
                    eprintln!("lean producer {index}: {e:#}");
                    local.failed(n);
                    false
                }
            }
        };
        while !broken && !run.should_stop_producing() {
            // One clock reading per message: it is the send time in max-rate mode and the
            // linger check below uses it too.
            let mut now = Instant::now();
            let mut wake = (now + Duration::from_millis(100)).min(tl.measure_end);
            if let Some(t) = oldest {
                wake = wake.min(t + s.linger);
            }
            if let Some(due) = schedule.wait_next_from(now, wake) {
                now = now.max(due);
                if due >= tl.measure_start && !run.take_measured_ticket() {
                    break;
                }
                let sent_ns = run.clock.unix_ns(due);
                let value = payloads.next(sent_ns, run.run_id);
                let key = keys.next_key();
                let p = match key {
                    Some(k) => key_partition(k, partitions),
                    None => {
                        next_partition = (next_partition + 1) % partitions;
                        next_partition
                    }
                };
                let b = &mut bufs[p];
                b.push(s.compression, sent_ns, key, value);
                full |= b.bytes as usize >= s.batch_size;
                run.counters.sent.fetch_add(1, Ordering::Relaxed);
                oldest.get_or_insert(now);
            } else {
                // wait_next slept until `wake`.
                now = Instant::now();
            }
            if let Some(t) = oldest {
                if full || now >= t + s.linger {
                    broken = !flush(&mut bufs);
                    oldest = None;
                    full = false;
                }
            }
        }
        run.producers_done.fetch_add(1, Ordering::Relaxed);
        if !broken && oldest.is_some() {
            flush(&mut bufs);
        }
        drop(tx);
        if let Some(h) = acks_thread {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Encodable;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn settings_follow_the_workload() {
        let mut w = Workload::default();
        let s = ProduceSettings::from_workload(&w).unwrap();
        assert_eq!(s.acks, -1);
        assert_eq!(s.compression, Compression::None);
        assert_eq!(s.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(s.linger, Duration::from_millis(1));
        w.acks = "0".into();
        w.compression = "zstd".into();
        w.producer_config.insert("max.in.flight".into(), "2".into());
        let s = ProduceSettings::from_workload(&w).unwrap();
        assert_eq!(
            (s.acks, s.compression, s.max_in_flight),
            (0, Compression::Zstd, 2)
        );
        w.producer_config.insert("max.in.flight".into(), "0".into());
        assert!(ProduceSettings::from_workload(&w).is_err());
        w.producer_config.clear();
        w.compression = "brotli".into();
        assert!(ProduceSettings::from_workload(&w).is_err());
    }

    #[test]
    fn requests_hold_one_batch_per_non_empty_partition() {
        // zstd goes through kafka-protocol's encoder, none through RawBatch.
        for (name, codec) in [("zstd", Compression::Zstd), ("none", Compression::None)] {
            let s = ProduceSettings::from_workload(&Workload {
                compression: name.into(),
                ..Workload::default()
            })
            .unwrap();
            let mut bufs: Vec<PartBuf> = (0..3).map(|_| PartBuf::default()).collect();
            for (i, p) in [0usize, 2, 2].iter().enumerate() {
                let v = vec![i as u8; 20];
                bufs[*p].push(s.compression, 5_000_000 + i as u64, None, &v);
            }
            let (req, flight) = build_request("t", &mut bufs, &s).unwrap();
            assert!(bufs.iter().all(|b| b.is_empty() && b.bytes == 0), "{name}");
            assert_eq!(
                flight.parts,
                vec![
                    (0, vec![5_000_000], 20),
                    (2, vec![5_000_001, 5_000_002], 40)
                ],
                "{name}"
            );
            // The request encodes, and its batches decode.
            let mut buf = BytesMut::new();
            req.encode(&mut buf, 9).unwrap();
            assert!(buf.len() > 100);
            assert_eq!(req.acks, -1);
            let parts = &req.topic_data[0].partition_data;
            assert_eq!(parts.len(), 2);
            let records = parts[1].records.clone().unwrap();
            // Both records share one batch, written as a non-idempotent producer writes it.
            let info = RecordBatchDecoder::decode_batch_info(&mut records.clone()).unwrap();
            assert_eq!(info.len(), 1, "{name}: {info:?}");
            assert_eq!(info[0].record_count, 2);
            assert_eq!(info[0].base_sequence, NO_SEQUENCE);
            assert_eq!(info[0].producer_id, NO_PRODUCER_ID);
            assert_eq!(info[0].compression, codec);
            assert_eq!(info[0].min_timestamp, 5);
            let mut values = Vec::new();
            crate::lean::consumer::for_each_value(&records, 0, |v| values.push(v.to_vec()))
                .unwrap();
            assert_eq!(values, vec![vec![1u8; 20], vec![2u8; 20]], "{name}");
        }
    }

    #[test]
    fn keys_map_to_stable_partitions() {
        let a = key_partition(b"key-1", 6);
        assert_eq!(a, key_partition(b"key-1", 6));
        assert!(a < 6);
        let spread: std::collections::BTreeSet<usize> = (0..100)
            .map(|i| key_partition(format!("key-{i}").as_bytes(), 6))
            .collect();
        assert_eq!(spread.len(), 6);
    }
}
