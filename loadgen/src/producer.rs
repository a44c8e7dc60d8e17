//! One producer thread: paces sends according to its [`Schedule`], stamps each value with its
//! intended send time, and records publish latency (intended send time to delivery report) from
//! librdkafka's delivery callbacks, which a `ThreadedProducer` serves on its own polling thread
//! as soon as they arrive.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use crate::context::RunContext;
use crate::payload::{KeySource, PayloadSource};
use crate::schedule::Schedule;
use crate::stats::Recorder;

/// Delivery-callback context: the opaque of each message is its intended send time in Unix
/// nanoseconds.
struct DeliveryContext {
    run: Arc<RunContext>,
    topic_index: usize,
    recorder: Arc<Recorder>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let c = &self.run.counters;
        match result {
            Ok(m) => {
                let now = self.run.clock.now_ns();
                let sent_ns = sent_ns as u64;
                c.acked.fetch_add(1, Ordering::Relaxed);
                self.run.acked_per_topic[self.topic_index].fetch_add(1, Ordering::Relaxed);
                c.acked_bytes
                    .fetch_add(m.payload_len() as u64, Ordering::Relaxed);
                self.recorder.record(
                    now.saturating_sub(sent_ns) / 1000,
                    sent_ns >= self.run.measure_start_ns(),
                );
            }
            Err(_) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Everything one producer thread needs.
pub struct ProducerTask {
    /// Run-wide state.
    pub run: Arc<RunContext>,
    /// Global producer index (used for the client id, seeds and stagger).
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

impl ProducerTask {
    /// Creates the librdkafka producer. Done before the thread starts so that configuration
    /// errors are reported before any traffic.
    fn create(&self) -> Result<ThreadedProducer<DeliveryContext>> {
        let mut cfg = ClientConfig::new();
        cfg.set("client.id", format!("runnel-loadgen-p{}", self.index));
        for (k, v) in self.run.workload.producer_properties() {
            cfg.set(k, v);
        }
        let ctx = DeliveryContext {
            run: self.run.clone(),
            topic_index: self.topic_index,
            recorder: self.recorder.clone(),
        };
        cfg.create_with_context(ctx)
            .context("creating producer (check producer_config)")
    }

    /// Runs the producer on a new thread; the thread returns when it has stopped sending and
    /// flushed (bounded by the drain timeout).
    pub fn spawn(self) -> Result<std::thread::JoinHandle<()>> {
        let producer = self.create()?;
        std::thread::Builder::new()
            .name(format!("producer-{}", self.index))
            .spawn(move || self.run_loop(producer))
            .context("spawning producer thread")
    }

    fn run_loop(self, producer: ThreadedProducer<DeliveryContext>) {
        let run = &self.run;
        let w = &run.workload;
        let seed = run.run_id ^ (self.index as u64 + 1).wrapping_mul(0x9E37_79B9);
        let mut payloads = PayloadSource::new(&w.message_size, run.payload_file.clone(), seed);
        let mut keys = KeySource::new(w.key_distribution, w.key_count, self.index, seed);
        let tl = *run.timeline();
        let mut schedule = Schedule::new(tl.t0, w.producer_rate, self.index, self.producers);
        let counters = &run.counters;

        while !run.should_stop_producing() {
            let wake = (Instant::now() + Duration::from_millis(100)).min(tl.measure_end);
            let Some(due) = schedule.wait_next(wake) else {
                continue;
            };
            if due >= tl.measure_start && !run.take_measured_ticket() {
                break;
            }
            let sent_ns = run.clock.unix_ns(due);
            let value = payloads.next(sent_ns, run.run_id);
            let mut record =
                BaseRecord::with_opaque_to(&self.topic, sent_ns as usize).payload(value);
            if let Some(k) = keys.next_key() {
                record = record.key(k);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => {
                        counters.sent.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                        if Instant::now() < tl.measure_end =>
                    {
                        // The local queue is full: wait for deliveries to make room.
                        record = r;
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // Still full at the end of the run: this message is simply not sent.
                        break;
                    }
                    Err((e, _)) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("producer {}: send failed: {e}", self.index);
                        break;
                    }
                }
            }
        }
        run.producers_done.fetch_add(1, Ordering::Relaxed);
        let drain = Duration::from_secs_f64(w.drain_timeout_s);
        if producer.flush(drain).is_err() {
            // Whatever is still queued now fails, and its delivery report counts it as failed.
            producer.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
            let _ = producer.flush(Duration::from_secs(5));
        }
    }
}
