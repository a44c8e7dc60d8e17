//! Durability of groups: records appended to `__consumer_offsets` (and synced before the
//! request that made them is answered), and the replay of those records when a core opens a
//! partition of the topic at startup.

use std::rc::Rc;

use bytes::Bytes;

use super::records::{self, GroupValue, MemberValue, OffsetsKey, OffsetsValue};
use super::state::{ClassicGroup, ClassicMember, ClassicState, Group, GroupKind};
use super::Coordinator;
use super::OFFSETS_TOPIC;
use crate::errors::KafkaError;
use crate::shard::internal;
use crate::storage::PartitionLog;

/// How long a write of group records waits for the ISR (Kafka's `offsets.commit.timeout.ms`
/// default): REQUEST_TIMED_OUT after it, answered COORDINATOR_NOT_AVAILABLE.
pub const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Appends `entries` (key, value or tombstone) to partition `partition` of `__consumer_offsets`
/// as one batch and waits until the ISR has it (acks=all; on one replica: durable here).
/// Errors are for the client, mapped as Kafka's group coordinator maps them.
pub async fn append(
    coord: &Coordinator,
    partition: i32,
    entries: Vec<(OffsetsKey, Option<Bytes>)>,
) -> Result<(), KafkaError> {
    let entries = entries
        .into_iter()
        .map(|(k, v)| (records::encode_key(&k), v))
        .collect();
    coord
        .topics
        .append(OFFSETS_TOPIC, partition, entries, None, COMMIT_TIMEOUT)
        .await
        .map_err(|e| e.coordinator_error())
}

/// The stored form of a classic group's current generation.
pub fn group_value(c: &ClassicGroup) -> GroupValue {
    let protocol = c.protocol.clone().unwrap_or_default();
    GroupValue {
        protocol_type: c.protocol_type.clone().unwrap_or_default(),
        generation: c.generation,
        protocol: c.protocol.clone(),
        leader: c.leader.clone(),
        state_timestamp: c.state_since_ms,
        members: c
            .join_order
            .iter()
            .filter_map(|id| c.members.get(id))
            .map(|m| MemberValue {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout: m.rebalance_timeout_ms,
                session_timeout: m.session_timeout_ms,
                subscription: m.metadata(&protocol),
                assignment: m.assignment.clone(),
            })
            .collect(),
    }
}

/// Writes the current state of classic group `group` in the background (used where Kafka
/// stores group metadata without making the client wait: static member replacement, a group
/// becoming empty).
pub fn persist_group_later(coord: &Rc<Coordinator>, group: &str) {
    let entry = {
        let groups = coord.groups.borrow();
        match groups.get(group) {
            Some(Group {
                kind: GroupKind::Classic(c),
                partition,
                ..
            }) => Some((*partition, records::encode_group(&group_value(c)))),
            _ => None,
        }
    };
    let Some((partition, value)) = entry else {
        return;
    };
    let key = OffsetsKey::Group {
        group: group.to_string(),
    };
    let s = coord.clone();
    glommio::spawn_local(async move {
        let _ = append(&s, partition, vec![(key, Some(value))]).await;
    })
    .detach();
}

/// Replays partition `partition` of `__consumer_offsets` into this core's groups, as load
/// `generation` of it ([`super::leadership`]): once that load is no longer current (the
/// partition dropped or reloaded meanwhile) nothing more is applied.
pub async fn load(coord: &Coordinator, partition: i32, generation: u64, log: &PartitionLog) {
    let started = std::time::Instant::now();
    let records_seen = internal::replay(log, OFFSETS_TOPIC, |r| {
        if !coord.loads.is_current(partition, generation) {
            return;
        }
        if r.control {
            // A transaction marker settles the producer's pending offsets.
            let commit = r.key.as_ref().is_some_and(|k| k.len() >= 4 && k[3] == 1);
            super::txn_offsets::complete(coord, partition, r.producer_id, commit);
            return;
        }
        let Some(k) = r.key.and_then(records::decode_key) else {
            return;
        };
        if r.transactional {
            stash_pending(coord, partition, r.producer_id, k, r.value);
        } else {
            apply(coord, partition, k, r.value);
        }
    })
    .await;
    let groups = coord
        .groups
        .borrow()
        .values()
        .filter(|g| g.partition == partition)
        .count();
    if records_seen > 0 {
        tracing::info!(
            partition,
            records = records_seen,
            groups,
            ms = started.elapsed().as_millis() as u64,
            "loaded consumer groups"
        );
        // Loaded groups bring their own deadlines.
        coord.timers.wake_now();
    }
}

/// A replayed transactional offset commit: pending until its marker is replayed.
fn stash_pending(
    coord: &Coordinator,
    partition: i32,
    producer_id: i64,
    key: OffsetsKey,
    value: Option<Bytes>,
) {
    let gid = key.group().to_string();
    let decoded = value.and_then(|v| records::decode_value(&key, v));
    if let (
        OffsetsKey::Offset {
            topic,
            partition: p,
            ..
        },
        Some(OffsetsValue::Offset(v)),
    ) = (key, decoded)
    {
        coord
            .groups
            .borrow_mut()
            .entry(gid.clone())
            .or_insert_with(|| Group::new(&gid, partition))
            .pending_txn
            .entry(producer_id)
            .or_default()
            .insert((topic, p), v);
    }
}

fn apply(coord: &Coordinator, partition: i32, key: OffsetsKey, value: Option<Bytes>) {
    let mut groups = coord.groups.borrow_mut();
    let gid = key.group().to_string();
    let decoded = value.and_then(|v| records::decode_value(&key, v));
    match (key, decoded) {
        (
            OffsetsKey::Offset {
                topic,
                partition: p,
                ..
            },
            Some(OffsetsValue::Offset(v)),
        ) => {
            groups
                .entry(gid.clone())
                .or_insert_with(|| Group::new(&gid, partition))
                .offsets
                .insert((topic, p), v);
        }
        (
            OffsetsKey::Offset {
                topic,
                partition: p,
                ..
            },
            None,
        ) => {
            if let Some(g) = groups.get_mut(&gid) {
                g.offsets.remove(&(topic, p));
            }
        }
        (OffsetsKey::Group { .. }, Some(OffsetsValue::Group(v))) => {
            let g = groups
                .entry(gid.clone())
                .or_insert_with(|| Group::new(&gid, partition));
            g.kind = GroupKind::Classic(restore_classic(v));
        }
        (OffsetsKey::Group { .. }, None) => {
            groups.remove(&gid);
        }
        _ => {}
    }
}

/// A classic group as stored: members are given a fresh session to reconnect in.
fn restore_classic(v: GroupValue) -> ClassicGroup {
    let mut c = ClassicGroup::new();
    c.generation = v.generation;
    c.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
    c.protocol = v.protocol.clone();
    c.leader = v.leader;
    c.state_since_ms = v.state_timestamp;
    let now = std::time::Instant::now();
    let protocol = v.protocol.unwrap_or_default();
    for m in v.members {
        if let Some(i) = &m.instance_id {
            c.static_members.insert(i.clone(), m.member_id.clone());
        }
        c.join_order.push(m.member_id.clone());
        c.members.insert(
            m.member_id.clone(),
            ClassicMember {
                id: m.member_id,
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout,
                rebalance_timeout_ms: m.rebalance_timeout,
                protocols: vec![(protocol.clone(), m.subscription)],
                assignment: m.assignment,
                join_waiter: None,
                sync_waiter: None,
                last_seen: now,
            },
        );
    }
    c.state = if c.members.is_empty() {
        ClassicState::Empty
    } else {
        ClassicState::Stable
    };
    c
}
