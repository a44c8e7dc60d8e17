//! The calls the broker makes on its hot paths: one per request, per partition of a produce or
//! fetch, per fsync, per cross-core call and per connection.
//!
//! Each executor installs its core's [`CoreMetrics`] in a thread-local at startup
//! ([`install`]); on a thread without one (unit tests, tools) every hook does nothing. Hooks
//! touch only relaxed atomics and core-local maps; a lock is taken only the first time a core
//! sees a topic or an (API, error code) pair.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ResponseKind;

use super::core::{CoreMetrics, TopicCounters};

/// At most one slow-request warning per core per this interval; the rest are counted.
const SLOW_WARN_INTERVAL: Duration = Duration::from_secs(1);

/// APIs that wait on purpose (long polls, rebalances) and are never reported as slow.
const WAITING_APIS: [i16; 3] = [1, 11, 14]; // Fetch, JoinGroup, SyncGroup

struct Local {
    m: Arc<CoreMetrics>,
    topics: RefCell<HashMap<Arc<str>, Arc<TopicCounters>>>,
    errors: RefCell<HashMap<(i16, i16), Arc<AtomicU64>>>,
    slow: Option<Duration>,
    last_warn: Cell<Option<Instant>>,
    suppressed: Cell<u64>,
}

thread_local! {
    static LOCAL: OnceCell<Local> = const { OnceCell::new() };
}

fn with<R>(f: impl FnOnce(&Local) -> R) -> Option<R> {
    LOCAL.try_with(|l| l.get().map(f)).ok().flatten()
}

/// Makes `m` this thread's core metrics, and the log engine's events on this thread count in
/// it. `slow` is the slow-request warning threshold (`None`: no warnings). A second call on the
/// same thread is ignored.
pub fn install(m: Arc<CoreMetrics>, slow: Option<Duration>) {
    crate::storage::events::install(Box::new(StorageEvents));
    crate::periodic::on_turn(periodic_turn);
    let _ = LOCAL.try_with(|l| {
        let _ = l.set(Local {
            m,
            topics: RefCell::new(HashMap::new()),
            errors: RefCell::new(HashMap::new()),
            slow,
            last_warn: Cell::new(None),
            suppressed: Cell::new(0),
        });
    });
}

/// One turn of a core's periodic loop.
pub fn periodic_turn(which: crate::periodic::Loop) {
    with(|l| CoreMetrics::add(&l.m.periodic_turns[which.index()], 1));
}

/// Measures one request from dispatch to response.
pub struct RequestTimer {
    api: i16,
    start: Instant,
}

impl RequestTimer {
    /// Starts timing a request of API `api`.
    pub fn start(api: i16) -> RequestTimer {
        RequestTimer {
            api,
            start: Instant::now(),
        }
    }

    /// Records the request. `dropped`: it closed the connection instead of being served.
    pub fn finish(self, dropped: bool) {
        let elapsed = self.start.elapsed();
        with(|l| {
            let api = match l.m.api(self.api) {
                Some(a) if !dropped => a,
                _ => {
                    CoreMetrics::add(&l.m.dropped_requests, 1);
                    return;
                }
            };
            CoreMetrics::add(&api.requests, 1);
            api.latency.observe(elapsed);
            if let Some(limit) = l.slow {
                if elapsed >= limit && !WAITING_APIS.contains(&self.api) {
                    slow_request(l, self.api, elapsed);
                }
            }
        });
    }
}

fn slow_request(l: &Local, api: i16, elapsed: Duration) {
    CoreMetrics::add(&l.m.slow_requests, 1);
    let now = Instant::now();
    if let Some(last) = l.last_warn.get() {
        if now.duration_since(last) < SLOW_WARN_INTERVAL {
            l.suppressed.set(l.suppressed.get() + 1);
            return;
        }
    }
    l.last_warn.set(Some(now));
    let suppressed = l.suppressed.replace(0);
    tracing::warn!(
        core = l.m.core,
        api = %super::expose::api_name(api),
        elapsed_ms = elapsed.as_millis() as u64,
        similar_since_last_warning = suppressed,
        "slow request"
    );
}

/// Counts the error codes of a response of API `api`.
pub fn response_errors(api: i16, body: &ResponseKind) {
    with(|l| {
        super::errors::visit(body, &mut |code| {
            let mut cache = l.errors.borrow_mut();
            let c = cache
                .entry((api, code))
                .or_insert_with(|| l.m.errors.get_or_create(&(api, code)));
            CoreMetrics::add(c, 1);
        })
    });
}

