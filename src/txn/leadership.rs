//! The transaction coordinator follows the leadership of `__transaction_state` (Kafka's
//! `TransactionStateManager.loadTransactionsForTxnTopicPartition` /
//! `removeTransactionsForTxnTopicPartition`): when this broker becomes the leader of a
//! partition it holds (at startup, or at a failover, at a new leader epoch) the core replays
//! the partition ([`super::store::load`]) before it serves its transactional ids (requests
//! meanwhile: COORDINATOR_LOAD_IN_PROGRESS), then finishes the transactions it finds decided
//! but unfinished (PrepareCommit / PrepareAbort: the markers are written again, as Kafka does
//! on load); an Ongoing transaction stays open for its producer to end, or for the timeout to
//! abort. When this broker stops leading the partition its transactional ids are dropped.

use std::rc::{Rc, Weak};

use super::{markers, store, Coordinator, TXN_TOPIC};
use crate::shard::coordinator_loads::LoadJob;

/// Loads and drops partitions as their leadership says: all of them, or only `only` (a
/// partition just opened). Loads are awaited; returns the partitions loaded.
pub async fn reconcile(coord: &Coordinator, only: Option<i32>) -> Vec<i32> {
    let changes = coord.loads.reconcile(&coord.topics, TXN_TOPIC, only);
    for partition in changes.unload {
        unload(coord, partition);
    }
    let mut loaded = Vec::new();
    for job in changes.load {
        let partition = job.partition;
        if load(coord, job).await {
            loaded.push(partition);
        }
    }
    loaded
}

/// What the partition store calls after each cluster snapshot or table change: reconciles
/// in a task of its own, then finishes the decided transactions of the partitions loaded.
/// (At startup, partitions loaded when they open are finished by the sweep's first pass.)
pub fn on_replication_change(coord: &Rc<Coordinator>) -> Box<dyn Fn()> {
    let weak: Weak<Coordinator> = Rc::downgrade(coord);
    Box::new(move || {
        let Some(coord) = weak.upgrade() else {
            return;
        };
        glommio::spawn_local(async move {
            let loaded = reconcile(&coord, None).await;
            if !loaded.is_empty() {
                finish_decided(&coord, &loaded);
            }
        })
        .detach();
    })
}

/// Writes again the markers of the decided transactions of `partitions`.
fn finish_decided(coord: &Rc<Coordinator>, partitions: &[i32]) {
    let ids: Vec<String> = coord
        .txns
        .borrow()
        .iter()
        .filter(|(_, m)| partitions.contains(&m.partition) && m.state.is_preparing() && !m.busy)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        tracing::info!(txn_id = %id, "finishing a decided transaction after loading it");
        let s = coord.clone();
        glommio::spawn_local(async move { markers::resume(&s, &id).await }).detach();
    }
}

/// Replays `job`'s partition; true when it is served from now on.
async fn load(coord: &Coordinator, job: LoadJob) -> bool {
    // Whatever an earlier leadership left (a write that finished after it was dropped).
    unload(coord, job.partition);
    store::load(coord, job.partition, job.generation, &job.log).await;
    coord.loads.finish(job.partition, job.generation)
}

/// Drops the transactional ids of `partition`. A write in flight for one of them fails
/// (the partition is no longer led here) and is answered NOT_COORDINATOR.
pub fn unload(coord: &Coordinator, partition: i32) {
    let mut txns = coord.txns.borrow_mut();
    let before = txns.len();
    txns.retain(|_, m| m.partition != partition);
    let dropped = before - txns.len();
    if dropped > 0 {
        tracing::info!(
            partition,
            transactions = dropped,
            "unloaded transaction state"
        );
    }
}
