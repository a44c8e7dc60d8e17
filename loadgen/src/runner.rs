//! Runs a workload: creates topics, starts consumers and waits for their partitions, starts the
//! producers, samples counters and histograms every second (printing a progress line on stderr),
//! drains, and assembles the [`RunResult`].
//!
//! Time line: `t0` (producing starts) → warm-up → `measure_start` → measured phase →
//! producers stop (time or message count) → drain (outstanding deliveries, consumers catch up,
//! bounded by `drain_timeout_s`) → consumers stop.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;

use crate::admin;
use crate::consumer::{end_offsets, share_of_partitions, ConsumerTask, Subscription};
use crate::context::RunContext;
use crate::lean::consumer::LeanConsumerTask;
use crate::lean::producer::LeanProducerTask;
use crate::producer::ProducerTask;
use crate::report::{Backlog, RunResult, SecondPoint, Throughput, Totals, MB};
use crate::stats::{new_histogram, us_to_ms, LatencySummary, Recorder, Snapshot};
use crate::workload::{ClientKind, ConsumerMode, Workload};

/// How often the collector checks for the end of a phase between one-second ticks.
const CHECK_EVERY: Duration = Duration::from_millis(10);

/// Threads and recorders of a run.
struct Clients {
    producers: Vec<JoinHandle<()>>,
    consumers: Vec<JoinHandle<()>>,
    publish: Vec<Arc<Recorder>>,
    e2e: Vec<Arc<Recorder>>,
    subscriptions: Vec<Arc<Subscription>>,
}

fn new_run_id() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    t ^ (u64::from(std::process::id()) << 32)
}

