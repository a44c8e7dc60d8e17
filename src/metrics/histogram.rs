//! Fixed-bucket latency histograms, Prometheus style.
//!
//! A [`Histogram`] is a set of relaxed atomic counters written by one core and read by the
//! scraper: one counter per bucket (not cumulative; the encoder accumulates), the total count
//! and the sum in nanoseconds. Observing a value is a short scan over the bucket bounds and two
//! or three relaxed additions: no allocation and no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds (the last bucket, `+Inf`, is implicit).
pub const LATENCY_BOUNDS_S: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

const BUCKETS: usize = LATENCY_BOUNDS_S.len() + 1;

/// The same bounds in nanoseconds, for comparisons without floating point.
const LATENCY_BOUNDS_NS: [u64; 17] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A latency histogram with the buckets of [`LATENCY_BOUNDS_S`].
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

/// A consistent-enough copy of a histogram, for encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts, one per bound of [`LATENCY_BOUNDS_S`], then `+Inf`.
    pub cumulative: Vec<u64>,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations, in seconds.
    pub sum_s: f64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let idx = LATENCY_BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(BUCKETS - 1);
        self.buckets[idx].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Reads the counters. The `+Inf` bucket is the total of the buckets read, so the snapshot is
    /// always monotonic across buckets even while the owning core keeps observing.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(BUCKETS);
        let mut acc = 0u64;
        for b in &self.buckets {
            acc += b.load(Ordering::Relaxed);
            cumulative.push(acc);
        }
        HistogramSnapshot {
            cumulative,
            count: acc,
            sum_s: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50)); // first bucket (le is inclusive)
        h.observe(Duration::from_millis(3)); // le=0.005
        h.observe(Duration::from_secs(60)); // +Inf only
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[5], 1); // le=0.0025
        assert_eq!(s.cumulative[6], 2); // le=0.005
        assert_eq!(s.cumulative[16], 2); // le=10
        assert_eq!(s.cumulative[17], 3); // +Inf
        assert!((s.sum_s - 60.00305).abs() < 1e-9);
        assert_eq!(h.count(), 3);
    }

    #[test]
    fn bounds_agree() {
        for (s, ns) in LATENCY_BOUNDS_S.iter().zip(LATENCY_BOUNDS_NS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
    }
}
