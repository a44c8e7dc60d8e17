//! Committed offsets: OffsetCommit (validated against the group's generation or member epoch,
//! written to `__consumer_offsets` and synced before the answer), OffsetFetch and OffsetDelete.

use std::collections::BTreeSet;
use std::rc::Rc;

use bytes::Bytes;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};

use super::records::{self, OffsetValue, OffsetsKey};
use super::state::{now_ms, ClassicState, Group, GroupKind};
use super::Coordinator;
use super::{partition_of, serving, store};
use crate::errors::{self, KafkaError};

/// Checks a commit's member and generation (classic) or member epoch (KIP-848) against the
/// group. `None` means the group does not exist.
pub(super) fn validate_commit(
    g: Option<&mut Group>,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
    version: i16,
) -> Result<(), KafkaError> {
    let Some(g) = g else {
        return if generation < 0 {
            Ok(())
        } else {
            Err(KafkaError::IllegalGeneration)
        };
    };
    match &mut g.kind {
        GroupKind::Classic(c) => {
            if generation < 0 && member_id.is_empty() && c.state == ClassicState::Empty {
                return Ok(());
            }
            if c.state == ClassicState::Dead {
                return Err(KafkaError::CoordinatorNotAvailable);
            }
            if c.fenced(member_id, instance_id) {
                return Err(KafkaError::FencedInstanceId);
            }
            let Some(m) = c.members.get_mut(member_id) else {
                return Err(KafkaError::UnknownMemberId);
            };
            if generation != c.generation {
                return Err(KafkaError::IllegalGeneration);
            }
            if c.state == ClassicState::CompletingRebalance {
                return Err(KafkaError::RebalanceInProgress);
            }
            m.last_seen = std::time::Instant::now();
            Ok(())
        }
        GroupKind::Consumer(cg) => {
            if generation < 0 && member_id.is_empty() {
                return Ok(());
            }
            let Some(m) = cg.members.get(member_id) else {
                return Err(KafkaError::UnknownMemberId);
            };
            if generation != m.epoch {
                return if version >= 9 {
                    Err(KafkaError::StaleMemberEpoch)
                } else {
                    Err(KafkaError::IllegalGeneration)
                };
            }
            Ok(())
        }
    }
}

/// Handles OffsetCommit.
pub async fn commit(
    coord: &Rc<Coordinator>,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = req.group_id.0.to_string();
    let partition = partition_of(coord, &group_id);
    let max_meta = coord.config().groups.offset_metadata_max_bytes;
    let group_check = if group_id.is_empty() {
        Err(KafkaError::InvalidGroupId)
    } else if let Err(e) = serving(coord, partition) {
        Err(e)
    } else {
        let mut groups = coord.groups.borrow_mut();
        validate_commit(
            groups.get_mut(&group_id),
            req.generation_id_or_member_epoch,
            &req.member_id,
            req.group_instance_id.as_deref(),
            version,
        )
    };
    let table = coord.topics.topic_table();
    let now = now_ms();
    // Per topic: (partition index, outcome).
    let mut results: Vec<Vec<(i32, Result<(), KafkaError>)>> = Vec::with_capacity(req.topics.len());
    let mut entries: Vec<(OffsetsKey, Option<Bytes>)> = Vec::new();
    let mut values: Vec<((String, i32), OffsetValue)> = Vec::new();
    for t in &req.topics {
        let name = t.name.0.to_string();
        let meta = table.get(&name);
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let meta_len = p.committed_metadata.as_ref().map_or(0, |m| m.len());
            let checked = if group_check.is_err() {
                group_check
            } else if meta.is_none_or(|m| {
                p.partition_index < 0 || p.partition_index as usize >= m.partitions.len()
            }) {
                Err(KafkaError::UnknownTopicOrPartition)
            } else if meta_len > max_meta {
                Err(KafkaError::OffsetMetadataTooLarge)
            } else {
                let v = OffsetValue {
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_deref().unwrap_or("").to_string(),
                    commit_timestamp: now,
                };
                entries.push((
                    OffsetsKey::Offset {
                        group: group_id.clone(),
                        topic: name.clone(),
                        partition: p.partition_index,
                    },
                    Some(records::encode_offset(&v)),
                ));
                values.push(((name.clone(), p.partition_index), v));
                Ok(())
            };
            parts.push((p.partition_index, checked));
        }
        results.push(parts);
    }
    let stored = store::append(coord, partition, entries).await;
    if stored.is_ok() && !values.is_empty() && coord.loads.is_loaded(partition) {
        let mut groups = coord.groups.borrow_mut();
        let g = groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, partition));
        for (k, v) in values {
            g.offsets.insert(k, v);
        }
    }
    let mut resp = OffsetCommitResponse::default();
    resp.topics = req
        .topics
        .iter()
        .zip(results)
        .map(|(t, parts)| {
            let mut rt = OffsetCommitResponseTopic::default();
            rt.name = t.name.clone();
            rt.partitions = parts
                .into_iter()
                .map(|(idx, checked)| {
                    let mut rp = OffsetCommitResponsePartition::default();
                    rp.partition_index = idx;
                    rp.error_code = errors::result_code(&checked.and(stored));
                    rp
                })
                .collect();
            rt
        })
        .collect();
    resp
}

/// One group's OffsetFetch.
#[derive(Debug, Clone)]
pub struct FetchQuery {
    /// Group id.
    pub group: String,
    /// Topics and partitions; `None` for every committed offset of the group.
    pub topics: Option<Vec<(String, Vec<i32>)>>,
    /// KIP-848 member id and epoch (v9), checked when given.
    pub member: Option<(String, i32)>,
    /// require_stable (v7+): partitions with offsets pending in an open transaction answer
    /// UNSTABLE_OFFSET_COMMIT.
    pub require_stable: bool,
}

