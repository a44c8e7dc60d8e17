//! Leader elections, as Kafka's KRaft controller makes them (`ReplicationControlManager`
//! `electLeader`, `PartitionChangeBuilder`, and the ZooKeeper controller's
//! `checkAndTriggerAutoLeaderRebalance` for the imbalance ratio):
//!
//! - [`decide`]: one partition's ElectLeaders. PREFERRED makes the first replica leader when it
//!   is unfenced and in the ISR (ELECTION_NOT_NEEDED when it leads already,
//!   PREFERRED_LEADER_NOT_AVAILABLE otherwise). UNCLEAN is for a partition without a leader
//!   (ELECTION_NOT_NEEDED when it has one): an unfenced ISR member if there is one, else the
//!   first unfenced replica, which becomes the whole ISR (ELIGIBLE_LEADERS_NOT_AVAILABLE when no
//!   replica is unfenced).
//! - [`rebalance`]: the automatic preferred-leader rebalance (`auto.leader.rebalance.enable`):
//!   for every broker whose share of partitions it should lead but does not is above
//!   `leader.imbalance.per.broker.percentage`, a preferred election for each such partition
//!   whose preferred replica can lead; at most a given number per turn.
//! - [`leaderless_unclean`]: unclean elections for partitions without a leader whose topic
//!   allows them (`unclean.leader.election.enable`), Kafka's `maybeElectUncleanLeaders`.
//! - `MetadataImage::elect_leader`: how the image applies an [`ElectLeaderRecord`], with every
//!   check made again at apply time so that a stale election (decided on an older partition
//!   epoch) changes nothing.

use std::collections::BTreeMap;

use crate::image::{MetadataImage, PartitionImage, RejectReason, TopicImage};
use crate::records::{BrokerId, ElectLeaderRecord, NO_LEADER};

/// The topic config (and broker default) that allows unclean elections.
pub const UNCLEAN_CONFIG: &str = "unclean.leader.election.enable";

/// Why a partition gets no election (each is one Kafka error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionRefusal {
    /// No such topic or partition (UNKNOWN_TOPIC_OR_PARTITION).
    UnknownTopicOrPartition,
    /// The preferred replica leads already, or (unclean) the partition has a leader
    /// (ELECTION_NOT_NEEDED).
    NotNeeded,
    /// The preferred replica is fenced or out of the ISR (PREFERRED_LEADER_NOT_AVAILABLE).
    PreferredLeaderNotAvailable,
    /// No replica can lead (ELIGIBLE_LEADERS_NOT_AVAILABLE).
    EligibleLeadersNotAvailable,
}

fn alive(image: &MetadataImage, b: BrokerId) -> bool {
    image.broker(b).is_some_and(|r| !r.fenced)
}

fn record(
    topic: &TopicImage,
    partition: i32,
    p: &PartitionImage,
    leader: BrokerId,
    unclean: bool,
) -> ElectLeaderRecord {
    ElectLeaderRecord {
        topic_id: topic.topic_id,
        partition,
        partition_epoch: p.partition_epoch,
        leader,
        unclean,
    }
}

fn preferred(
    image: &MetadataImage,
    topic: &TopicImage,
    partition: i32,
    p: &PartitionImage,
) -> Result<ElectLeaderRecord, ElectionRefusal> {
    let first = *p
        .replicas
        .first()
        .ok_or(ElectionRefusal::PreferredLeaderNotAvailable)?;
    if p.leader == first {
        return Err(ElectionRefusal::NotNeeded);
    }
    if !p.isr.contains(&first) || !alive(image, first) {
        return Err(ElectionRefusal::PreferredLeaderNotAvailable);
    }
    Ok(record(topic, partition, p, first, false))
}

fn any_leader(
    image: &MetadataImage,
    topic: &TopicImage,
    partition: i32,
    p: &PartitionImage,
) -> Result<ElectLeaderRecord, ElectionRefusal> {
    if p.leader != NO_LEADER {
        return Err(ElectionRefusal::NotNeeded);
    }
    if let Some(b) = p.isr.iter().copied().find(|b| alive(image, *b)) {
        return Ok(record(topic, partition, p, b, false));
    }
    p.replicas
        .iter()
        .copied()
        .find(|b| alive(image, *b))
        .map(|b| record(topic, partition, p, b, true))
        .ok_or(ElectionRefusal::EligibleLeadersNotAvailable)
}

/// The election ElectLeaders asks for on partition `partition` of `topic` (see the module
/// comment): the record to propose, or why there is none.
pub fn decide(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    unclean: bool,
) -> Result<ElectLeaderRecord, ElectionRefusal> {
    let t = image
        .topic_by_name(topic)
        .ok_or(ElectionRefusal::UnknownTopicOrPartition)?;
    let p = usize::try_from(partition)
        .ok()
        .and_then(|i| t.partitions.get(i))
        .ok_or(ElectionRefusal::UnknownTopicOrPartition)?;
    if unclean {
        any_leader(image, t, partition, p)
    } else {
        preferred(image, t, partition, p)
    }
}

