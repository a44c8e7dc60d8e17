//! Partition reassignments as the image applies them (Kafka's KRaft controller:
//! `ReplicationControlManager.alterPartitionReassignment`, `PartitionReassignmentReplicas`,
//! `PartitionReassignmentRevert` and `PartitionChangeBuilder.completeReassignmentIfNeeded`;
//! KIP-455, KIP-860).
//!
//! - **Start.** A [`ReassignPartitionRecord`] with a target: the target must be a non-empty
//!   list of distinct registered brokers (INVALID_REPLICA_ASSIGNMENT) and, without
//!   `allow_replication_factor_change`, as long as the partition's replica list before any
//!   reassignment in progress (INVALID_REPLICATION_FACTOR). The replicas become the target
//!   followed by the current replicas not in it (`removing`); `adding` is the target's
//!   brokers that were not replicas. The new replicas' brokers open the log and fetch from the
//!   leader, whose ISR expansion brings them in sync.
//! - **Completion.** Whenever the partition changes (this record, an AlterPartition, a
//!   PartitionChange), the reassignment completes once the ISR without `removing` is not
//!   empty and holds every remaining replica: the replicas become the target, the removed
//!   replicas leave the ISR, and the reassignment is over. A target that only drops or
//!   reorders in-sync replicas completes at once.
//! - **Cancel.** A record without a target reverts a reassignment in progress
//!   (NO_REASSIGNMENT_IN_PROGRESS when there is none): the replicas being added leave the
//!   replica list and the ISR. When that would leave no in-sync replica, the revert needs the
//!   topic's `unclean.leader.election.enable` (then the first original replica is the ISR);
//!   otherwise it is refused (INVALID_REPLICA_ASSIGNMENT), as Kafka refuses it.
//! - **Leader.** The current leader stays while it is in the new ISR and unfenced; otherwise
//!   the first replica (target order) in the ISR and unfenced leads, or none. The leader
//!   epoch is bumped when the leader changes or a replica leaves (Kafka bumps it so that the
//!   removed replicas are fenced); the partition epoch on every change.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::image::{MetadataImage, PartitionImage, Reassignment, RejectReason};
use crate::records::{BrokerId, ReassignPartitionRecord, NO_LEADER};

/// The topic config that allows a revert to elect a replica outside the ISR.
const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

/// The replicas and ISR a reassignment in progress completes with, if it can complete now.
fn completed(p: &PartitionImage, ra: &Reassignment) -> Option<(Vec<BrokerId>, Vec<BrokerId>)> {
    if ra.adding.is_empty() && ra.removing.is_empty() {
        return None;
    }
    let keep = |b: &&BrokerId| !ra.removing.contains(b);
    let isr: Vec<BrokerId> = p.isr.iter().filter(keep).copied().collect();
    let replicas: Vec<BrokerId> = p.replicas.iter().filter(keep).copied().collect();
    if isr.is_empty() || replicas.is_empty() || !replicas.iter().all(|b| isr.contains(b)) {
        return None;
    }
    Some((replicas, isr))
}

impl MetadataImage {
    /// Applies `r` (see the module comment).
    pub(crate) fn reassign(&mut self, r: &ReassignPartitionRecord) -> Result<(), RejectReason> {
        let (topic, current) = self.partition_of(&r.topic_id, r.partition)?;
        let key = (r.topic_id, r.partition);
        let ongoing = self.reassignment(&r.topic_id, r.partition).cloned();
        let mut p = current.clone();
        let mut next = None;
        match &r.target {
            None => {
                let Some(ra) = ongoing else {
                    return Err(RejectReason::NoReassignmentInProgress(format!(
                        "{topic}-{}",
                        r.partition
                    )));
                };
                let original = |b: &&BrokerId| !ra.adding.contains(b);
                p.replicas = current.replicas.iter().filter(original).copied().collect();
                p.isr = current.isr.iter().filter(original).copied().collect();
                if p.isr.is_empty() {
                    let unclean = self
                        .topic(&r.topic_id)
                        .and_then(|t| t.configs.get(UNCLEAN_LEADER_ELECTION))
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                    if !unclean {
                        return Err(RejectReason::InvalidReplicaAssignment(format!(
                            "Unable to revert partition assignment for {topic}:{} because it \
                             would require an unclean leader election.",
                            r.partition
                        )));
                    }
                    p.isr = p.replicas.first().copied().into_iter().collect();
                }
            }
            Some(target) => {
                self.check_target(target)?;
                if !r.allow_replication_factor_change {
                    let adding = ongoing.as_ref().map(|ra| &ra.adding[..]).unwrap_or(&[]);
                    let rf = current
                        .replicas
                        .iter()
                        .filter(|b| !adding.contains(b))
                        .count();
                    if rf != target.len() {
                        return Err(RejectReason::InvalidReplicationFactor(format!(
                            "The replication factor is changed from {rf} to {}",
                            target.len()
                        )));
                    }
                }
                let removing: BTreeSet<BrokerId> = current
                    .replicas
                    .iter()
                    .filter(|b| !target.contains(b))
                    .copied()
                    .collect();
                let adding: BTreeSet<BrokerId> = target
                    .iter()
                    .filter(|b| !current.replicas.contains(b))
                    .copied()
                    .collect();
                p.replicas = target.iter().chain(removing.iter()).copied().collect();
                let ra = Reassignment {
                    adding: adding.into_iter().collect(),
                    removing: removing.into_iter().collect(),
                };
                match completed(&p, &ra) {
                    Some((replicas, isr)) => {
                        p.replicas = replicas;
                        p.isr = isr;
                    }
                    None if ra.adding.is_empty() && ra.removing.is_empty() => {}
                    None => next = Some(ra),
                }
            }
        }
        match next {
            Some(ra) => self.reassignments_mut().insert(key, ra),
            None => self.reassignments_mut().remove(&key),
        };
        self.install(&r.topic_id, r.partition, &current, p)
    }

