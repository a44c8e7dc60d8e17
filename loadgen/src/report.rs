//! The result of a run: the JSON document written by `--out`, the summary table printed at the
//! end, and the side-by-side table of `compare`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;
use crate::workload::Workload;

/// Bytes in one MB as used in every "MB/s" figure (decimal megabytes).
pub const MB: f64 = 1_000_000.0;

/// Messages and bytes over the measured phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Messages in the measured phase.
    pub messages: u64,
    /// Value bytes in the measured phase.
    pub bytes: u64,
    /// Messages per second.
    pub msg_per_s: f64,
    /// MB (10^6 bytes) per second.
    pub mb_per_s: f64,
}

impl Throughput {
    /// Rates for `messages` and `bytes` over `seconds`.
    pub fn over(messages: u64, bytes: u64, seconds: f64) -> Throughput {
        let s = seconds.max(1e-9);
        Throughput {
            messages,
            bytes,
            msg_per_s: messages as f64 / s,
            mb_per_s: bytes as f64 / MB / s,
        }
    }
}

/// Whole-run message accounting (warm-up and drain included).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Messages handed to producers.
    pub sent: u64,
    /// Messages acknowledged by the broker.
    pub acked: u64,
    /// Messages whose send or delivery failed.
    pub failed: u64,
    /// Messages of this run consumed, over all subscriptions.
    pub consumed: u64,
    /// `acked` times the number of subscriptions per topic (0 when there are no consumers).
    pub expected_consumed: u64,
    /// Acknowledged messages some subscription did not receive before the drain timeout.
    pub missing: u64,
    /// Messages consumed that another run produced.
    pub foreign: u64,
    /// Consumer errors reported by librdkafka.
    pub consumer_errors: u64,
}

/// One point of the per-second series.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Seconds since producing started, at the end of this interval.
    pub t_s: f64,
    /// `warmup`, `measure` or `drain`.
    pub phase: String,
    /// Acknowledged messages per second.
    pub produced_msg_s: f64,
    /// Acknowledged MB per second.
    pub produced_mb_s: f64,
    /// Consumed messages per second.
    pub consumed_msg_s: f64,
    /// Consumed MB per second.
    pub consumed_mb_s: f64,
    /// Median publish latency of the deliveries in this interval (ms).
    pub publish_p50_ms: f64,
    /// 99th percentile publish latency in this interval (ms).
    pub publish_p99_ms: f64,
    /// Median end-to-end latency of the messages consumed in this interval (ms).
    pub e2e_p50_ms: f64,
    /// 99th percentile end-to-end latency in this interval (ms).
    pub e2e_p99_ms: f64,
    /// Failed sends in this interval.
    pub failed: u64,
}

/// Everything a run reports; the `--out` JSON file is this, serialized.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always `runnel-loadgen`.
    pub tool: String,
    /// Version of the load generator.
    pub version: String,
    /// The run id embedded in every value.
    pub run_id: u64,
    /// Unix time (seconds) when producing started.
    pub started_unix_s: u64,
    /// The workload, after command-line overrides.
    pub workload: Workload,
    /// What ended the measured phase: `time`, `count` or `error`.
    pub ended_by: String,
    /// Length of the measured phase actually run (seconds).
    pub measured_s: f64,
    /// Acknowledged messages in the measured phase.
    pub produced: Throughput,
    /// Consumed messages in the measured phase.
    pub consumed: Throughput,
    /// Whole-run accounting.
    pub totals: Totals,
    /// Publish latency (intended send time to delivery report) over the measured phase.
    pub publish_latency: LatencySummary,
    /// End-to-end latency (embedded send time to consumption) over the measured phase.
    pub e2e_latency: LatencySummary,
    /// Per-second series over the whole run.
    pub series: Vec<SecondPoint>,
    /// Backlog mode only: consumption of everything produced, after the producers stopped.
    #[serde(default)]
    pub backlog: Option<Backlog>,
}

/// The drain of a backlog run: consumers reading everything produced, producers stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Backlog {
    /// From opening the consumers to the last message consumed (or the drain timeout).
    pub seconds: f64,
    /// Messages and bytes consumed in that time.
    pub consumed: Throughput,
}

impl RunResult {
    /// Writes the result as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// Reads a result written by [`RunResult::write_json`].
    pub fn read_json(path: &Path) -> Result<RunResult> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// `(label, value)` rows shared by the summary and compare tables.
    fn metrics(&self) -> Vec<(String, f64)> {
        let mut rows = vec![
            ("produced msg/s".to_string(), self.produced.msg_per_s),
            ("produced MB/s".to_string(), self.produced.mb_per_s),
            ("consumed msg/s".to_string(), self.consumed.msg_per_s),
            ("consumed MB/s".to_string(), self.consumed.mb_per_s),
        ];
        if let Some(b) = &self.backlog {
            rows.push(("backlog consumed msg/s".to_string(), b.consumed.msg_per_s));
            rows.push(("backlog consumed MB/s".to_string(), b.consumed.mb_per_s));
            rows.push(("backlog drain s".to_string(), b.seconds));
        }
        for (what, s) in [
            ("publish", &self.publish_latency),
            ("e2e", &self.e2e_latency),
        ] {
            for (label, v) in s.rows() {
                rows.push((format!("{what} {label} ms"), v));
            }
        }
        rows
    }

