//! KIP-320: the leader epoch a client sends with Fetch (v9+, `current_leader_epoch`) and
//! ListOffsets (v4+) is checked against the partition's current leader epoch, the one
//! Metadata reports: the image's when it has the partition under the topic id of the local
//! table, else 0 (a broker before its image has the topic, as Metadata then describes it). An older epoch answers
//! `FENCED_LEADER_EPOCH` (the client's metadata is stale: it refreshes it), a newer one
//! `UNKNOWN_LEADER_EPOCH` (this broker's metadata is behind: the client retries), `-1` skips
//! the check. The snapshot of the cluster is taken once per request, and only when some
//! partition carries an epoch.

use std::sync::Arc;

use uuid::Uuid;

use crate::cluster::membership::ClusterState;
use crate::cluster::TopicMeta;
use crate::errors::KafkaError;
use crate::shard::ClusterView;

/// The current leader epoch of a partition of topic `topic` (id `id` in the local table) in
/// `state`: the image's, or 0 (see the module comment).
pub fn current(state: &ClusterState, topic: &str, id: Uuid, partition: i32) -> i32 {
    state.leader_epoch(topic, id, partition)
}

/// The error for a client's epoch `sent` when the current one is `current`.
pub fn verdict(sent: i32, current: i32) -> Option<KafkaError> {
    match sent {
        s if s < 0 => None,
        s if s < current => Some(KafkaError::FencedLeaderEpoch),
        s if s > current => Some(KafkaError::UnknownLeaderEpoch),
        _ => None,
    }
}

/// One request's checks: the core's cluster snapshot, taken at the first epoch to check.
pub struct EpochCheck<'a> {
    view: &'a ClusterView,
    state: Option<Arc<ClusterState>>,
}

impl<'a> EpochCheck<'a> {
    /// Checks against `view`'s snapshot.
    pub fn new(view: &'a ClusterView) -> EpochCheck<'a> {
        EpochCheck { view, state: None }
    }

    /// The error for epoch `sent` of `partition` of `topic` (its table entry), if any.
    pub fn check(&mut self, topic: &TopicMeta, partition: i32, sent: i32) -> Option<KafkaError> {
        if sent < 0 {
            return None;
        }
        let state = self.state.get_or_insert_with(|| self.view.state());
        verdict(sent, current(state, &topic.name, topic.uuid(), partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_is_fenced_newer_unknown_minus_one_skipped() {
        assert_eq!(verdict(-1, 5), None);
        assert_eq!(verdict(5, 5), None);
        assert_eq!(verdict(4, 5), Some(KafkaError::FencedLeaderEpoch));
        assert_eq!(verdict(6, 5), Some(KafkaError::UnknownLeaderEpoch));
        // A partition the image does not have is at epoch 0, as Metadata reports it.
        let empty = ClusterState::default();
        assert_eq!(current(&empty, "t", Uuid::nil(), 0), 0);
        assert_eq!(verdict(0, current(&empty, "t", Uuid::nil(), 0)), None);
    }
}
