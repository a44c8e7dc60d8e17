//! Range checks of the numeric broker configs, with Kafka's bounds (Kafka 4.x `ConfigDef`
//! validators) where Kafka has one and Runnel's own limits where Runnel needs tighter ones.
//!
//! Every numeric key of the configuration is checked once at startup, before anything uses it;
//! an out-of-range value stops the broker with an error naming the key, its value, where it came
//! from and the allowed range.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::errors::{ErrorMessage, KafkaError};

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

/// `(key, lowest, highest)`: integer configs and their allowed ranges.
const INTEGER_BOUNDS: &[(&str, i64, i64)] = &[
    ("node.id", 0, INT_MAX),
    ("broker.session.timeout.ms", 100, INT_MAX),
    ("broker.heartbeat.interval.ms", 10, INT_MAX),
    ("num.partitions", 1, INT_MAX),
    ("default.replication.factor", 1, i16::MAX as i64),
    ("replica.lag.time.max.ms", 2, LONG_MAX),
    ("replica.high.watermark.checkpoint.interval.ms", 1, LONG_MAX),
    ("message.max.bytes", 0, INT_MAX),
    // Kafka 4.0 raised the floor from 14 bytes to 1 MiB (KIP-1030).
    ("log.segment.bytes", 1 << 20, INT_MAX),
    ("log.message.timestamp.before.max.ms", 0, LONG_MAX),
    ("log.message.timestamp.after.max.ms", 0, LONG_MAX),
    ("min.insync.replicas", 1, INT_MAX),
    (
        "leader.imbalance.check.interval.seconds",
        1,
        LONG_MAX / 1000,
    ),
    ("leader.imbalance.per.broker.percentage", 0, 100),
    ("log.retention.ms", -1, LONG_MAX),
    ("log.retention.bytes", -1, LONG_MAX),
    ("log.roll.ms", 1, LONG_MAX),
    ("log.retention.check.interval.ms", 1, LONG_MAX),
    ("log.cleaner.delete.retention.ms", 0, LONG_MAX),
    ("log.cleaner.min.compaction.lag.ms", 0, LONG_MAX),
    ("log.cleaner.max.compaction.lag.ms", 1, LONG_MAX),
    ("log.cleaner.backoff.ms", 0, LONG_MAX),
    ("log.cleaner.dedupe.buffer.size", 1 << 20, LONG_MAX),
    ("runnel.preallocate.step.bytes", 0, 1 << 30),
    ("log.index.interval.bytes", 0, INT_MAX),
    ("log.flush.interval.messages", 1, LONG_MAX),
    ("socket.request.max.bytes", 1024, INT_MAX),
    ("runnel.cache.bytes.per.core", 0, LONG_MAX),
    ("runnel.spin.before.park.us", 0, 1_000_000),
    ("runnel.slow.request.warn.ms", -1, LONG_MAX),
    // Runnel keeps the internal topics' partitions on a fixed table of at most 1000.
    ("offsets.topic.num.partitions", 1, 1000),
    ("group.initial.rebalance.delay.ms", 0, INT_MAX),
    ("group.min.session.timeout.ms", 1, INT_MAX),
    ("group.max.session.timeout.ms", 1, INT_MAX),
    ("group.max.size", 1, INT_MAX),
    ("offsets.retention.minutes", 1, INT_MAX),
    ("offset.metadata.max.bytes", 0, INT_MAX),
    ("group.consumer.session.timeout.ms", 1, INT_MAX),
    ("group.consumer.heartbeat.interval.ms", 1, INT_MAX),
    ("group.consumer.min.session.timeout.ms", 1, INT_MAX),
    ("group.consumer.max.session.timeout.ms", 1, INT_MAX),
    ("group.consumer.min.heartbeat.interval.ms", 1, INT_MAX),
    ("group.consumer.max.heartbeat.interval.ms", 1, INT_MAX),
    ("transaction.state.log.num.partitions", 1, 1000),
    ("transaction.max.timeout.ms", 1, INT_MAX),
    (
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        1,
        INT_MAX,
    ),
    ("runnel.shutdown.timeout.ms", 1000, LONG_MAX),
    ("runnel.health.stall.timeout.ms", 100, LONG_MAX),
    ("runnel.test.periodic.interval.us", 0, 1_000_000),
    // Connection and resource limits: 0 or -1 turn the first and the fourth off, as in Kafka.
    ("connections.max.idle.ms", -1, LONG_MAX),
    ("connections.max.reauth.ms", -1, LONG_MAX),
    ("runnel.request.read.timeout.ms", 1, LONG_MAX),
    ("max.connections", 1, INT_MAX),
    ("max.connections.per.ip", 1, INT_MAX),
    ("queued.max.request.bytes", -1, LONG_MAX),
    ("runnel.topic.partitions.per.core", 1, 1_000_000),
    ("runnel.log.open.files.per.core", 16, 1 << 20),
];