    /// The table printed at the end of a run.
    pub fn summary_table(&self) -> String {
        let mut out = String::new();
        let w = &self.workload;
        let _ = writeln!(
            out,
            "workload {:?} (client {:?}): {} topic(s) x {} partitions, {} producer(s)/topic, {} \
             consumer(s) x {} subscription(s)/topic, rate {}",
            w.name,
            w.client,
            w.topics,
            w.partitions,
            w.producers_per_topic,
            w.consumers_per_subscription,
            w.subscriptions_per_topic,
            if w.producer_rate > 0.0 {
                format!("{} msg/s", w.producer_rate)
            } else {
                "max".to_string()
            }
        );
        let _ = writeln!(
            out,
            "measured {:.1} s (ended by {}); sent {}, acked {}, failed {}, consumed {} of {} \
             expected, missing {}",
            self.measured_s,
            self.ended_by,
            self.totals.sent,
            self.totals.acked,
            self.totals.failed,
            self.totals.consumed,
            self.totals.expected_consumed,
            self.totals.missing
        );
        let _ = writeln!(out, "{:<22} {:>14}", "metric", "value");
        for (label, v) in self.metrics() {
            let _ = writeln!(out, "{label:<22} {:>14}", fmt_num(v));
        }
        out
    }
}

/// Formats a number with a precision that suits its size.
pub fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The ratio column of `compare`: `b / a`, or `-` when `a` is zero.
pub fn fmt_ratio(a: f64, b: f64) -> String {
    if a == 0.0 {
        "-".to_string()
    } else {
        format!("{:.2}x", b / a)
    }
}

/// Two results side by side, with the ratio `B / A` for every metric.
pub fn compare_table(a: &RunResult, a_name: &str, b: &RunResult, b_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A = {a_name} (workload {:?})", a.workload.name);
    let _ = writeln!(out, "B = {b_name} (workload {:?})", b.workload.name);
    if a.workload != b.workload {
        let _ = writeln!(out, "note: the two workloads differ");
    }
    let _ = writeln!(out, "{:<22} {:>14} {:>14} {:>9}", "metric", "A", "B", "B/A");
    for ((label, va), (_, vb)) in a.metrics().into_iter().zip(b.metrics()) {
        let _ = writeln!(
            out,
            "{label:<22} {:>14} {:>14} {:>9}",
            fmt_num(va),
            fmt_num(vb),
            fmt_ratio(va, vb)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(msg_s: f64, p99: f64) -> RunResult {
        RunResult {
            tool: "runnel-loadgen".into(),
            produced: Throughput {
                msg_per_s: msg_s,
                ..Throughput::default()
            },
            publish_latency: LatencySummary {
                p99_ms: p99,
                ..LatencySummary::default()
            },
            ..RunResult::default()
        }
    }

    #[test]
    fn compare_shows_values_and_ratios() {
        let t = compare_table(
            &result(1000.0, 2.0),
            "a.json",
            &result(1500.0, 1.0),
            "b.json",
        );
        let line = t.lines().find(|l| l.starts_with("produced msg/s")).unwrap();
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[2..], ["1000", "1500", "1.50x"]);
        let p99 = t.lines().find(|l| l.starts_with("publish p99 ms")).unwrap();
        assert!(p99.ends_with("0.50x"), "{p99}");
        let zero = t.lines().find(|l| l.starts_with("consumed msg/s")).unwrap();
        assert!(zero.ends_with('-'), "{zero}");
        assert!(!t.contains("differ"));
    }

    #[test]
    fn json_round_trips() {
        let mut r = result(10.0, 1.0);
        r.series.push(SecondPoint {
            t_s: 1.0,
            phase: "measure".into(),
            ..SecondPoint::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        r.write_json(&p).unwrap();
        assert_eq!(RunResult::read_json(&p).unwrap(), r);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert!(v["workload"]["partitions"].is_number());
        assert!(v["publish_latency"]["p9999_ms"].is_number());
    }

    #[test]
    fn throughput_and_number_formatting() {
        let t = Throughput::over(2000, 2_000_000, 2.0);
        assert_eq!(t.msg_per_s, 1000.0);
        assert_eq!(t.mb_per_s, 1.0);
        assert_eq!(fmt_num(12345.6), "12346");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(0.1234), "0.123");
        assert_eq!(fmt_ratio(0.0, 1.0), "-");
    }
}
