//! Follower fetch settings (`replica.fetch.*`, Kafka's keys and defaults): how the follower
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
}