/// Starts one consumer per (topic, subscription, index) and waits until every subscription has
/// all the topic's partitions (bounded by `setup_timeout_s`).
fn start_consumers(run: &Arc<RunContext>, c: &mut Clients) -> Result<()> {
    let w = &run.workload;
    if w.consumers_per_subscription == 0 {
        return Ok(());
    }
    let mut index = 0;
    for (t, topic) in w.topic_names().into_iter().enumerate() {
        let offsets = match w.consumer_mode {
            ConsumerMode::Assign => Some(end_offsets(w, &topic)?),
            ConsumerMode::Group => None,
        };
        for s in 0..w.subscriptions_per_topic {
            let sub = Arc::new(Subscription {
                topic: t,
                ..Subscription::default()
            });
            c.subscriptions.push(sub.clone());
            for i in 0..w.consumers_per_subscription {
                let assignment = offsets.as_ref().map(|offs| {
                    let mine = share_of_partitions(w.partitions, i, w.consumers_per_subscription);
                    let v: Vec<(i32, i64)> = offs
                        .iter()
                        .filter(|(p, _)| mine.contains(p))
                        .copied()
                        .collect();
                    v
                });
                let recorder = Arc::new(Recorder::default());
                c.e2e.push(recorder.clone());
                if w.client == ClientKind::Lean {
                    let task = LeanConsumerTask {
                        run: run.clone(),
                        index,
                        topic: topic.clone(),
                        subscription: sub.clone(),
                        recorder,
                        assignment: assignment.unwrap_or_default(),
                    };
                    c.consumers.push(task.spawn()?);
                    index += 1;
                    continue;
                }
                let task = ConsumerTask {
                    run: run.clone(),
                    index,
                    topic: topic.clone(),
                    group_id: format!("runnel-loadgen-{:x}-{topic}-sub{s}", run.run_id),
                    subscription: sub.clone(),
                    recorder,
                    assignment,
                };
                c.consumers.push(task.spawn()?);
                index += 1;
            }
        }
    }
    if w.backlog {
        // Static assignment from known offsets: nothing to wait for, and backlog consumers
        // take their partitions only once the backlog is produced.
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(w.setup_timeout_s);
    let want = w.partitions as usize;
    while !c
        .subscriptions
        .iter()
        .all(|s| s.ready(want, w.consumers_per_subscription))
    {
        if Instant::now() > deadline {
            bail!("consumers did not get all {want} partitions within setup_timeout_s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn start_producers(run: &Arc<RunContext>, c: &mut Clients) -> Result<()> {
    let w = &run.workload;
    let total = w.topics * w.producers_per_topic;
    for (t, topic) in w.topic_names().into_iter().enumerate() {
        for i in 0..w.producers_per_topic {
            let recorder = Arc::new(Recorder::default());
            c.publish.push(recorder.clone());
            if w.client == ClientKind::Lean {
                let task = LeanProducerTask {
                    run: run.clone(),
                    index: t * w.producers_per_topic + i,
                    producers: total,
                    topic: topic.clone(),
                    topic_index: t,
                    recorder,
                };
                c.producers.push(task.spawn()?);
                continue;
            }
            let task = ProducerTask {
                run: run.clone(),
                index: t * w.producers_per_topic + i,
                producers: total,
                topic: topic.clone(),
                topic_index: t,
                recorder,
            };
            c.producers.push(task.spawn()?);
        }
    }
    Ok(())
}

/// Samples counters and histograms once a second and keeps the series.
struct Collector {
    last_at: Instant,
    last: Snapshot,
    series: Vec<SecondPoint>,
    cumulative_publish: Histogram<u64>,
    verbose: bool,
}

impl Collector {
    fn sample(&mut self, run: &RunContext, c: &Clients, phase: &str) {
        let now = Instant::now();
        let snap = run.counters.snapshot();
        let dt = now.duration_since(self.last_at).as_secs_f64().max(1e-6);
        let mut publish = new_histogram();
        let mut e2e = new_histogram();
        c.publish
            .iter()
            .for_each(|r| r.drain_interval(&mut publish));
        c.e2e.iter().for_each(|r| r.drain_interval(&mut e2e));
        if phase == "measure" {
            let _ = self.cumulative_publish.add(&publish);
        }
        let q = |h: &Histogram<u64>, p: f64| {
            if h.is_empty() {
                0.0
            } else {
                us_to_ms(h.value_at_quantile(p))
            }
        };
        let rate = |a: u64, b: u64| (a - b) as f64 / dt;
        let point = SecondPoint {
            t_s: (now.duration_since(run.timeline().t0).as_secs_f64() * 1000.0).round() / 1000.0,
            phase: phase.to_string(),
            produced_msg_s: rate(snap.acked, self.last.acked),
            produced_mb_s: rate(snap.acked_bytes, self.last.acked_bytes) / MB,
            consumed_msg_s: rate(snap.consumed, self.last.consumed),
            consumed_mb_s: rate(snap.consumed_bytes, self.last.consumed_bytes) / MB,
            publish_p50_ms: q(&publish, 0.5),
            publish_p99_ms: q(&publish, 0.99),
            e2e_p50_ms: q(&e2e, 0.5),
            e2e_p99_ms: q(&e2e, 0.99),
            failed: snap.failed - self.last.failed,
        };
        if self.verbose {
            eprintln!(
                "[{:>6.1}s {:<7}] produced {:>9.0} msg/s {:>8.2} MB/s | consumed {:>9.0} msg/s \
                 | publish p99 {:>8.3} ms (so far {:>8.3} ms) | e2e p99 {:>8.3} ms",
                point.t_s,
                phase,
                point.produced_msg_s,
                point.produced_mb_s,
                point.consumed_msg_s,
                point.publish_p99_ms,
                q(&self.cumulative_publish, 0.99),
                point.e2e_p99_ms,
            );
        }
        self.series.push(point);
        self.last = snap;
        self.last_at = now;
    }
}

impl Clients {
    /// Whether every subscription has consumed every acknowledged message of its topic.
    fn caught_up(&self, run: &RunContext) -> bool {
        self.subscriptions.iter().all(|s| {
            s.consumed.load(Ordering::Relaxed)
                >= run.acked_per_topic[s.topic].load(Ordering::Relaxed)
        })
    }

    /// Acknowledged messages some subscription has not consumed.
    fn missing(&self, run: &RunContext) -> u64 {
        self.subscriptions
            .iter()
            .map(|s| {
                run.acked_per_topic[s.topic]
                    .load(Ordering::Relaxed)
                    .saturating_sub(s.consumed.load(Ordering::Relaxed))
            })
            .sum()
    }
}

/// Starts the clients and samples until the drain ends. Returns the result without latencies
/// and totals, which are filled in once every thread has stopped.
fn drive(run: &Arc<RunContext>, c: &mut Clients, verbose: bool) -> Result<RunResult> {
    start_consumers(run, c)?;
    let tl = run.start_timeline();
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    start_producers(run, c)?;
    let tick = Duration::from_secs(1);
    let mut col = Collector {
        last_at: tl.t0,
        last: Snapshot::default(),
        series: Vec::new(),
        cumulative_publish: new_histogram(),
        verbose,
    };
    let mut next_tick = tl.t0 + tick;
    // Without a warm-up the measured phase starts with the producers, from zero counters (a
    // small count-bounded run may be over before the first check below).
    let mut start: Option<(Instant, Snapshot)> =
        (tl.measure_start <= tl.t0).then(|| (tl.t0, Snapshot::default()));
    let sending = |c: &Clients| {
        run.producers_done.load(Ordering::Relaxed) < c.producers.len()
            && !c.producers.iter().all(|h| h.is_finished())
    };
    while sending(c) {
        let now = Instant::now();
        if start.is_none() && now >= tl.measure_start {
            start = Some((now, run.counters.snapshot()));
        }
        if now >= next_tick {
            // An interval is labelled by the phase it began in.
            let phase = if col.last_at >= tl.measure_start {
                "measure"
            } else {
                "warmup"
            };
            col.sample(run, c, phase);
            next_tick += tick;
        }
        std::thread::sleep(CHECK_EVERY);
    }
    let stopped_at = Instant::now();
    let ended_by = if run.stop_producing.load(Ordering::Relaxed) {
        "count"
    } else {
        "time"
    };
    // A time-bounded measured phase ends when sending stops. A count-bounded one ends when the
    // last of its messages is acknowledged (the producers have flushed), so that a burst sitting
    // in the client's queue is not counted as throughput.
    let mut end: Option<(Instant, Snapshot)> = match ended_by {
        "time" => Some((stopped_at, run.counters.snapshot())),
        _ => None,
    };

    // Drain: outstanding deliveries, then consumers catching up, bounded by drain_timeout_s.
    // In backlog mode the consumers start once every delivery is in, and the drain timeout
    // counts from then.
    let drain_timeout = Duration::from_secs_f64(run.workload.drain_timeout_s);
    let mut drain_deadline = stopped_at + drain_timeout;
    let mut backlog: Option<(Instant, Snapshot)> = None;
    let mut backlog_end: Option<(Instant, Snapshot)> = None;
    loop {
        let now = Instant::now();
        let flushed = c.producers.iter().all(|h| h.is_finished());
        if end.is_none() && (flushed || now >= drain_deadline) {
            end = Some((now, run.counters.snapshot()));
        }
        if run.workload.backlog && end.is_some() && backlog.is_none() {
            backlog = Some((now, run.counters.snapshot()));
            drain_deadline = now + drain_timeout;
            run.consume_gate.store(true, Ordering::Relaxed);
        }
        let caught_up = flushed && c.caught_up(run);
        if end.is_some() && (caught_up || now >= drain_deadline) {
            if backlog.is_some() {
                backlog_end = Some((now, run.counters.snapshot()));
            }
            break;
        }
        if now >= next_tick {
            let phase = match (end, backlog) {
                (_, Some((at, _))) if col.last_at >= at => "backlog",
                (Some((at, _)), _) if col.last_at >= at => "drain",
                _ => "measure",
            };
            col.sample(run, c, phase);
            next_tick += tick;
        }
        std::thread::sleep(CHECK_EVERY);
    }
    if Instant::now().duration_since(col.last_at) >= Duration::from_millis(100) {
        col.sample(
            run,
            c,
            if backlog.is_some() {
                "backlog"
            } else {
                "drain"
            },
        );
    }
    let backlog = match (backlog, backlog_end) {
        (Some((t0, s0)), Some((t1, s1))) => {
            let seconds = t1.duration_since(t0).as_secs_f64();
            Some(Backlog {
                seconds,
                consumed: Throughput::over(
                    s1.consumed - s0.consumed,
                    s1.consumed_bytes - s0.consumed_bytes,
                    seconds,
                ),
            })
        }
        _ => None,
    };
    let (end_at, end) = end.unwrap_or((stopped_at, run.counters.snapshot()));
    let (start_at, start) = start.unwrap_or((end_at, end));

    let measured_s = end_at.duration_since(start_at).as_secs_f64();
    Ok(RunResult {
        tool: "runnel-loadgen".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: run.run_id,
        started_unix_s,
        workload: run.workload.clone(),
        ended_by: ended_by.to_string(),
        measured_s,
        produced: Throughput::over(
            end.acked - start.acked,
            end.acked_bytes - start.acked_bytes,
            measured_s,
        ),
        consumed: Throughput::over(
            end.consumed - start.consumed,
            end.consumed_bytes - start.consumed_bytes,
            measured_s,
        ),
        series: col.series,
        backlog,
        ..RunResult::default()
    })
}

/// Runs the workload against the broker and returns its result. `verbose` prints the progress
/// line every second on stderr. Every thread is stopped before this returns, also on error.
pub fn run(mut workload: Workload, verbose: bool) -> Result<RunResult> {
    workload.validate()?;
    if workload.client == ClientKind::Lean || workload.backlog {
        // Lean consumers have no group support, and backlog consumers must start where the
        // backlog starts: both take a static share of the partitions from the end offsets read
        // before producing starts.
        workload.consumer_mode = ConsumerMode::Assign;
    }
    let payload_file = match &workload.payload_file {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading payload file {p}"))?),
        None => None,
    };
    admin::prepare_topics(&workload)?;
    let run = Arc::new(RunContext::new(workload, new_run_id(), payload_file));
    let mut c = Clients {
        producers: Vec::new(),
        consumers: Vec::new(),
        publish: Vec::new(),
        e2e: Vec::new(),
        subscriptions: Vec::new(),
    };
    let driven = drive(&run, &mut c, verbose);

    run.stop_producing.store(true, Ordering::Relaxed);
    for h in c.producers.drain(..) {
        let _ = h.join();
    }
    run.stop_consuming.store(true, Ordering::Relaxed);
    for h in c.consumers.drain(..) {
        let _ = h.join();
    }
    let mut result = driven?;

    let mut publish = new_histogram();
    let mut e2e = new_histogram();
    c.publish.iter().for_each(|r| r.add_total(&mut publish));
    c.e2e.iter().for_each(|r| r.add_total(&mut e2e));
    result.publish_latency = LatencySummary::from_histogram(&publish);
    result.e2e_latency = LatencySummary::from_histogram(&e2e);
    let snap = run.counters.snapshot();
    let w = &run.workload;
    let subscribed = w.consumers_per_subscription > 0;
    result.totals = Totals {
        sent: snap.sent,
        acked: snap.acked,
        failed: snap.failed,
        consumed: snap.consumed,
        expected_consumed: if subscribed {
            snap.acked * w.subscriptions_per_topic as u64
        } else {
            0
        },
        missing: c.missing(&run),
        foreign: run.counters.foreign.load(Ordering::Relaxed),
        consumer_errors: run.counters.consumer_errors.load(Ordering::Relaxed),
    };
    if w.delete_topics_after {
        if let Err(e) = admin::delete_topics(w) {
            eprintln!("warning: deleting topics after the run: {e:#}");
        }
    }
    Ok(result)
}