fn topic(l: &Local, name: &Arc<str>, f: impl FnOnce(&TopicCounters)) {
    let mut cache = l.topics.borrow_mut();
    let c = match cache.get(name) {
        Some(c) => c,
        None => cache
            .entry(name.clone())
            .or_insert_with(|| l.m.topics.get_or_create(name)),
    };
    f(c)
}

/// A producer appended `bytes` of batches holding `messages` records to a partition of `name`.
pub fn bytes_in(name: &Arc<str>, bytes: usize, messages: u64) {
    with(|l| {
        topic(l, name, |c| {
            CoreMetrics::add(&c.bytes_in, bytes as u64);
            CoreMetrics::add(&c.messages_in, messages);
        })
    });
}

/// A fetch returned `bytes` of batches from a partition of `name`.
pub fn bytes_out(name: &Arc<str>, bytes: usize) {
    if bytes == 0 {
        return;
    }
    with(|l| topic(l, name, |c| CoreMetrics::add(&c.bytes_out, bytes as u64)));
}

/// A log's group-commit fdatasync took `d`.
pub fn fsync(d: Duration) {
    with(|l| l.m.fsync.observe(d));
}

/// A write or sync of a partition log failed.
pub fn storage_error() {
    with(|l| CoreMetrics::add(&l.m.storage_errors, 1));
}

/// A fetch met a stored batch that failed its check (answered CORRUPT_MESSAGE).
pub fn corrupt_batch_read() {
    with(|l| CoreMetrics::add(&l.m.corrupt_batch_reads, 1));
}

/// A partition log went offline (`1`) or an offline one was dropped (`-1`).
pub fn partition_offline(delta: i64) {
    with(|l| l.m.partitions_offline.fetch_add(delta, Ordering::Relaxed));
}

/// Forwards the log engine's events to this core's metrics.
struct StorageEvents;

impl crate::storage::events::Observer for StorageEvents {
    fn fsync(&self, elapsed: Duration) {
        fsync(elapsed);
    }
    fn storage_error(&self) {
        storage_error();
    }
    fn partition_offline(&self, delta: i64) {
        partition_offline(delta);
    }
    fn corrupt_batch_read(&self) {
        corrupt_batch_read();
    }
}

/// A long-polling fetch started (`1`) or stopped (`-1`) waiting on this core's partitions.
pub fn fetch_waiting(delta: i64) {
    with(|l| l.m.fetch_waiting.fetch_add(delta, Ordering::Relaxed));
}

/// A call to core `target` was answered after `d` (`None`: a call that waits by design, such
/// as a long poll, counted but not timed).
pub fn forwarded(target: usize, d: Option<Duration>) {
    with(|l| {
        if let Some(c) = l.m.forwards.get(target) {
            CoreMetrics::add(c, 1);
        }
        if let Some(d) = d {
            l.m.forward_latency.observe(d);
        }
    });
}

/// A connection was closed right after accept: `max.connections` was reached, or with
/// `per_ip` `max.connections.per.ip`.
pub fn connection_rejected(per_ip: bool) {
    with(|l| CoreMetrics::add(&l.m.connections_rejected[usize::from(per_ip)], 1));
}

/// A connection was closed by a timer: a started frame too slow (`partial`) or idle.
pub fn connection_timed_out(partial: bool) {
    with(|l| CoreMetrics::add(&l.m.connections_timed_out[usize::from(partial)], 1));
}

/// A follower fetch request sent by this core was answered (`ok`) or failed.
pub fn follower_fetch(ok: bool) {
    with(|l| CoreMetrics::add(&l.m.follower_fetches[usize::from(!ok)], 1));
}

/// A leader on this core committed an ISR change: a shrink (`true`) or an expand.
pub fn isr_change(shrink: bool) {
    with(|l| {
        let c = if shrink {
            &l.m.isr_shrinks
        } else {
            &l.m.isr_expands
        };
        CoreMetrics::add(c, 1)
    });
}

/// This core served one partition of a follower's fetch.
pub fn replica_fetch_served() {
    with(|l| CoreMetrics::add(&l.m.replica_fetches_served, 1));
}

/// This core now leads `n` under-replicated partitions.
pub fn under_replicated(n: usize) {
    with(|l| l.m.under_replicated.store(n as i64, Ordering::Relaxed));
}

/// This core now leads `n` partitions whose ISR is below their effective min ISR.
pub fn under_min_isr(n: usize) {
    with(|l| l.m.under_min_isr.store(n as i64, Ordering::Relaxed));
}

