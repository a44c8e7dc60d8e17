//! The classic group protocol's joins and rebalances: Kafka's state machine (Empty,
//! PreparingRebalance, CompletingRebalance, Stable), generations, member ids required on first
//! join (KIP-394), static membership (KIP-345) and the fencing errors. SyncGroup, Heartbeat and
//! LeaveGroup are in [`super::session`].
//!
//! Group state is changed synchronously under the core's `RefCell`; requests that must wait
//! (a JoinGroup until the rebalance completes, a SyncGroup until the leader's assignment) park
//! on a oneshot that the state machine completes.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::state::{ClassicGroup, ClassicMember, ClassicState, Group, GroupKind, InitialDelay};
use super::Coordinator;
use super::{partition_of, serving, store};
use crate::config::GroupSettings;
use crate::errors::KafkaError;
use crate::shard::oneshot;

fn join_error(error: KafkaError, member_id: &str) -> JoinGroupResponse {
    let mut r = JoinGroupResponse::default();
    r.error_code = error.code();
    r.generation_id = -1;
    r.member_id = StrBytes::from_string(member_id.to_string());
    r
}

pub(super) fn sync_error(error: KafkaError) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default();
    r.error_code = error.code();
    r
}

enum JoinOutcome {
    Now(JoinGroupResponse),
    Wait(oneshot::Receiver<JoinGroupResponse>),
}

/// What a state change asks the caller to do once the borrow is released.
#[derive(Default)]
pub struct Effects {
    /// Store the group's metadata (a generation completed with no members, or a static member
    /// was replaced).
    pub persist: bool,
}

/// Handles JoinGroup.
pub async fn join(
    coord: &Rc<Coordinator>,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
) -> JoinGroupResponse {
    let cfg = coord.config().groups.clone();
    let group_id = req.group_id.0.to_string();
    if group_id.is_empty() {
        return join_error(KafkaError::InvalidGroupId, &req.member_id);
    }
    let partition = partition_of(coord, &group_id);
    if let Err(e) = serving(coord, partition) {
        return join_error(e, &req.member_id);
    }
    if req.session_timeout_ms < cfg.min_session_timeout_ms
        || req.session_timeout_ms > cfg.max_session_timeout_ms
    {
        return join_error(KafkaError::InvalidSessionTimeout, &req.member_id);
    }
    let mut effects = Effects::default();
    let outcome = {
        let mut groups = coord.groups.borrow_mut();
        let g = groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, partition));
        if matches!(g.kind, GroupKind::Consumer(_)) {
            if !g.is_empty() {
                return join_error(KafkaError::InconsistentGroupProtocol, &req.member_id);
            }
            g.kind = GroupKind::Classic(ClassicGroup::new());
        }
        let GroupKind::Classic(c) = &mut g.kind else {
            unreachable!("converted above")
        };
        let args = JoinArgs {
            req: &req,
            version,
            client_id,
            client_host,
        };
        join_classic(c, &cfg, args, &mut effects)
    };
    if effects.persist {
        store::persist_group_later(coord, &group_id);
    }
    match outcome {
        JoinOutcome::Now(r) => r,
        JoinOutcome::Wait(rx) => {
            super::note_deadline(coord, &group_id);
            rx.await
                .unwrap_or_else(|| join_error(KafkaError::RebalanceInProgress, &req.member_id))
        }
    }
}

struct JoinArgs<'a> {
    req: &'a JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
}

fn new_member_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn protocols_of(req: &JoinGroupRequest) -> Vec<(String, Bytes)> {
    req.protocols
        .iter()
        .map(|p| (p.name.to_string(), p.metadata.clone()))
        .collect()
}

/// Whether `protocols` share at least one protocol with every member except `except`.
fn compatible(c: &ClassicGroup, protocols: &[(String, Bytes)], except: Option<&str>) -> bool {
    protocols.iter().any(|(name, _)| {
        c.members
            .values()
            .filter(|m| Some(m.id.as_str()) != except)
            .all(|m| m.protocols.iter().any(|(n, _)| n == name))
    })
}

