//! The metrics of one core.
//!
//! A [`CoreMetrics`] is written only by its own executor (relaxed atomics) and read by the
//! scraper thread. Series whose label values are not known in advance (topics, error codes)
//! live in small [`Family`] lists: the core keeps its own handles in a core-local cache (see
//! [`super::hooks`]) and takes the family's lock only the first time it sees a new label value.
//! Partition and group gauges are snapshots the core publishes periodically
//! ([`super::snapshot`]), swapped in under a lock the scraper holds only to clone an `Arc`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::histogram::Histogram;

/// API keys with their own request counters (Kafka's keys are below 100).
pub const MAX_API_KEYS: usize = 128;

/// Requests and latency of one API on one core.
#[derive(Debug, Default)]
pub struct ApiStats {
    /// Requests handled (answered or not).
    pub requests: AtomicU64,
    /// Time from decoding the request to having its response ready.
    pub latency: Histogram,
}

/// Bytes and messages of one topic counted on one core.
#[derive(Debug, Default)]
pub struct TopicCounters {
    /// Record batch bytes appended by producers.
    pub bytes_in: AtomicU64,
    /// Records appended by producers (counted per batch from its header).
    pub messages_in: AtomicU64,
    /// Record batch bytes returned to fetches.
    pub bytes_out: AtomicU64,
}

/// A list of counters keyed by a label value that appears at run time.
#[derive(Debug)]
pub struct Family<K, V> {
    entries: Mutex<Vec<(K, Arc<V>)>>,
}

