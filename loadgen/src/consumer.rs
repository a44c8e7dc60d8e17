//! One consumer thread: polls its partitions, counts this run's messages and records end-to-end
//! latency (now minus the send time embedded in the value).
//!
//! In `group` mode every consumer of a subscription joins the same consumer group; in `assign`
//! mode each takes a fixed share of the partitions, starting at the end offsets read before
//! producing started.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::context::RunContext;
use crate::payload::read_header;
use crate::stats::Recorder;
use crate::workload::{ConsumerMode, Workload};

/// How often a consumer republishes the size of its assignment.
const ASSIGNMENT_REFRESH: Duration = Duration::from_millis(200);

/// Per-subscription progress, shared by the consumers of one subscription.
#[derive(Default)]
pub struct Subscription {
    /// Index of the subscribed topic in the workload's topic list.
    pub topic: usize,
    /// Messages of this run consumed by the subscription.
    pub consumed: AtomicU64,
    /// Partitions currently assigned to the subscription's consumers, summed.
    pub assigned: AtomicUsize,
    /// Consumers of the subscription that currently hold at least one partition.
    pub active: AtomicUsize,
}

impl Subscription {
    /// Whether the subscription is ready: all `partitions` are assigned and, in a group of
    /// `consumers`, every member that can get a partition has one (so the group is not about to
    /// rebalance because a late member joins).
    pub fn ready(&self, partitions: usize, consumers: usize) -> bool {
        self.assigned.load(Ordering::Relaxed) >= partitions
            && self.active.load(Ordering::Relaxed) >= consumers.min(partitions)
    }