/// Whether `topic` allows unclean elections: its own config, else the cluster-wide broker
/// default set at run time, else `default` (the static broker setting).
pub fn unclean_allowed(image: &MetadataImage, topic: &TopicImage, default: bool) -> bool {
    let parse = |v: &String| v.trim().eq_ignore_ascii_case("true");
    topic
        .configs
        .get(UNCLEAN_CONFIG)
        .or_else(|| {
            image
                .broker_configs(None)
                .and_then(|c| c.get(UNCLEAN_CONFIG))
        })
        .map(parse)
        .unwrap_or(default)
}

/// The automatic preferred-leader rebalance (see the module comment): at most `max` preferred
/// elections, for the partitions of brokers whose imbalance ratio (partitions they are the
/// preferred replica of but do not lead, over partitions they are the preferred replica of) is
/// above `percentage` percent.
pub fn rebalance(image: &MetadataImage, percentage: u32, max: usize) -> Vec<ElectLeaderRecord> {
    // Per preferred broker: (partitions, of which not led by it).
    let mut counts: BTreeMap<BrokerId, (u64, u64)> = BTreeMap::new();
    for t in image.topics() {
        for p in &t.partitions {
            let Some(&first) = p.replicas.first() else {
                continue;
            };
            let c = counts.entry(first).or_default();
            c.0 += 1;
            c.1 += u64::from(p.leader != first);
        }
    }
    let over = |b: BrokerId| {
        counts
            .get(&b)
            .is_some_and(|(all, off)| *off * 100 > u64::from(percentage) * *all)
    };
    let mut out = Vec::new();
    for t in image.topics() {
        for (i, p) in t.partitions.iter().enumerate() {
            if out.len() >= max {
                return out;
            }
            if !p.replicas.first().is_some_and(|b| over(*b)) {
                continue;
            }
            if let Ok(r) = preferred(image, t, i as i32, p) {
                out.push(r);
            }
        }
    }
    out
}

/// Unclean elections for leaderless partitions whose topic allows them (`default`: the static
/// broker setting of `unclean.leader.election.enable`), at most `max`. A partition with an
/// unfenced ISR member is given it (a clean election) before any replica outside the ISR.
pub fn leaderless_unclean(
    image: &MetadataImage,
    default: bool,
    max: usize,
) -> Vec<ElectLeaderRecord> {
    let mut out = Vec::new();
    for t in image.topics() {
        if !t.partitions.iter().any(|p| p.leader == NO_LEADER)
            || !unclean_allowed(image, t, default)
        {
            continue;
        }
        for (i, p) in t.partitions.iter().enumerate() {
            if out.len() >= max {
                return out;
            }
            if let Ok(r) = any_leader(image, t, i as i32, p) {
                out.push(r);
            }
        }
    }
    out
}

/// Partitions of `image` without a leader (Kafka's `OfflinePartitionsCount`).
pub fn offline_partitions(image: &MetadataImage) -> usize {
    image
        .topics()
        .flat_map(|t| t.partitions.iter())
        .filter(|p| p.leader == NO_LEADER)
        .count()
}

/// Leader elections from `old` to `new`: how far the leader epochs of the partitions both
/// have rose (each leadership change bumps it by one).
pub fn elections_between(old: &MetadataImage, new: &MetadataImage) -> u64 {
    let mut n = 0u64;
    for t in new.topics() {
        let Some(before) = old.topic(&t.topic_id) else {
            continue;
        };
        for (p, q) in t.partitions.iter().zip(&before.partitions) {
            n += u64::try_from(p.leader_epoch.saturating_sub(q.leader_epoch)).unwrap_or(0);
        }
    }
    n
}

impl MetadataImage {
    /// Applies an [`ElectLeaderRecord`] (see the module comment and the record's).
    pub(crate) fn elect_leader(&mut self, r: &ElectLeaderRecord) -> Result<(), RejectReason> {
        let (name, current) = self.partition_to_change(&r.topic_id, r.partition)?;
        if r.partition_epoch != current.partition_epoch {
            return Err(RejectReason::InvalidUpdateVersion(name));
        }
        if r.leader == current.leader || (r.unclean && current.leader != NO_LEADER) {
            return Err(RejectReason::ElectionNotNeeded(name));
        }
        if !current.replicas.contains(&r.leader) || !alive(self, r.leader) {
            return Err(RejectReason::IneligibleReplica(format!(
                "broker {} is not an unfenced replica of {name}",
                r.leader
            )));
        }
        let mut p = current;
        if !p.isr.contains(&r.leader) {
            if !r.unclean {
                return Err(RejectReason::IneligibleReplica(format!(
                    "broker {} is not in the ISR of {name}",
                    r.leader
                )));
            }
            p.isr = vec![r.leader];
        }
        p.leader = r.leader;
        p.leader_epoch = p.leader_epoch.saturating_add(1);
        p.partition_epoch = p.partition_epoch.saturating_add(1);
        self.check_replicas(&p.replicas, &p.isr, p.leader)?;
        let topic = self.topic_mut(&r.topic_id)?;
        topic.partitions[r.partition as usize] = p;
        Ok(())
    }
}

#[cfg(test)]
#[path = "elect_tests.rs"]
mod tests;