impl<K, V> Default for Family<K, V> {
    fn default() -> Self {
        Family {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<K: PartialEq + Clone, V: Default> Family<K, V> {
    /// The counters of `key`, created on first use.
    pub fn get_or_create(&self, key: &K) -> Arc<V> {
        let mut entries = lock(&self.entries);
        if let Some((_, v)) = entries.iter().find(|(k, _)| k == key) {
            return v.clone();
        }
        let v = Arc::new(V::default());
        entries.push((key.clone(), v.clone()));
        v
    }

    /// A copy of the list, for encoding.
    pub fn entries(&self) -> Vec<(K, Arc<V>)> {
        lock(&self.entries).clone()
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (metrics are counters:
/// whatever a panicking writer left is still worth reporting).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One partition's offsets and size, as last published by its core.
#[derive(Debug, Clone)]
pub struct PartitionGauge {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
    /// First offset in the log.
    pub log_start: i64,
    /// High watermark (offset below which consumers may read).
    pub high_watermark: i64,
    /// Next offset to be assigned.
    pub log_end: i64,
    /// Bytes of the log's segments.
    pub size_bytes: u64,
}

/// One committed offset of a group coordinated by this core.
#[derive(Debug, Clone)]
pub struct GroupOffset {
    /// Group id.
    pub group: Arc<str>,
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
    /// Committed offset (the next record the group will read).
    pub offset: i64,
}

/// The partitions and group offsets a core published last.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Partitions this core owns.
    pub partitions: Vec<PartitionGauge>,
    /// Offsets of the groups this core coordinates.
    pub group_offsets: Vec<GroupOffset>,
}

/// Everything measured on one core.
#[derive(Debug)]
pub struct CoreMetrics {
    /// Index of the core.
    pub core: usize,
    /// Per API key.
    pub apis: Box<[ApiStats]>,
    /// Request frames that closed the connection instead (unknown API or version, malformed).
    pub dropped_requests: AtomicU64,
    /// Requests slower than the slow-request threshold.
    pub slow_requests: AtomicU64,
    /// Error codes in responses, by (API key, error code).
    pub errors: Family<(i16, i16), AtomicU64>,
    /// Produce and fetch traffic of the partitions this core owns, by topic.
    pub topics: Family<Arc<str>, TopicCounters>,
    /// Connections accepted by this core.
    pub connections_accepted: AtomicU64,
    /// Connections open on this core.
    pub connections_open: AtomicI64,
    /// Connections closed right after accept, over `max.connections` / `max.connections.per.ip`.
    pub connections_rejected: [AtomicU64; 2],
    /// Connections closed when idle for `connections.max.idle.ms` (0) or when a started frame
    /// was not complete within `runnel.request.read.timeout.ms` (1).
    pub connections_timed_out: [AtomicU64; 2],
    /// SASL authentications on this core's connections: succeeded (0) and failed (1: wrong
    /// credentials, a refused mechanism, a request before authentication, a timeout).
    pub sasl_authentications: [AtomicU64; 2],
    /// SASL re-authentications (KIP-368) on this core's connections: succeeded (0) and failed
    /// (1: wrong credentials, another principal or mechanism, a timeout).
    pub sasl_reauthentications: [AtomicU64; 2],
    /// Connections closed because a request came after their SASL session expired
    /// (`connections.max.reauth.ms`) without re-authentication.
    pub sasl_sessions_expired: AtomicU64,
    /// TLS handshakes on this core's connections: completed (0) and failed (1: not TLS, a
    /// refused certificate or version, a timeout).
    pub tls_handshakes: [AtomicU64; 2],
    /// Long-polling fetches waiting on this core's partitions.
    pub fetch_waiting: AtomicI64,
    /// Fetch requests this core's follower fetchers sent to leaders: answered (0) and failed
    /// (1: no answer, or an answer refused).
    pub follower_fetches: [AtomicU64; 2],
    /// Partition reads this core served to followers' fetches (as a leader).
    pub replica_fetches_served: AtomicU64,
    /// ISR shrinks this core's leaders committed (a follower left the ISR).
    pub isr_shrinks: AtomicU64,
    /// ISR expands this core's leaders committed (a follower joined the ISR).
    pub isr_expands: AtomicU64,
    /// Replicated partitions this core leads whose ISR is smaller than their replica set.
    pub under_replicated: AtomicI64,
    /// Replicated partitions this core leads whose ISR is smaller than their effective
    /// `min.insync.replicas` (Kafka's `UnderMinIsrPartitionCount`).
    pub under_min_isr: AtomicI64,
    /// Partitions of the cluster without a leader in the newest metadata image (Kafka's
    /// `OfflinePartitionsCount`); set by core 0 only.
    pub offline_partitions: AtomicI64,
    /// Leader elections (leader epoch changes) in the metadata images core 0 installed.
    pub leader_elections: AtomicU64,
    /// The largest lag (leader's high watermark minus this follower's log end offset) of the
    /// partitions this core follows, from their last fetch answers (Kafka's `MaxLag`).
    pub follower_max_lag: AtomicI64,
    /// Duration of the group-commit fdatasyncs of this core's logs.
    pub fsync: Histogram,
    /// Failed writes and syncs of this core's logs.
    pub storage_errors: AtomicU64,
    /// This core's partition logs that are offline after a failed sync.
    pub partitions_offline: AtomicI64,
    /// Fetches of this core's partitions refused because a stored batch failed its check.
    pub corrupt_batch_reads: AtomicU64,
    /// Calls this core sent to each other core, by target core.
    pub forwards: Box<[AtomicU64]>,
    /// Round trip of calls to other cores (send to answer received).
    pub forward_latency: Histogram,
    /// How late the core's periodic 100 ms timer fired: time the reactor could not react.
    pub stall: Histogram,
    /// Time the executor spent running tasks and polling I/O, in nanoseconds.
    pub busy_ns: AtomicU64,
    /// When the core's periodic timer last ran, in ms since the registry started (0: never).
    pub last_tick_ms: AtomicU64,
    /// Turns of each periodic loop, by [`crate::periodic::Loop::index`].
    pub periodic_turns: [AtomicU64; crate::periodic::Loop::ALL.len()],
    /// Last published partitions and group offsets.
    pub snapshot: Mutex<Arc<Snapshot>>,
}

impl CoreMetrics {
    /// Metrics for core `core` of `cores`.
    pub fn new(core: usize, cores: usize) -> CoreMetrics {
        CoreMetrics {
            core,
            apis: (0..MAX_API_KEYS).map(|_| ApiStats::default()).collect(),
            dropped_requests: AtomicU64::new(0),
            slow_requests: AtomicU64::new(0),
            errors: Family::default(),
            topics: Family::default(),
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicI64::new(0),
            connections_rejected: Default::default(),
            connections_timed_out: Default::default(),
            sasl_authentications: Default::default(),
            sasl_reauthentications: Default::default(),
            sasl_sessions_expired: AtomicU64::new(0),
            tls_handshakes: Default::default(),
            fetch_waiting: AtomicI64::new(0),
            follower_fetches: Default::default(),
            replica_fetches_served: AtomicU64::new(0),
            isr_shrinks: AtomicU64::new(0),
            isr_expands: AtomicU64::new(0),
            under_replicated: AtomicI64::new(0),
            under_min_isr: AtomicI64::new(0),
            offline_partitions: AtomicI64::new(0),
            leader_elections: AtomicU64::new(0),
            follower_max_lag: AtomicI64::new(0),
            fsync: Histogram::default(),
            storage_errors: AtomicU64::new(0),
            partitions_offline: AtomicI64::new(0),
            corrupt_batch_reads: AtomicU64::new(0),
            forwards: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            forward_latency: Histogram::default(),
            stall: Histogram::default(),
            busy_ns: AtomicU64::new(0),
            last_tick_ms: AtomicU64::new(0),
            periodic_turns: Default::default(),
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
        }
    }

    /// The stats of API `key`, if it is in range.
    pub fn api(&self, key: i16) -> Option<&ApiStats> {
        self.apis.get(usize::try_from(key).ok()?)
    }

    /// Publishes a new snapshot of partitions and group offsets.
    pub fn publish(&self, snap: Snapshot) {
        *lock(&self.snapshot) = Arc::new(snap);
    }

    /// The last published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        lock(&self.snapshot).clone()
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_returns_the_same_counters_for_a_key() {
        let f: Family<Arc<str>, TopicCounters> = Family::default();
        let a = f.get_or_create(&Arc::from("t"));
        CoreMetrics::add(&a.bytes_in, 5);
        let b = f.get_or_create(&Arc::from("t"));
        assert_eq!(b.bytes_in.load(Ordering::Relaxed), 5);
        f.get_or_create(&Arc::from("u"));
        assert_eq!(f.entries().len(), 2);
    }

    #[test]
    fn api_out_of_range_is_none() {
        let m = CoreMetrics::new(0, 2);
        assert!(m.api(-1).is_none());
        assert!(m.api(MAX_API_KEYS as i16).is_none());
        assert!(m.api(0).is_some());
        assert_eq!(m.forwards.len(), 2);
    }
}