/// A newly installed metadata image (core 0) has `offline` leaderless partitions and
/// `elections` more leader elections than the one before.
pub fn leadership(offline: usize, elections: u64) {
    with(|l| {
        l.m.offline_partitions
            .store(offline as i64, Ordering::Relaxed);
        CoreMetrics::add(&l.m.leader_elections, elections)
    });
}

thread_local! {
    /// The largest lag of the last answer of each leader this core follows (bounded by the
    /// brokers: one entry per follower session).
    static LAGS: RefCell<HashMap<i32, i64>> = RefCell::new(HashMap::new());
}

/// The follower session of `leader` on this core last saw a largest lag of `lag` (`None`: the
/// session ended).
pub fn follower_lag(leader: i32, lag: Option<i64>) {
    let max = LAGS.with(|m| {
        let mut m = m.borrow_mut();
        match lag {
            Some(v) => m.insert(leader, v.max(0)),
            None => m.remove(&leader),
        };
        m.values().copied().max().unwrap_or(0)
    });
    with(|l| l.m.follower_max_lag.store(max, Ordering::Relaxed));
}

/// A connection authenticated with SASL.
pub fn sasl_succeeded() {
    with(|l| CoreMetrics::add(&l.m.sasl_authentications[0], 1));
}

/// A connection failed SASL authentication (and is closed).
pub fn sasl_failed() {
    with(|l| CoreMetrics::add(&l.m.sasl_authentications[1], 1));
}

/// A SASL connection re-authenticated (`ok`) or failed to (and is closed), KIP-368.
pub fn sasl_reauthenticated(ok: bool) {
    with(|l| CoreMetrics::add(&l.m.sasl_reauthentications[usize::from(!ok)], 1));
}

/// A connection was closed for a request after its SASL session expired.
pub fn sasl_session_expired() {
    with(|l| CoreMetrics::add(&l.m.sasl_sessions_expired, 1));
}

/// A TLS handshake completed.
pub fn tls_handshake_completed() {
    with(|l| CoreMetrics::add(&l.m.tls_handshakes[0], 1));
}

/// A TLS handshake failed (and the connection is closed).
pub fn tls_handshake_failed() {
    with(|l| CoreMetrics::add(&l.m.tls_handshakes[1], 1));
}

/// Counts an open connection for as long as it lives.
pub struct ConnectionGuard(Option<Arc<CoreMetrics>>);

impl ConnectionGuard {
    /// A connection was accepted on this core.
    pub fn open() -> ConnectionGuard {
        ConnectionGuard(with(|l| {
            CoreMetrics::add(&l.m.connections_accepted, 1);
            l.m.connections_open.fetch_add(1, Ordering::Relaxed);
            l.m.clone()
        }))
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.connections_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_count_on_an_installed_thread_and_do_nothing_elsewhere() {
        // Not installed: nothing happens, nothing panics.
        RequestTimer::start(0).finish(false);
        std::thread::spawn(|| {
            let m = Arc::new(CoreMetrics::new(0, 2));
            install(m.clone(), Some(Duration::ZERO));
            RequestTimer::start(0).finish(false);
            RequestTimer::start(-5).finish(false);
            RequestTimer::start(3).finish(true);
            let t: Arc<str> = Arc::from("t");
            bytes_in(&t, 100, 4);
            bytes_in(&t, 50, 1);
            bytes_out(&t, 70);
            forwarded(1, Some(Duration::from_micros(30)));
            forwarded(1, None); // a long poll: counted, not timed
            forwarded(7, Some(Duration::from_micros(30))); // out of range: latency only
            {
                let _c = ConnectionGuard::open();
                assert_eq!(m.connections_open.load(Ordering::Relaxed), 1);
            }
            assert_eq!(m.connections_open.load(Ordering::Relaxed), 0);
            assert_eq!(m.apis[0].requests.load(Ordering::Relaxed), 1);
            assert_eq!(m.dropped_requests.load(Ordering::Relaxed), 2);
            assert_eq!(m.slow_requests.load(Ordering::Relaxed), 1);
            let topics = m.topics.entries();
            assert_eq!(topics.len(), 1);
            assert_eq!(topics[0].1.bytes_in.load(Ordering::Relaxed), 150);
            assert_eq!(topics[0].1.messages_in.load(Ordering::Relaxed), 5);
            assert_eq!(topics[0].1.bytes_out.load(Ordering::Relaxed), 70);
            assert_eq!(m.forwards[1].load(Ordering::Relaxed), 2);
            assert_eq!(m.forward_latency.count(), 2);
        })
        .join()
        .unwrap();
    }
}
