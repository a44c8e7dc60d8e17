//! The tunables of a partition log ([`LogConfig`]): the topic's configs as the storage engine
//! uses them, with Kafka's defaults.

/// Tunables of a partition log: the topic's configs as the storage engine uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Roll to a new segment once the active one reaches this size (`segment.bytes`).
    pub segment_bytes: u64,
    /// Roll once the active segment's first record is this old (`segment.ms`).
    pub segment_ms: i64,
    /// Bytes between two index entries (`index.interval.bytes`).
    pub index_interval_bytes: u64,
    /// fdatasync after this many messages (`flush.messages`); 1 means every group commit.
    pub flush_messages: u64,
    /// Delete closed segments whose newest record is older than this (`retention.ms`; -1: never).
    pub retention_ms: i64,
    /// Delete the oldest closed segments while the log is larger (`retention.bytes`; -1: never).
    pub retention_bytes: i64,
    /// `cleanup.policy` includes delete: retention applies.
    pub delete: bool,
    /// `cleanup.policy` includes compact: the cleaner keeps the newest record per key.
    pub compact: bool,
    /// Keep tombstones this long after their first compaction (`delete.retention.ms`).
    pub delete_retention_ms: i64,
    /// Do not compact records younger than this (`min.compaction.lag.ms`).
    pub min_compaction_lag_ms: i64,
    /// Compact segments older than this whatever the dirty ratio (`max.compaction.lag.ms`).
    pub max_compaction_lag_ms: i64,
    /// Compact when the dirty share of the closed segments reaches this.
    pub min_cleanable_ratio: f64,
    /// Reserve disk space this far ahead of the writes (0: no preallocation).
    pub preallocate_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            flush_messages: 1,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            delete: true,
            compact: false,
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_ratio: 0.5,
            preallocate_bytes: 0,
        }
    }
}