fn same_protocols(a: &[(String, Bytes)], b: &[(String, Bytes)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn join_classic(
    c: &mut ClassicGroup,
    cfg: &GroupSettings,
    a: JoinArgs,
    fx: &mut Effects,
) -> JoinOutcome {
    let req = a.req;
    let member_id = req.member_id.to_string();
    let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
    let protocols = protocols_of(req);
    let ptype = req.protocol_type.to_string();
    if c.state == ClassicState::Dead {
        return JoinOutcome::Now(join_error(KafkaError::CoordinatorNotAvailable, &member_id));
    }
    if protocols.is_empty() || ptype.is_empty() {
        return JoinOutcome::Now(join_error(
            KafkaError::InconsistentGroupProtocol,
            &member_id,
        ));
    }
    let known = c.members.contains_key(&member_id);
    let only_self = c.members.is_empty() || (known && c.members.len() == 1);
    if !only_self
        && (c.protocol_type.as_deref() != Some(ptype.as_str())
            || !compatible(c, &protocols, known.then_some(member_id.as_str())))
    {
        return JoinOutcome::Now(join_error(
            KafkaError::InconsistentGroupProtocol,
            &member_id,
        ));
    }
    let now = Instant::now();
    if member_id.is_empty() {
        if c.members.len() >= cfg.max_size {
            return JoinOutcome::Now(join_error(KafkaError::GroupMaxSizeReached, &member_id));
        }
        if let Some(inst) = &instance_id {
            if let Some(old) = c.static_members.get(inst).cloned() {
                return static_rejoin(c, cfg, &old, a, protocols, fx);
            }
            let id = new_member_id(inst);
            return add_member(c, cfg, id, a, protocols, ptype);
        }
        let id = new_member_id(&a.client_id);
        if a.version >= 4 {
            let deadline = now + Duration::from_millis(req.session_timeout_ms.max(0) as u64);
            c.pending.insert(id.clone(), deadline);
            return JoinOutcome::Now(join_error(KafkaError::MemberIdRequired, &id));
        }
        return add_member(c, cfg, id, a, protocols, ptype);
    }
    if c.fenced(&member_id, instance_id.as_deref()) {
        return JoinOutcome::Now(join_error(KafkaError::FencedInstanceId, &member_id));
    }
    if c.pending.remove(&member_id).is_some() {
        return add_member(c, cfg, member_id, a, protocols, ptype);
    }
    if !known {
        return JoinOutcome::Now(join_error(KafkaError::UnknownMemberId, &member_id));
    }
    rejoin(c, cfg, &member_id, a, protocols)
}

fn add_member(
    c: &mut ClassicGroup,
    cfg: &GroupSettings,
    id: String,
    a: JoinArgs,
    protocols: Vec<(String, Bytes)>,
    ptype: String,
) -> JoinOutcome {
    let (tx, rx) = oneshot::channel();
    let instance_id = a.req.group_instance_id.as_ref().map(|s| s.to_string());
    if let Some(i) = &instance_id {
        c.static_members.insert(i.clone(), id.clone());
    }
    if c.members.is_empty() {
        c.protocol_type = Some(ptype);
    }
    c.join_order.push(id.clone());
    c.members.insert(
        id.clone(),
        ClassicMember {
            id: id.clone(),
            instance_id,
            client_id: a.client_id,
            client_host: a.client_host,
            session_timeout_ms: a.req.session_timeout_ms,
            rebalance_timeout_ms: if a.version == 0 {
                a.req.session_timeout_ms
            } else {
                a.req.rebalance_timeout_ms
            },
            protocols,
            assignment: Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            last_seen: Instant::now(),
        },
    );
    tracing::debug!(member = %id, "member joined");
    match c.state {
        ClassicState::PreparingRebalance => {
            extend_initial_delay(c, cfg);
            maybe_complete_join(c);
        }
        _ => prepare_rebalance(c, cfg),
    }
    JoinOutcome::Wait(rx)
}

fn rejoin(
    c: &mut ClassicGroup,
    cfg: &GroupSettings,
    member_id: &str,
    a: JoinArgs,
    protocols: Vec<(String, Bytes)>,
) -> JoinOutcome {
    let is_leader = c.leader.as_deref() == Some(member_id);
    let state = c.state;
    let Some(m) = c.members.get_mut(member_id) else {
        return JoinOutcome::Now(join_error(KafkaError::UnknownMemberId, member_id));
    };
    m.last_seen = Instant::now();
    m.session_timeout_ms = a.req.session_timeout_ms;
    if a.version > 0 {
        m.rebalance_timeout_ms = a.req.rebalance_timeout_ms;
    }
    let unchanged = same_protocols(&m.protocols, &protocols);
    match state {
        ClassicState::PreparingRebalance => {
            let (tx, rx) = oneshot::channel();
            m.protocols = protocols;
            m.join_waiter = Some(tx);
            maybe_complete_join(c);
            JoinOutcome::Wait(rx)
        }
        ClassicState::CompletingRebalance | ClassicState::Stable
            if unchanged && !(state == ClassicState::Stable && is_leader) =>
        {
            JoinOutcome::Now(current_join_response(c, member_id, false))
        }
        ClassicState::CompletingRebalance | ClassicState::Stable => {
            let (tx, rx) = oneshot::channel();
            m.protocols = protocols;
            m.join_waiter = Some(tx);
            prepare_rebalance(c, cfg);
            JoinOutcome::Wait(rx)
        }
        ClassicState::Empty | ClassicState::Dead => {
            JoinOutcome::Now(join_error(KafkaError::UnknownMemberId, member_id))
        }
    }
}

/// A static member came back with no member id: it takes over its old member's place under a
/// new id. A stable group with unchanged protocols does not rebalance (KIP-345).
fn static_rejoin(
    c: &mut ClassicGroup,
    cfg: &GroupSettings,
    old: &str,
    a: JoinArgs,
    protocols: Vec<(String, Bytes)>,
    fx: &mut Effects,
) -> JoinOutcome {
    let inst = a.req.group_instance_id.as_ref().map(|s| s.to_string());
    let new_id = new_member_id(inst.as_deref().unwrap_or("static"));
    let was_leader = c.leader.as_deref() == Some(old);
    let pos = c.join_order.iter().position(|id| id == old);
    let Some(old_member) = c.remove_member(old, KafkaError::FencedInstanceId) else {
        return JoinOutcome::Now(join_error(KafkaError::UnknownMemberId, ""));
    };
    let unchanged = same_protocols(&old_member.protocols, &protocols);
    let (tx, rx) = oneshot::channel();
    let mut m = ClassicMember {
        id: new_id.clone(),
        instance_id: inst.clone(),
        client_id: a.client_id,
        client_host: a.client_host,
        session_timeout_ms: a.req.session_timeout_ms,
        rebalance_timeout_ms: a.req.rebalance_timeout_ms,
        protocols,
        assignment: old_member.assignment,
        join_waiter: None,
        sync_waiter: None,
        last_seen: Instant::now(),
    };
    if let Some(i) = inst {
        c.static_members.insert(i, new_id.clone());
    }
    match pos {
        Some(p) => c.join_order.insert(p, new_id.clone()),
        None => c.join_order.push(new_id.clone()),
    }
    if was_leader {
        c.leader = Some(new_id.clone());
    }
    tracing::info!(old = %old, new = %new_id, "static member replaced");
    if c.state == ClassicState::Stable && unchanged {
        c.members.insert(new_id.clone(), m);
        fx.persist = true;
        return JoinOutcome::Now(current_join_response(c, &new_id, a.version >= 9));
    }
    m.join_waiter = Some(tx);
    c.members.insert(new_id, m);
    if c.state == ClassicState::PreparingRebalance {
        maybe_complete_join(c);
    } else {
        prepare_rebalance(c, cfg);
    }
    JoinOutcome::Wait(rx)
}

/// The join answer of the current generation for `member_id` (members listed for the leader).
fn current_join_response(
    c: &ClassicGroup,
    member_id: &str,
    skip_assignment: bool,
) -> JoinGroupResponse {
    let protocol = c.protocol.clone().unwrap_or_default();
    let mut r = JoinGroupResponse::default();
    r.generation_id = c.generation;
    r.protocol_type = c.protocol_type.clone().map(StrBytes::from_string);
    r.protocol_name = Some(StrBytes::from_string(protocol.clone()));
    r.leader = StrBytes::from_string(c.leader.clone().unwrap_or_default());
    r.member_id = StrBytes::from_string(member_id.to_string());
    if c.leader.as_deref() == Some(member_id) {
        r.skip_assignment = skip_assignment;
        r.members = c
            .join_order
            .iter()
            .filter_map(|id| c.members.get(id))
            .map(|m| {
                let mut jm = JoinGroupResponseMember::default();
                jm.member_id = StrBytes::from_string(m.id.clone());
                jm.group_instance_id = m.instance_id.clone().map(StrBytes::from_string);
                jm.metadata = m.metadata(&protocol);
                jm
            })
            .collect();
    }
    r
}

/// Starts a rebalance: every member must rejoin before the deadline.
pub fn prepare_rebalance(c: &mut ClassicGroup, cfg: &GroupSettings) {
    if c.state == ClassicState::CompletingRebalance {
        for m in c.members.values_mut() {
            m.assignment = Bytes::new();
            if let Some(w) = m.sync_waiter.take() {
                w.send(sync_error(KafkaError::RebalanceInProgress));
            }
        }
    }
    let was_empty = c.state == ClassicState::Empty;
    c.transition(ClassicState::PreparingRebalance);
    let now = Instant::now();
    let timeout = Duration::from_millis(c.max_rebalance_timeout_ms());
    c.rebalance_deadline = Some(now + timeout);
    let delay = Duration::from_millis(cfg.initial_rebalance_delay_ms);
    if was_empty && !delay.is_zero() {
        c.initial_delay = Some(InitialDelay {
            until: now + delay.min(timeout),
            limit: now + timeout,
        });
    }
    maybe_complete_join(c);
}

fn extend_initial_delay(c: &mut ClassicGroup, cfg: &GroupSettings) {
    if let Some(d) = &mut c.initial_delay {
        let next = Instant::now() + Duration::from_millis(cfg.initial_rebalance_delay_ms);
        d.until = next.min(d.limit);
    }
}

/// Completes the join phase if every member (and every member id handed out) has joined.
pub fn maybe_complete_join(c: &mut ClassicGroup) -> bool {
    if c.state != ClassicState::PreparingRebalance || c.initial_delay.is_some() {
        return false;
    }
    let all = c.members.values().all(|m| m.join_waiter.is_some()) && c.pending.is_empty();
    if all {
        complete_join(c)
    } else {
        false
    }
}

fn select_protocol(c: &ClassicGroup) -> Option<String> {
    let first = c.members.values().next()?;
    let candidates: Vec<&String> = first
        .protocols
        .iter()
        .map(|(n, _)| n)
        .filter(|n| {
            c.members
                .values()
                .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
        })
        .collect();
    let mut best: Option<(&String, usize)> = None;
    for cand in &candidates {
        let votes = c
            .members
            .values()
            .filter(|m| {
                m.protocols
                    .iter()
                    .find(|(n, _)| candidates.contains(&n))
                    .map(|(n, _)| n)
                    == Some(*cand)
            })
            .count();
        if best.is_none_or(|(_, v)| votes > v) {
            best = Some((cand, votes));
        }
    }
    best.map(|(n, _)| n.clone())
}

/// Ends the join phase: members that did not rejoin are removed, the generation advances and
/// every joined member gets its answer. Returns true when the group became empty (its metadata
/// should be stored).
pub fn complete_join(c: &mut ClassicGroup) -> bool {
    let absent: Vec<String> = c
        .members
        .values()
        .filter(|m| m.join_waiter.is_none())
        .map(|m| m.id.clone())
        .collect();
    for id in absent {
        tracing::info!(member = %id, "member did not rejoin in time; removed");
        c.remove_member(&id, KafkaError::UnknownMemberId);
    }
    c.pending.clear();
    c.rebalance_deadline = None;
    c.initial_delay = None;
    c.generation += 1;
    if c.members.is_empty() {
        c.protocol = None;
        c.leader = None;
        c.transition(ClassicState::Empty);
        return true;
    }
    c.protocol = select_protocol(c);
    if c.leader.as_ref().is_none_or(|l| !c.members.contains_key(l)) {
        c.leader = c.join_order.first().cloned();
    }
    c.transition(ClassicState::CompletingRebalance);
    let now = Instant::now();
    let ids: Vec<String> = c.join_order.clone();
    for id in ids {
        let resp = current_join_response(c, &id, false);
        if let Some(m) = c.members.get_mut(&id) {
            m.last_seen = now;
            if let Some(w) = m.join_waiter.take() {
                w.send(resp);
            }
        }
    }
    tracing::info!(
        generation = c.generation,
        members = c.members.len(),
        protocol = c.protocol.as_deref().unwrap_or(""),
        "group rebalanced"
    );
    false
}

#[cfg(test)]
#[path = "classic_tests.rs"]
mod tests;