    /// Completes the reassignment in progress of the partition, when its ISR now allows it
    /// (see the module comment).
    pub(crate) fn complete_reassignment_if_needed(
        &mut self,
        topic_id: &Uuid,
        partition: i32,
    ) -> Result<(), RejectReason> {
        let Some(ra) = self.reassignment(topic_id, partition).cloned() else {
            return Ok(());
        };
        let (_, current) = self.partition_of(topic_id, partition)?;
        let Some((replicas, isr)) = completed(&current, &ra) else {
            return Ok(());
        };
        self.reassignments_mut().remove(&(*topic_id, partition));
        let mut p = current.clone();
        p.replicas = replicas;
        p.isr = isr;
        self.install(topic_id, partition, &current, p)
    }

    /// The topic's name and a copy of the partition.
    fn partition_of(
        &self,
        topic_id: &Uuid,
        partition: i32,
    ) -> Result<(String, PartitionImage), RejectReason> {
        let topic = self
            .topic(topic_id)
            .ok_or_else(|| RejectReason::UnknownTopic(topic_id.to_string()))?;
        let p = topic
            .partitions
            .get(usize::try_from(partition).unwrap_or(usize::MAX))
            .ok_or_else(|| RejectReason::UnknownPartition(format!("{}-{partition}", topic.name)))?;
        Ok((topic.name.clone(), p.clone()))
    }

    /// Kafka's `validateManualPartitionAssignment`: not empty, registered, distinct.
    fn check_target(&self, target: &[BrokerId]) -> Result<(), RejectReason> {
        let bad = |m: String| Err(RejectReason::InvalidReplicaAssignment(m));
        if target.is_empty() {
            return bad("The manual partition assignment includes an empty replica list.".into());
        }
        for (i, b) in target.iter().enumerate() {
            if self.broker(*b).is_none() {
                return bad(format!(
                    "The manual partition assignment includes broker {b}, but no such broker \
                     is registered."
                ));
            }
            if target[..i].contains(b) {
                return bad(format!(
                    "The manual partition assignment includes the broker {b} more than once."
                ));
            }
        }
        Ok(())
    }

    /// Installs `p` (replicas and ISR changed from `before`) with its leader elected and its
    /// epochs bumped (see the module comment); nothing when nothing changed.
    fn install(
        &mut self,
        topic_id: &Uuid,
        partition: i32,
        before: &PartitionImage,
        mut p: PartitionImage,
    ) -> Result<(), RejectReason> {
        let eligible =
            |b: BrokerId| p.isr.contains(&b) && self.broker(b).is_some_and(|r| !r.fenced);
        p.leader = if eligible(before.leader) {
            before.leader
        } else {
            p.replicas
                .iter()
                .copied()
                .find(|b| eligible(*b))
                .unwrap_or(NO_LEADER)
        };
        if p == *before {
            return Ok(());
        }
        let removed = before.replicas.iter().any(|b| !p.replicas.contains(b));
        if p.leader != before.leader || removed {
            p.leader_epoch = p.leader_epoch.saturating_add(1);
        }
        p.partition_epoch = p.partition_epoch.saturating_add(1);
        self.check_replicas(&p.replicas, &p.isr, p.leader)?;
        let topic = self.topic_mut(topic_id)?;
        topic.partitions[partition as usize] = p;
        Ok(())
    }
}

#[cfg(test)]
#[path = "reassign_tests.rs"]
mod tests;