/// One partition's committed offset (-1 and empty metadata when none).
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    /// Partition number.
    pub partition: i32,
    /// Committed offset, -1 when none.
    pub offset: i64,
    /// Leader epoch of the commit, -1 when none.
    pub leader_epoch: i32,
    /// Metadata as committed.
    pub metadata: String,
    /// Per-partition error.
    pub error: Option<KafkaError>,
}

/// The answer to a [`FetchQuery`].
#[derive(Debug, Clone, Default)]
pub struct FetchedOffsets {
    /// Group-level error.
    pub error: Option<KafkaError>,
    /// Offsets by topic, in request order (or topic order for "all").
    pub topics: Vec<(String, Vec<FetchedPartition>)>,
}

/// Handles OffsetFetch for one group.
pub fn fetch(coord: &Rc<Coordinator>, q: FetchQuery) -> FetchedOffsets {
    let mut out = FetchedOffsets::default();
    if let Err(e) = serving(coord, partition_of(coord, &q.group)) {
        out.error = Some(e);
        return out;
    }
    let groups = coord.groups.borrow();
    let g = groups.get(&q.group);
    if let (
        Some((member, epoch)),
        Some(Group {
            kind: GroupKind::Consumer(cg),
            ..
        }),
    ) = (&q.member, g)
    {
        match cg.members.get(member) {
            None => {
                out.error = Some(KafkaError::UnknownMemberId);
                return out;
            }
            Some(m) if m.epoch != *epoch => {
                out.error = Some(KafkaError::StaleMemberEpoch);
                return out;
            }
            _ => {}
        }
    }
    let lookup = |topic: &str, p: i32| -> FetchedPartition {
        let key = (topic.to_string(), p);
        let unstable = q.require_stable
            && g.is_some_and(|g| g.pending_txn.values().any(|m| m.contains_key(&key)));
        if unstable {
            return FetchedPartition {
                partition: p,
                offset: -1,
                leader_epoch: -1,
                metadata: String::new(),
                error: Some(KafkaError::UnstableOffsetCommit),
            };
        }
        match g.and_then(|g| g.offsets.get(&key)) {
            Some(v) => FetchedPartition {
                partition: p,
                offset: v.offset,
                leader_epoch: v.leader_epoch,
                metadata: v.metadata.clone(),
                error: None,
            },
            None => FetchedPartition {
                partition: p,
                offset: -1,
                leader_epoch: -1,
                metadata: String::new(),
                error: None,
            },
        }
    };
    match q.topics {
        Some(topics) => {
            for (t, parts) in topics {
                let ps = parts.iter().map(|&p| lookup(&t, p)).collect();
                out.topics.push((t, ps));
            }
        }
        None => {
            if let Some(g) = g {
                for ((t, p), _) in g.offsets.iter() {
                    let fp = lookup(t, *p);
                    match out.topics.last_mut() {
                        Some((lt, parts)) if lt == t => parts.push(fp),
                        _ => out.topics.push((t.clone(), vec![fp])),
                    }
                }
            }
        }
    }
    out
}

/// Topics the group's active members subscribe to (parsed from classic "consumer" protocol
/// subscriptions, or KIP-848 subscriptions).
fn subscribed_topics(g: &Group) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match &g.kind {
        GroupKind::Classic(c) => {
            if c.protocol_type.as_deref() != Some("consumer") || c.state == ClassicState::Empty {
                return out;
            }
            let protocol = c.protocol.clone().unwrap_or_default();
            for m in c.members.values() {
                out.extend(super::assignor::subscription_topics(&m.metadata(&protocol)));
            }
        }
        GroupKind::Consumer(cg) => {
            for m in cg.members.values() {
                out.extend(m.subscribed.iter().cloned());
            }
        }
    }
    out
}

/// Handles OffsetDelete.
pub async fn delete(coord: &Rc<Coordinator>, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let group_id = req.group_id.0.to_string();
    let partition = partition_of(coord, &group_id);
    if let Err(e) = serving(coord, partition) {
        resp.error_code = e.code();
        return resp;
    }
    let mut entries = Vec::new();
    let mut keys = Vec::new();
    let topics = {
        let groups = coord.groups.borrow();
        let Some(g) = groups.get(&group_id) else {
            resp.error_code = KafkaError::GroupIdNotFound.code();
            return resp;
        };
        let subscribed = subscribed_topics(g);
        req.topics
            .iter()
            .map(|t| {
                let name = t.name.0.to_string();
                let mut rt = OffsetDeleteResponseTopic::default();
                rt.name = t.name.clone();
                rt.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut rp = OffsetDeleteResponsePartition::default();
                        rp.partition_index = p.partition_index;
                        if subscribed.contains(&name) {
                            rp.error_code = KafkaError::GroupSubscribedToTopic.code();
                        } else {
                            let key = (name.clone(), p.partition_index);
                            if g.offsets.contains_key(&key) {
                                entries.push((
                                    OffsetsKey::Offset {
                                        group: group_id.clone(),
                                        topic: name.clone(),
                                        partition: p.partition_index,
                                    },
                                    None,
                                ));
                                keys.push(key);
                            }
                        }
                        rp
                    })
                    .collect();
                rt
            })
            .collect()
    };
    if let Err(e) = store::append(coord, partition, entries).await {
        resp.error_code = e.code();
        return resp;
    }
    if let Some(g) = coord.groups.borrow_mut().get_mut(&group_id) {
        for k in keys {
            g.offsets.remove(&k);
        }
    }
    resp.topics = topics;
    resp
}
