//! The group coordinator follows the leadership of `__consumer_offsets` (Kafka's
//! `GroupCoordinator.onElection` / `onResignation`): when this broker becomes the leader of a
//! partition it holds (at startup, when the partition opens, or at a failover, at a new leader
//! epoch) the core replays the partition's records ([`super::store::load`]) before it serves
//! its groups (requests meanwhile: COORDINATOR_LOAD_IN_PROGRESS); when it stops leading it (or
//! the partition closes) the partition's groups are dropped, their waiting JoinGroup and
//! SyncGroup requests answered NOT_COORDINATOR, so nothing stale stays. Which partitions to
//! load or drop is [`crate::shard::coordinator_loads::Loads`]'s decision.

use std::rc::{Rc, Weak};

use super::state::GroupKind;
use super::{store, Coordinator, OFFSETS_TOPIC};
use crate::errors::KafkaError;
use crate::shard::coordinator_loads::LoadJob;

/// Loads and drops partitions as their leadership says: all of them, or only `only` (a
/// partition just opened). Loads are awaited.
pub async fn reconcile(coord: &Coordinator, only: Option<i32>) {
    let changes = coord.loads.reconcile(&coord.topics, OFFSETS_TOPIC, only);
    for partition in changes.unload {
        unload(coord, partition);
    }
    for job in changes.load {
        load(coord, job).await;
    }
}

/// What the partition store calls after each cluster snapshot or table change: reconciles
/// in a task of its own (the store's listeners do not wait).
pub fn on_replication_change(coord: &Rc<Coordinator>) -> Box<dyn Fn()> {
    let weak: Weak<Coordinator> = Rc::downgrade(coord);
    Box::new(move || {
        let Some(coord) = weak.upgrade() else {
            return;
        };
        glommio::spawn_local(async move { reconcile(&coord, None).await }).detach();
    })
}

/// Replays `job`'s partition: its groups are served once the replay is done (unless the
/// partition was dropped or reloaded meanwhile).
async fn load(coord: &Coordinator, job: LoadJob) {
    // Whatever an earlier leadership left (a write that finished after it was dropped).
    unload(coord, job.partition);
    store::load(coord, job.partition, job.generation, &job.log).await;
    if coord.loads.finish(job.partition, job.generation) {
        coord.timers.wake_now();
    }
}

/// Drops the groups of `partition`, answering their waiting requests NOT_COORDINATOR.
pub fn unload(coord: &Coordinator, partition: i32) {
    let dropped: Vec<super::Group> = {
        let mut groups = coord.groups.borrow_mut();
        let ids: Vec<String> = groups
            .iter()
            .filter(|(_, g)| g.partition == partition)
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter().filter_map(|id| groups.remove(id)).collect()
    };
    if dropped.is_empty() {
        return;
    }
    let count = dropped.len();
    for mut g in dropped {
        if let GroupKind::Classic(c) = &mut g.kind {
            let members: Vec<String> = c.members.keys().cloned().collect();
            for id in members {
                c.remove_member(&id, KafkaError::NotCoordinator);
            }
        }
    }
    tracing::info!(partition, groups = count, "unloaded consumer groups");
}