/// `(key, lowest, highest)`: floating-point configs.
const DOUBLE_BOUNDS: &[(&str, f64, f64)] = &[("log.cleaner.min.cleanable.ratio", 0.0, 1.0)];

/// `(smaller, larger)`: pairs whose first must not exceed the second.
const ORDERED: &[(&str, &str)] = &[
    (
        "group.min.session.timeout.ms",
        "group.max.session.timeout.ms",
    ),
    (
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.session.timeout.ms",
    ),
    (
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
    ),
    (
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
    ),
];

fn integer(table: &BTreeMap<String, toml::Value>, key: &str) -> Option<Result<i64, String>> {
    Some(match table.get(key)? {
        toml::Value::Integer(i) => Ok(*i),
        toml::Value::String(s) => s.trim().parse().map_err(|_| s.clone()),
        other => Err(other.to_string()),
    })
}

/// Checks every bounded key of `table`; `origin(key)` says where a value came from.
pub fn check(table: &BTreeMap<String, toml::Value>, origin: &dyn Fn(&str) -> String) -> Result<()> {
    for &(key, lo, hi) in INTEGER_BOUNDS {
        match integer(table, key) {
            None => {}
            Some(Err(v)) => bail!("config {key} = {v} ({}) must be an integer", origin(key)),
            Some(Ok(v)) if v < lo || v > hi => bail!(
                "config {key} = {v} ({}) is out of range: it must be {}",
                origin(key),
                range(lo, hi)
            ),
            Some(Ok(_)) => {}
        }
    }
    for &(key, lo, hi) in DOUBLE_BOUNDS {
        let v = match table.get(key) {
            None => continue,
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(f) => f,
                Err(_) => bail!("config {key} = {s} ({}) must be a number", origin(key)),
            },
            Some(other) => bail!("config {key} = {other} ({}) must be a number", origin(key)),
        };
        if !(lo..=hi).contains(&v) {
            bail!(
                "config {key} = {v} ({}) is out of range: it must be between {lo} and {hi}",
                origin(key)
            );
        }
    }
    for &(small, large) in ORDERED {
        if let (Some(Ok(a)), Some(Ok(b))) = (integer(table, small), integer(table, large)) {
            if a > b {
                bail!(
                    "config {small} = {a} ({}) must not exceed {large} = {b} ({})",
                    origin(small),
                    origin(large)
                );
            }
        }
    }
    Ok(())
}

/// Checks one value given as text (a dynamic config change) against the key's range, if the
/// key has one: INVALID_REQUEST, whose message names the key, the value and the range.
pub fn check_one(key: &str, value: &str) -> Result<(), ErrorMessage> {
    let mut t = BTreeMap::new();
    t.insert(
        key.to_string(),
        toml::Value::String(value.trim().to_string()),
    );
    check(&t, &|_| "dynamic config".to_string())
        .map_err(|e| ErrorMessage::new(KafkaError::InvalidRequest, e.to_string()))
}

fn range(lo: i64, hi: i64) -> String {
    match (lo, hi) {
        (lo, LONG_MAX) | (lo, INT_MAX) => format!("at least {lo}"),
        (lo, hi) => format!("between {lo} and {hi}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, toml::Value)]) -> BTreeMap<String, toml::Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn origin(k: &str) -> String {
        format!("from test for {k}")
    }

    #[test]
    fn values_in_range_pass_and_others_name_the_key_and_range() {
        let ok = table(&[("log.segment.bytes", toml::Value::Integer(1 << 30))]);
        check(&ok, &origin).unwrap();
        let bad = table(&[("log.segment.bytes", toml::Value::Integer(10))]);
        let e = check(&bad, &origin).unwrap_err().to_string();
        assert!(e.contains("log.segment.bytes = 10"), "{e}");
        assert!(e.contains("at least 1048576"), "{e}");
        assert!(e.contains("from test"), "{e}");
        let bad = table(&[("num.partitions", toml::Value::String("x".into()))]);
        assert!(check(&bad, &origin).is_err());
        let bad = table(&[("message.max.bytes", toml::Value::Integer(1 << 40))]);
        assert!(check(&bad, &origin).is_err());
        let bad = table(&[("log.cleaner.min.cleanable.ratio", toml::Value::Float(1.5))]);
        assert!(check(&bad, &origin).is_err());
    }

    #[test]
    fn ordered_pairs_are_checked() {
        let bad = table(&[
            ("group.min.session.timeout.ms", toml::Value::Integer(10_000)),
            ("group.max.session.timeout.ms", toml::Value::Integer(5_000)),
        ]);
        let e = check(&bad, &origin).unwrap_err().to_string();
        assert!(e.contains("must not exceed"), "{e}");
    }
}
