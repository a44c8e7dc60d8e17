//! Finishing a transaction: the decision (PrepareCommit / PrepareAbort) is logged, a commit or
//! abort marker is written to every partition of the transaction (on the core of this broker
//! that owns it, or through a WriteTxnMarkers request to the broker that leads it), and the
//! completion is logged only once every marker is written (on every ISR member). A crash between the steps leaves the decision in the log; the
//! sweep finishes the markers after the restart.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::remote_markers::{self, Remote};
use super::state::{now_ms, TxnState};
use super::store;
use super::Coordinator;
use crate::cluster::membership::PartitionLeader;
use crate::errors::KafkaError;
use crate::shard::call::CoreCall;
use crate::shard::messages::TopicPartition;

/// How often a marker that could not be written is retried before the round gives up (the
/// sweep starts a new round later).
const MARKER_ATTEMPTS: usize = 50;

/// Longest a round of marker writes lasts, requests to other brokers included: an EndTxn
/// waiting on an unresponsive broker is answered after it (the sweep finishes the markers).
const MARKER_ROUND: Duration = Duration::from_secs(10);

/// Decides the outcome of `txn_id`'s open transaction and finishes it. With `fence` the epoch
/// is bumped first, so the current producer is fenced (timeouts, a new producer taking over).
pub async fn finish(
    coord: &Rc<Coordinator>,
    txn_id: &str,
    commit: bool,
    fence: bool,
) -> Result<(), KafkaError> {
    let current = coord.txns.borrow().get(txn_id).cloned();
    let Some(old) = current else {
        return Err(KafkaError::InvalidProducerIdMapping);
    };
    let mut m = old.clone();
    if fence && m.epoch < i16::MAX - 1 {
        m.last_epoch = m.epoch;
        m.epoch += 1;
    }
    m.state = if commit {
        TxnState::PrepareCommit
    } else {
        TxnState::PrepareAbort
    };
    m.busy = true;
    m.update_ms = now_ms();
    coord
        .txns
        .borrow_mut()
        .insert(txn_id.to_string(), m.clone());
    if let Err(e) = store::persist(coord, &m).await {
        coord.txns.borrow_mut().insert(txn_id.to_string(), old);
        return Err(e);
    }
    resume(coord, txn_id).await;
    Ok(())
}

/// Writes the markers of a decided transaction and logs its completion. Leaves it decided (for
/// the sweep to retry) when a marker cannot be written.
pub async fn resume(coord: &Rc<Coordinator>, txn_id: &str) {
    let current = coord.txns.borrow().get(txn_id).cloned();
    let Some(mut m) = current else {
        return;
    };
    if !m.state.is_preparing() {
        return;
    }
    let commit = m.state == TxnState::PrepareCommit;
    set_busy(coord, txn_id, true);
    let parts: Vec<(String, i32)> = m.partitions.iter().cloned().collect();
    if !write_markers(coord, m.producer_id, m.epoch, commit, parts).await {
        tracing::warn!(txn_id, "transaction markers not all written; will retry");
        set_busy(coord, txn_id, false);
        return;
    }
    m.state = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    m.partitions.clear();
    m.update_ms = now_ms();
    m.busy = false;
    if let Err(e) = store::persist(coord, &m).await {
        tracing::warn!(
            txn_id,
            error = %e,
            "cannot log transaction completion; will retry"
        );
        set_busy(coord, txn_id, false);
        return;
    }
    coord.txns.borrow_mut().insert(txn_id.to_string(), m);
}

fn set_busy(coord: &Coordinator, txn_id: &str, busy: bool) {
    if let Some(m) = coord.txns.borrow_mut().get_mut(txn_id) {
        m.busy = busy;
    }
}

