//! Counters and latency histograms shared between the client threads and the collector.
//!
//! Latencies are recorded in microseconds into HDR histograms (1 µs to 1 h, 3 significant
//! digits). Each client thread owns a [`Recorder`]; the collector takes its per-second interval
//! histogram every second, while the run-long histogram only receives samples from the measured
//! phase (not the warm-up).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram can hold, in microseconds (one hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A fresh latency histogram (microseconds).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Latency samples of one client thread.
pub struct Recorder {
    inner: Mutex<Pair>,
}

struct Pair {
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            inner: Mutex::new(Pair {
                interval: new_histogram(),
                total: new_histogram(),
            }),
        }
    }
}

impl Recorder {
    /// Records one latency. `measured` is false during the warm-up: the sample then only shows
    /// in the per-second series, not in the final percentiles.
    pub fn record(&self, latency_us: u64, measured: bool) {
        let v = latency_us.clamp(1, MAX_LATENCY_US);
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        p.interval.saturating_record(v);
        if measured {
            p.total.saturating_record(v);
        }
    }

    /// Adds the samples recorded since the last call to `into` and starts a new interval.
    pub fn drain_interval(&self, into: &mut Histogram<u64>) {
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let _ = into.add(&p.interval);
        p.interval.reset();
    }

    /// Adds the measured-phase samples to `into`.
    pub fn add_total(&self, into: &mut Histogram<u64>) {
        let p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let _ = into.add(&p.total);
    }
}

/// Run-wide counters, updated by every client thread.
#[derive(Default)]
pub struct Counters {
    /// Messages handed to a producer.
    pub sent: AtomicU64,
    /// Messages whose delivery report said success.
    pub acked: AtomicU64,
    /// Value bytes of acknowledged messages.
    pub acked_bytes: AtomicU64,
    /// Messages whose delivery report said failure, or that could not be enqueued.
    pub failed: AtomicU64,
    /// Messages of this run consumed, over all subscriptions.
    pub consumed: AtomicU64,
    /// Value bytes of consumed messages of this run.
    pub consumed_bytes: AtomicU64,
    /// Messages consumed that were not produced by this run (left over on a reused topic).
    pub foreign: AtomicU64,
    /// Consumer errors reported by librdkafka.
    pub consumer_errors: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`Counters::sent`].
    pub sent: u64,
    /// See [`Counters::acked`].
    pub acked: u64,
    /// See [`Counters::acked_bytes`].
    pub acked_bytes: u64,
    /// See [`Counters::failed`].
    pub failed: u64,
    /// See [`Counters::consumed`].
    pub consumed: u64,
    /// See [`Counters::consumed_bytes`].
    pub consumed_bytes: u64,
}

impl Counters {
    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sent: self.sent.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            acked_bytes: self.acked_bytes.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            consumed: self.consumed.load(Ordering::Relaxed),
            consumed_bytes: self.consumed_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Percentile summary of a latency histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// 99.99th percentile.
    pub p9999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// Microseconds to milliseconds, rounded to the microsecond.
pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl LatencySummary {
    /// Summarizes `h` (microsecond samples). An empty histogram gives all zeros.
    pub fn from_histogram(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let q = |p: f64| us_to_ms(h.value_at_quantile(p));
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean().round() / 1000.0,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            p9999_ms: q(0.9999),
            max_ms: us_to_ms(h.max()),
        }
    }

    /// `(label, value)` pairs in display order.
    pub fn rows(&self) -> [(&'static str, f64); 7] {
        [
            ("p50", self.p50_ms),
            ("p90", self.p90_ms),
            ("p99", self.p99_ms),
            ("p99.9", self.p999_ms),
            ("p99.99", self.p9999_ms),
            ("max", self.max_ms),
            ("mean", self.mean_ms),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_distribution() {
        let mut h = new_histogram();
        // 1..=10000 µs, uniformly: p50 ~ 5 ms, p99 ~ 9.9 ms, max 10 ms.
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 10_000);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.002 + 0.001;
        assert!(close(s.p50_ms, 5.0), "{s:?}");
        assert!(close(s.p90_ms, 9.0), "{s:?}");
        assert!(close(s.p99_ms, 9.9), "{s:?}");
        assert!(close(s.p999_ms, 9.99), "{s:?}");
        assert!(close(s.max_ms, 10.0), "{s:?}");
        assert!(close(s.mean_ms, 5.0), "{s:?}");
    }

    #[test]
    fn empty_summary_is_zero() {
        let s = LatencySummary::from_histogram(&new_histogram());
        assert_eq!(s, LatencySummary::default());
    }

    #[test]
    fn warmup_samples_stay_out_of_the_total() {
        let r = Recorder::default();
        r.record(500, false);
        r.record(0, true); // clamped to 1 µs
        r.record(u64::MAX, true); // saturates at the top
        let mut interval = new_histogram();
        r.drain_interval(&mut interval);
        assert_eq!(interval.len(), 3);
        let mut again = new_histogram();
        r.drain_interval(&mut again);
        assert_eq!(again.len(), 0, "an interval is taken only once");
        let mut total = new_histogram();
        r.add_total(&mut total);
        assert_eq!(total.len(), 2);
        assert_eq!(total.min(), 1);
    }
}
