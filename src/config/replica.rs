//! Follower fetch settings (`replica.fetch.*`, `replica.lag.time.max.ms` and
//! `replica.high.watermark.checkpoint.interval.ms`, Kafka's keys and
//! defaults): how the follower
//! fetchers of docs/replication.md step 4 ask their leaders for records.

/// The `replica.fetch.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaFetch {
    /// `replica.fetch.wait.max.ms`: how long a leader may hold a follower's fetch (500).
    pub wait_max_ms: i32,
    /// `replica.fetch.min.bytes`: bytes a leader waits for before answering (1).
    pub min_bytes: i32,
    /// `replica.fetch.response.max.bytes`: the fetch response's byte limit (10 MiB).
    pub response_max_bytes: i32,
    /// `replica.fetch.max.bytes`: each partition's byte limit (1 MiB).
    pub max_bytes: i32,
    /// `replica.fetch.backoff.ms`: the pause after a failed fetch (1000).
    pub backoff_ms: u64,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR
    /// (30000); the leader checks every half of it.
    pub lag_time_max_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often each core writes its part of
    /// the high-watermark checkpoint (5000; docs/replication.md step 6).
    pub hw_checkpoint_interval_ms: u64,
}

impl ReplicaFetch {
    /// The settings from the configuration's keys (`get_int`), clamped to sane bounds.
    pub fn from_keys(get_int: &dyn Fn(&str) -> anyhow::Result<i64>) -> anyhow::Result<Self> {
        Ok(ReplicaFetch {
            wait_max_ms: get_int("replica.fetch.wait.max.ms")?.clamp(0, 30_000) as i32,
            min_bytes: get_int("replica.fetch.min.bytes")?.clamp(0, i32::MAX as i64) as i32,
            response_max_bytes: get_int("replica.fetch.response.max.bytes")?.clamp(1, 64 << 20)
                as i32,
            max_bytes: get_int("replica.fetch.max.bytes")?.clamp(1, 64 << 20) as i32,
            backoff_ms: get_int("replica.fetch.backoff.ms")?.clamp(1, 600_000) as u64,
            lag_time_max_ms: get_int("replica.lag.time.max.ms")?.clamp(2, 86_400_000) as u64,
            hw_checkpoint_interval_ms: get_int("replica.high.watermark.checkpoint.interval.ms")?
                .clamp(1, 86_400_000) as u64,
        })
    }
}