    /// Adds `now - before` to the assigned partitions and updates the active-member count.
    pub fn publish(&self, before: usize, now: usize) {
        if now > before {
            self.assigned.fetch_add(now - before, Ordering::Relaxed);
        } else {
            self.assigned.fetch_sub(before - now, Ordering::Relaxed);
        }
        match (before > 0, now > 0) {
            (false, true) => {
                self.active.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.active.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Everything one consumer thread needs.
pub struct ConsumerTask {
    /// Run-wide state.
    pub run: Arc<RunContext>,
    /// Global consumer index (for the client id).
    pub index: usize,
    /// Topic consumed.
    pub topic: String,
    /// Consumer group id (one per subscription).
    pub group_id: String,
    /// Progress of this consumer's subscription.
    pub subscription: Arc<Subscription>,
    /// Where this consumer's end-to-end latencies go.
    pub recorder: Arc<Recorder>,
    /// `assign` mode only: the `(partition, start offset)` pairs of this consumer.
    pub assignment: Option<Vec<(i32, i64)>>,
}

/// Creates a plain consumer with the workload's consumer properties.
/// Accounts one consumed value: counted with its end-to-end latency when it carries this run's
/// header, as foreign otherwise. Shared by the librdkafka and the lean consumers.
pub fn count_consumed(run: &RunContext, sub: &Subscription, recorder: &Recorder, value: &[u8]) {
    let c = &run.counters;
    match read_header(value) {
        Some((sent_ns, run_id)) if run_id == run.run_id => {
            let now = run.clock.now_ns();
            c.consumed.fetch_add(1, Ordering::Relaxed);
            c.consumed_bytes
                .fetch_add(value.len() as u64, Ordering::Relaxed);
            sub.consumed.fetch_add(1, Ordering::Relaxed);
            recorder.record(
                now.saturating_sub(sent_ns) / 1000,
                sent_ns >= run.measure_start_ns(),
            );
        }
        _ => {
            c.foreign.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub fn create_consumer(w: &Workload, group_id: &str, client_id: &str) -> Result<BaseConsumer> {
    let mut cfg = ClientConfig::new();
    cfg.set("group.id", group_id).set("client.id", client_id);
    for (k, v) in w.consumer_properties() {
        cfg.set(k, v);
    }
    if w.consumer_mode == ConsumerMode::Assign {
        cfg.set("enable.auto.commit", "false");
    }
    cfg.create()
        .context("creating consumer (check consumer_config)")
}

/// The partitions of `partitions` that consumer `index` of `count` takes in `assign` mode.
pub fn share_of_partitions(partitions: i32, index: usize, count: usize) -> Vec<i32> {
    (0..partitions)
        .filter(|p| *p as usize % count.max(1) == index)
        .collect()
}

/// Reads the end offset of every partition of `topic` (the start point in `assign` mode).
pub fn end_offsets(w: &Workload, topic: &str) -> Result<Vec<(i32, i64)>> {
    let c = create_consumer(w, "runnel-loadgen-offsets", "runnel-loadgen-offsets")?;
    (0..w.partitions)
        .map(|p| {
            let (_, high) = c
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .with_context(|| format!("end offset of {topic}/{p}"))?;
            Ok((p, high))
        })
        .collect()
}

impl ConsumerTask {
    /// Creates the consumer, subscribes or assigns, and runs it on a new thread until
    /// `stop_consuming` is set.
    pub fn spawn(self) -> Result<std::thread::JoinHandle<()>> {
        let client_id = format!("runnel-loadgen-c{}", self.index);
        let consumer = create_consumer(&self.run.workload, &self.group_id, &client_id)?;
        // In backlog mode the assignment waits for the consume gate: librdkafka starts
        // fetching (and filling its local queue) as soon as partitions are assigned.
        let assign_now = !self.run.workload.backlog;
        match &self.assignment {
            None => consumer.subscribe(&[&self.topic]).context("subscribing")?,
            Some(_) if assign_now => self.assign(&consumer)?,
            Some(_) => {}
        }
        std::thread::Builder::new()
            .name(format!("consumer-{}", self.index))
            .spawn(move || {
                if !assign_now {
                    if !self.run.wait_for_consume_gate() {
                        return;
                    }
                    if let Err(e) = self.assign(&consumer) {
                        eprintln!("consumer {}: {e:#}", self.index);
                        self.run
                            .counters
                            .consumer_errors
                            .fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                self.run_loop(consumer)
            })
            .context("spawning consumer thread")
    }

    /// `assign` mode: takes the fixed partitions from their start offsets.
    fn assign(&self, consumer: &BaseConsumer) -> Result<()> {
        let mut tpl = TopicPartitionList::new();
        for (p, off) in self.assignment.iter().flatten() {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*off))
                .context("building assignment")?;
        }
        consumer.assign(&tpl).context("assigning partitions")
    }

    fn run_loop(self, consumer: BaseConsumer) {
        let run = &self.run;
        let c = &run.counters;
        let mut published = 0usize;
        let mut last_refresh = Instant::now() - ASSIGNMENT_REFRESH;
        while !run.stop_consuming.load(Ordering::Relaxed) {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    count_consumed(
                        run,
                        &self.subscription,
                        &self.recorder,
                        m.payload().unwrap_or(&[]),
                    );
                }
                Some(Err(e)) if c.consumer_errors.fetch_add(1, Ordering::Relaxed) < 10 => {
                    eprintln!("consumer {}: {e}", self.index);
                }
                Some(Err(_)) | None => {}
            }
            if last_refresh.elapsed() >= ASSIGNMENT_REFRESH {
                last_refresh = Instant::now();
                let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
                if n != published {
                    self.subscription.publish(published, n);
                    published = n;
                }
            }
        }
        self.subscription.publish(published, 0);
        if self.assignment.is_none() {
            consumer.unsubscribe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{share_of_partitions, Subscription};

    #[test]
    fn partitions_are_shared_without_overlap() {
        let mut all: Vec<i32> = (0..3).flat_map(|i| share_of_partitions(10, i, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(share_of_partitions(10, 1, 3), vec![1, 4, 7]);
        assert!(share_of_partitions(2, 3, 4).is_empty());
    }

    #[test]
    fn subscription_is_ready_when_every_member_has_partitions() {
        let s = Subscription::default();
        s.publish(0, 6); // the first member takes everything
        assert!(!s.ready(6, 2), "the second member has not joined yet");
        assert!(s.ready(6, 1));
        s.publish(6, 3);
        s.publish(0, 3);
        assert!(s.ready(6, 2));
        s.publish(3, 0);
        assert!(!s.ready(6, 2));
        // More members than partitions: only as many as there are partitions get one.
        let t = Subscription::default();
        t.publish(0, 1);
        t.publish(0, 1);
        assert!(t.ready(2, 5));
    }
}
