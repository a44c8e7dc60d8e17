//! State shared by every thread of one run: the workload, the run's time line, counters and stop
//! flags.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::payload::Clock;
use crate::stats::Counters;
use crate::workload::Workload;

/// When the phases of a run begin and end. Fixed once the consumers are ready, just before the
/// producers start.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// When producing starts (the warm-up begins).
    pub t0: Instant,
    /// When the measured phase begins (`t0 + warmup_s`).
    pub measure_start: Instant,
    /// `measure_start` as Unix nanoseconds: samples sent before it are warm-up samples.
    pub measure_start_ns: u64,
    /// When producers stop at the latest (`measure_start + measure_s`).
    pub measure_end: Instant,
}

/// Shared state of one run.
pub struct RunContext {
    /// The validated workload.
    pub workload: Workload,
    /// Random id embedded in every value, so consumers can tell this run's messages apart.
    pub run_id: u64,
    /// Instant <-> Unix time conversion used by every thread.
    pub clock: Clock,
    timeline: OnceLock<Timeline>,
    /// Counters updated by every client.
    pub counters: Counters,
    /// Acknowledged messages per topic (indexed like [`Workload::topic_names`]).
    pub acked_per_topic: Vec<AtomicU64>,
    /// Set to make producers stop sending (message count reached).
    pub stop_producing: AtomicBool,
    /// Set to make consumers stop.
    pub stop_consuming: AtomicBool,
    /// Consumers may read (closed while a backlog is being produced).
    pub consume_gate: AtomicBool,
    /// Messages sent in the measured phase, for the `messages` bound.
    pub measured_sent: AtomicU64,
    /// Producers that have stopped sending (they may still be flushing).
    pub producers_done: AtomicUsize,
    /// Content of `payload_file`, if the workload names one.
    pub payload_file: Option<Vec<u8>>,
}

impl RunContext {
    /// A context whose time line is not started yet.
    pub fn new(workload: Workload, run_id: u64, payload_file: Option<Vec<u8>>) -> RunContext {
        RunContext {
            run_id,
            clock: Clock::new(),
            timeline: OnceLock::new(),
            counters: Counters::default(),
            acked_per_topic: (0..workload.topics).map(|_| AtomicU64::new(0)).collect(),
            stop_producing: AtomicBool::new(false),
            stop_consuming: AtomicBool::new(false),
            consume_gate: AtomicBool::new(!workload.backlog),
            measured_sent: AtomicU64::new(0),
            producers_done: AtomicUsize::new(0),
            payload_file,
            workload,
        }
    }

    /// Blocks until consumers may read. Returns false if the run stops first.
    pub fn wait_for_consume_gate(&self) -> bool {
        while !self.consume_gate.load(Ordering::Relaxed) {
            if self.stop_consuming.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Starts the time line now: the warm-up begins. Only the first call has an effect.
    pub fn start_timeline(&self) -> Timeline {
        *self.timeline.get_or_init(|| {
            let t0 = Instant::now();
            let measure_start = t0 + Duration::from_secs_f64(self.workload.warmup_s);
            let measure_end = measure_start + Duration::from_secs_f64(self.workload.measure_s());
            Timeline {
                t0,
                measure_start,
                measure_start_ns: self.clock.unix_ns(measure_start),
                measure_end,
            }
        })
    }

    /// The time line; panics if [`RunContext::start_timeline`] has not been called.
    pub fn timeline(&self) -> &Timeline {
        self.timeline.get().expect("time line not started")
    }

    /// Unix nanoseconds at which the measured phase begins (`u64::MAX` before the time line
    /// starts, so that nothing counts as measured yet).
    pub fn measure_start_ns(&self) -> u64 {
        self.timeline.get().map_or(u64::MAX, |t| t.measure_start_ns)
    }

    /// Takes a ticket for one measured-phase message; false once the `messages` bound is
    /// reached (and then asks every producer to stop).
    pub fn take_measured_ticket(&self) -> bool {
        match self.workload.messages {
            None => true,
            Some(limit) => {
                if self.measured_sent.fetch_add(1, Ordering::Relaxed) < limit {
                    true
                } else {
                    self.stop_producing.store(true, Ordering::Relaxed);
                    false
                }
            }
        }
    }

    /// Whether producers should stop sending now.
    pub fn should_stop_producing(&self) -> bool {
        self.stop_producing.load(Ordering::Relaxed) || Instant::now() >= self.timeline().measure_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bound_hands_out_exactly_n_tickets() {
        let w = Workload {
            messages: Some(3),
            warmup_s: 0.0,
            ..Workload::default()
        };
        let ctx = RunContext::new(w, 1, None);
        assert_eq!(ctx.measure_start_ns(), u64::MAX);
        let t = ctx.start_timeline();
        assert_eq!(ctx.measure_start_ns(), t.measure_start_ns);
        assert!(!ctx.should_stop_producing());
        assert_eq!((0..10).filter(|_| ctx.take_measured_ticket()).count(), 3);
        assert!(ctx.should_stop_producing());
        assert!(t.measure_end > t.measure_start);
    }
}
