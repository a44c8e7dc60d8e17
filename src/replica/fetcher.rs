//! One follower fetch session's loop (Kafka's `ReplicaFetcherThread`, one per core and leader):
//! a Fetch (v15: `replica_state` with this broker's id and epoch, topics by id) naming each
//! partition's `current_leader_epoch`, log end offset, last fetched epoch and log start; the
//! answer's partitions are applied in turn ([`super::apply`]). A failed request (no answer, an
//! answer that does not fit its layout, a top-level error) backs the whole session off for
//! `replica.fetch.backoff.ms`; a partition's error backs that partition off alone.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};

use super::apply::{apply, Outcome};
use super::{Followed, Session};
use crate::config::replica::ReplicaFetch;
use crate::interbroker::Peers;
use crate::shard::PartitionStore;

/// The Fetch version followers send (KIP-903's `replica_state`, topic ids, diverging epochs).
pub const VERSION: i16 = 15;

/// Pause of a session with nothing to fetch before it looks again.
const IDLE: Duration = Duration::from_millis(100);

/// Least time between two fetches that bring nothing.
const IDLE_ANSWER: Duration = Duration::from_millis(10);

/// Least time between two warnings of one session about failed requests.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Runs `session` until it is stopped (see the module comment).
pub async fn run(
    session: Rc<Session>,
    store: Rc<PartitionStore>,
    peers: Rc<Peers>,
    settings: ReplicaFetch,
) {
    let leader = session.leader;
    fetch_loop(session, store, peers, settings).await;
    crate::metrics::hooks::follower_lag(leader, None);
    tracing::info!(leader, "follower fetches stopped");
}

async fn fetch_loop(
    session: Rc<Session>,
    store: Rc<PartitionStore>,
    peers: Rc<Peers>,
    settings: ReplicaFetch,
) {
    let backoff = Duration::from_millis(settings.backoff_ms);
    // Partitions backed off after an error, until when; pruned to the session's partitions.
    let mut held: HashMap<(Arc<str>, i32), Instant> = HashMap::new();
    let mut last_warn: Option<Instant> = None;
    let me = store.view().config().node_id;
    while !session.stopped.get() {
        let now = Instant::now();
        let parts: Vec<Followed> = session.parts.borrow().clone();
        held.retain(|k, until| {
            *until > now && parts.iter().any(|p| p.topic == k.0 && p.partition == k.1)
        });
        let ready: Vec<Followed> = parts
            .into_iter()
            .filter(|p| !held.contains_key(&(p.topic.clone(), p.partition)))
            .collect();
        if ready.is_empty() {
            glommio::timer::sleep(IDLE).await;
            continue;
        }
        let epoch = store
            .cluster()
            .state()
            .image
            .broker(me)
            .map_or(-1, |b| b.epoch as i64);
        let req = request(&ready, me, epoch, &settings);
        let resp = match peers.send(session.leader, VERSION, &req).await {
            Ok(r) if r.error_code == 0 => r,
            Ok(r) => {
                crate::metrics::hooks::follower_fetch(false);
                warn(
                    &mut last_warn,
                    session.leader,
                    &format!("error {}", r.error_code),
                );
                glommio::timer::sleep(backoff).await;
                continue;
            }
            Err(e) => {
                crate::metrics::hooks::follower_fetch(false);
                warn(&mut last_warn, session.leader, &e.to_string());
                glommio::timer::sleep(backoff).await;
                continue;
            }
        };
        crate::metrics::hooks::follower_fetch(true);
        let mut progress = false;
        // The largest lag of this answer's partitions (Kafka's MaxLag).
        let mut max_lag = 0i64;
        for t in resp.responses {
            for pd in t.partitions {
                // Only the partitions asked for, as they were asked for.
                let Some(p) = ready
                    .iter()
                    .find(|p| p.topic_id == t.topic_id && p.partition == pd.partition_index)
                else {
                    continue;
                };
                if session.stopped.get() {
                    return;
                }
                // Still followed from this leader, at the epoch asked for, in the same log.
                let current = session.parts.borrow().iter().any(|q| {
                    q.topic_id == p.topic_id
                        && q.partition == p.partition
                        && q.leader_epoch == p.leader_epoch
                        && Rc::ptr_eq(&q.log, &p.log)
                });
                if !current {
                    continue;
                }
                let leader_hw = pd.high_watermark;
                let outcome = apply(p, pd).await;
                max_lag = max_lag.max(leader_hw.saturating_sub(p.log.log_end_offset()));
                match outcome {
                    Outcome::Progress => progress = true,
                    Outcome::Idle => {}
                    Outcome::Retry(why) => {
                        tracing::warn!(leader = session.leader, topic = %p.topic, partition = p.partition, "follower fetch: {why}; backing off");
                        held.insert((p.topic.clone(), p.partition), Instant::now() + backoff);
                    }
                }
            }
        }
        crate::metrics::hooks::follower_lag(session.leader, Some(max_lag));
        if !progress && now.elapsed() < IDLE_ANSWER {
            // An empty answer sooner than a long poll's: a leader that does not wait is not
            // asked again at once.
            glommio::timer::sleep(IDLE_ANSWER).await;
        }
    }
}

/// Logs a failed request, at most once per [`WARN_INTERVAL`].
fn warn(last: &mut Option<Instant>, leader: i32, why: &str) {
    if last.is_none_or(|t| t.elapsed() >= WARN_INTERVAL) {
        *last = Some(Instant::now());
        tracing::warn!(leader, "follower fetch failed: {why}; backing off");
    }
}

/// The Fetch for `parts` from broker `me` at broker epoch `epoch`.
pub fn request(parts: &[Followed], me: i32, epoch: i64, s: &ReplicaFetch) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.replica_state.replica_id = BrokerId(me);
    req.replica_state.replica_epoch = epoch;
    req.max_wait_ms = s.wait_max_ms;
    req.min_bytes = s.min_bytes;
    req.max_bytes = s.response_max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for p in parts {
        let mut fp = FetchPartition::default();
        fp.partition = p.partition;
        fp.current_leader_epoch = p.leader_epoch;
        fp.fetch_offset = p.log.log_end_offset();
        fp.last_fetched_epoch = p.log.latest_epoch().unwrap_or(-1);
        fp.log_start_offset = p.log.log_start_offset();
        fp.partition_max_bytes = s.max_bytes;
        match topics.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(fp),
            None => {
                let mut t = FetchTopic::default();
                t.topic_id = p.topic_id;
                t.partitions.push(fp);
                topics.push(t);
            }
        }
    }
    req.topics = topics;
    req
}