/// Writes a marker to every partition, retrying those whose owner cannot take it yet:
/// partitions of this broker go to their cores, the others to their leaders in the metadata
/// image (one WriteTxnMarkers request per broker). Partitions of deleted topics are skipped.
/// True once every marker is written (durable, and on every ISR member of a replicated partition).
async fn write_markers(
    coord: &Rc<Coordinator>,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    mut parts: Vec<(String, i32)>,
) -> bool {
    let deadline = Instant::now() + MARKER_ROUND;
    for attempt in 0..MARKER_ATTEMPTS {
        if attempt > 0 {
            if Instant::now() >= deadline {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
        let (by_owner, by_broker, mut retry) = route(coord, &parts);
        let local: Vec<_> = by_owner
            .into_iter()
            .map(|(owner, tps)| {
                let s = coord.clone();
                glommio::spawn_local(async move {
                    let call = WriteMarkersCall {
                        producer_id,
                        epoch,
                        commit,
                        parts: tps.clone(),
                    };
                    let written = match s.mesh.call(owner, call).await {
                        Ok(w) => w,
                        Err(_) => vec![Err(KafkaError::NotLeaderOrFollower); tps.len()],
                    };
                    tps.into_iter().zip(written).collect::<Vec<_>>()
                })
            })
            .collect();
        let remote: Vec<_> = by_broker
            .into_iter()
            .map(|(broker, ps)| {
                let s = coord.clone();
                glommio::spawn_local(async move {
                    let sent = remote_markers::send(&s, broker, producer_id, epoch, commit, &ps);
                    // The round's deadline first: once it fires the request is dropped (its
                    // connection with it) and the partitions wait for the next round.
                    let late = async {
                        let left = deadline.saturating_duration_since(Instant::now());
                        glommio::timer::sleep(left).await;
                        vec![Remote::Retry("round deadline".into()); ps.len()]
                    };
                    let outcome = futures_lite::future::or(late, sent).await;
                    ps.into_iter().zip(outcome).collect::<Vec<_>>()
                })
            })
            .collect();
        for t in local {
            for (tp, written) in t.await {
                // A deleted topic's partition needs no marker.
                if matches!(written, Err(e) if e != KafkaError::UnknownTopicOrPartition) {
                    retry.push((tp.topic.to_string(), tp.partition));
                }
            }
        }
        for t in remote {
            for (tp, outcome) in t.await {
                match outcome {
                    Remote::Written => {}
                    // Only a topic this broker's image no longer has needs no marker; a leader
                    // that has not applied the topic yet is asked again.
                    Remote::UnknownPartition
                        if coord.peers.state().leader_of(&tp.0, tp.1)
                            == PartitionLeader::UnknownTopic => {}
                    other => {
                        tracing::debug!(topic = %tp.0, partition = tp.1, ?other, "marker not written yet");
                        retry.push(tp);
                    }
                }
            }
        }
        if retry.is_empty() {
            return true;
        }
        parts = retry;
    }
    false
}

/// Local partitions by owning core, remote ones by leading broker, and those to retry later
/// (no leader in the image yet, or led here but not open yet). Partitions of topics the image
/// no longer has are left out: a deleted topic needs no marker.
#[allow(clippy::type_complexity)]
fn route(
    coord: &Coordinator,
    parts: &[(String, i32)],
) -> (
    BTreeMap<usize, Vec<TopicPartition>>,
    BTreeMap<i32, Vec<(String, i32)>>,
    Vec<(String, i32)>,
) {
    let me = coord.config().node_id;
    let state = coord.peers.state();
    let mut by_owner: BTreeMap<usize, Vec<TopicPartition>> = BTreeMap::new();
    let mut by_broker: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    let mut retry = Vec::new();
    for (topic, partition) in parts {
        if let Some(owner) = coord.topics.owner_of(topic, *partition) {
            by_owner.entry(owner).or_default().push(TopicPartition {
                topic: Arc::from(topic.as_str()),
                partition: *partition,
            });
            continue;
        }
        match state.leader_of(topic, *partition) {
            PartitionLeader::UnknownTopic => {}
            PartitionLeader::Broker(b) if b != me => {
                by_broker
                    .entry(b)
                    .or_default()
                    .push((topic.clone(), *partition));
            }
            _ => retry.push((topic.clone(), *partition)),
        }
    }
    (by_owner, by_broker, retry)
}

/// Writes commit or abort markers for a producer to partitions the receiving core owns;
/// answered per partition, in order.
#[derive(Debug)]
pub struct WriteMarkersCall {
    /// Producer whose transaction ends.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
    /// Commit (true) or abort.
    pub commit: bool,
    /// Partitions of the transaction on the receiver.
    pub parts: Vec<TopicPartition>,
}

impl CoreCall for WriteMarkersCall {
    type Reply = Vec<Result<(), KafkaError>>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Vec<Result<(), KafkaError>> {
        let c = self;
        write_local(coord, c.producer_id, c.epoch, c.commit, c.parts).await
    }
}

/// The owning core's side: appends a marker to each partition and waits until every ISR member has it.
/// Markers on `__consumer_offsets` also settle the producer's pending transactional offsets.
pub async fn write_local(
    coord: &Coordinator,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    parts: Vec<TopicPartition>,
) -> Vec<Result<(), KafkaError>> {
    let written = coord
        .topics
        .write_markers(producer_id, epoch, commit, &parts)
        .await;
    for (tp, w) in parts.iter().zip(&written) {
        if w.is_ok() && &*tp.topic == crate::group::OFFSETS_TOPIC {
            crate::group::txn_offsets::complete(&coord.groups, tp.partition, producer_id, commit);
        }
    }
    written
}
