//! The classic protocol once members have joined: SyncGroup (the leader's assignment, stored
//! durably before members receive it), Heartbeat (session liveness and rebalance notice) and
//! LeaveGroup (one member, or a batch from v3). Join and rebalance transitions are in
//! [`super::classic`].

use std::rc::Rc;
use std::time::Instant;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::classic::{maybe_complete_join, prepare_rebalance, sync_error};
use super::state::{classic_mut, ClassicGroup, ClassicState};
use super::Coordinator;
use super::{partition_of, serving, store};
use crate::errors::{self, KafkaError};
use crate::shard::oneshot;

pub(super) enum SyncOutcome {
    Now(SyncGroupResponse),
    Wait(oneshot::Receiver<SyncGroupResponse>),
    Store(i32, super::records::GroupValue),
}

/// Handles SyncGroup.
pub async fn sync(coord: &Rc<Coordinator>, req: SyncGroupRequest) -> SyncGroupResponse {
    let group_id = req.group_id.0.to_string();
    let member_id = req.member_id.to_string();
    let partition = partition_of(coord, &group_id);
    if let Err(e) = serving(coord, partition) {
        return sync_error(e);
    }
    let outcome = {
        let mut groups = coord.groups.borrow_mut();
        let Some(c) = classic_mut(&mut groups, &group_id) else {
            return sync_error(KafkaError::UnknownMemberId);
        };
        sync_classic(c, &req, &member_id)
    };
    match outcome {
        SyncOutcome::Now(r) => r,
        SyncOutcome::Wait(rx) => {
            super::note_deadline(coord, &group_id);
            rx.await
                .unwrap_or_else(|| sync_error(KafkaError::RebalanceInProgress))
        }
        SyncOutcome::Store(generation, value) => {
            let key = super::records::OffsetsKey::Group {
                group: group_id.clone(),
            };
            let encoded = super::records::encode_group(&value);
            let stored = store::append(coord, partition, vec![(key, Some(encoded))]).await;
            let cfg = coord.config().groups.clone();
            let mut groups = coord.groups.borrow_mut();
            let Some(c) = classic_mut(&mut groups, &group_id) else {
                return sync_error(KafkaError::UnknownMemberId);
            };
            if c.generation != generation || c.state != ClassicState::CompletingRebalance {
                return sync_error(KafkaError::RebalanceInProgress);
            }
            if let Err(e) = stored {
                prepare_rebalance(c, &cfg);
                return sync_error(e);
            }
            c.transition(ClassicState::Stable);
            let protocol_type = c.protocol_type.clone().map(StrBytes::from_string);
            let protocol_name = c.protocol.clone().map(StrBytes::from_string);
            let mut own = SyncGroupResponse::default();
            for m in c.members.values_mut() {
                let mut r = SyncGroupResponse::default();
                r.protocol_type = protocol_type.clone();
                r.protocol_name = protocol_name.clone();
                r.assignment = m.assignment.clone();
                if m.id == member_id {
                    own = r;
                } else if let Some(w) = m.sync_waiter.take() {
                    w.send(r);
                }
            }
            own
        }
    }
}

pub(super) fn sync_classic(
    c: &mut ClassicGroup,
    req: &SyncGroupRequest,
    member_id: &str,
) -> SyncOutcome {
    let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
    if c.fenced(member_id, instance_id.as_deref()) {
        return SyncOutcome::Now(sync_error(KafkaError::FencedInstanceId));
    }
    if !c.members.contains_key(member_id) {
        return SyncOutcome::Now(sync_error(KafkaError::UnknownMemberId));
    }
    if req.generation_id != c.generation {
        return SyncOutcome::Now(sync_error(KafkaError::IllegalGeneration));
    }
    let type_ok = req
        .protocol_type
        .as_ref()
        .is_none_or(|t| c.protocol_type.as_deref() == Some(t.as_str()));
    let name_ok = req
        .protocol_name
        .as_ref()
        .is_none_or(|n| c.protocol.as_deref() == Some(n.as_str()));
    if !type_ok || !name_ok {
        return SyncOutcome::Now(sync_error(KafkaError::InconsistentGroupProtocol));
    }
    match c.state {
        ClassicState::Empty | ClassicState::Dead => {
            SyncOutcome::Now(sync_error(KafkaError::UnknownMemberId))
        }
        ClassicState::PreparingRebalance => {
            SyncOutcome::Now(sync_error(KafkaError::RebalanceInProgress))
        }
        ClassicState::Stable => {
            let mut r = SyncGroupResponse::default();
            r.protocol_type = c.protocol_type.clone().map(StrBytes::from_string);
            r.protocol_name = c.protocol.clone().map(StrBytes::from_string);
            if let Some(m) = c.members.get_mut(member_id) {
                m.last_seen = Instant::now();
                r.assignment = m.assignment.clone();
            }
            SyncOutcome::Now(r)
        }
        ClassicState::CompletingRebalance => {
            let is_leader = c.leader.as_deref() == Some(member_id);
            if !is_leader {
                let (tx, rx) = oneshot::channel();
                let Some(m) = c.members.get_mut(member_id) else {
                    return SyncOutcome::Now(sync_error(KafkaError::UnknownMemberId));
                };
                m.last_seen = Instant::now();
                m.sync_waiter = Some(tx);
                return SyncOutcome::Wait(rx);
            }
            for m in c.members.values_mut() {
                m.assignment = req
                    .assignments
                    .iter()
                    .find(|a| a.member_id.as_str() == m.id)
                    .map(|a| a.assignment.clone())
                    .unwrap_or_default();
            }
            if let Some(m) = c.members.get_mut(member_id) {
                m.last_seen = Instant::now();
            }
            SyncOutcome::Store(c.generation, store::group_value(c))
        }
    }
}

/// Handles Heartbeat.
pub fn heartbeat(coord: &Rc<Coordinator>, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut r = HeartbeatResponse::default();
    let group_id = req.group_id.0.to_string();
    if let Err(e) = serving(coord, partition_of(coord, &group_id)) {
        r.error_code = e.code();
        return r;
    }
    let member_id = req.member_id.to_string();
    let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
    let mut groups = coord.groups.borrow_mut();
    let Some(c) = classic_mut(&mut groups, &group_id) else {
        r.error_code = KafkaError::UnknownMemberId.code();
        return r;
    };
    let (state, generation) = (c.state, c.generation);
    let fenced = c.fenced(&member_id, instance_id.as_deref());
    let beat = match c.members.get_mut(&member_id) {
        _ if fenced => Err(KafkaError::FencedInstanceId),
        None => Err(KafkaError::UnknownMemberId),
        Some(_) if req.generation_id != generation => Err(KafkaError::IllegalGeneration),
        Some(m) => {
            m.last_seen = Instant::now();
            match state {
                ClassicState::PreparingRebalance => Err(KafkaError::RebalanceInProgress),
                ClassicState::CompletingRebalance | ClassicState::Stable => Ok(()),
                ClassicState::Empty | ClassicState::Dead => Err(KafkaError::UnknownMemberId),
            }
        }
    };
    r.error_code = errors::result_code(&beat);
    r
}

/// Handles LeaveGroup (one member before v3, a batch of members from v3).
pub fn leave(coord: &Rc<Coordinator>, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let mut resp = LeaveGroupResponse::default();
    let group_id = req.group_id.0.to_string();
    if let Err(e) = serving(coord, partition_of(coord, &group_id)) {
        resp.error_code = e.code();
        return resp;
    }
    let identities: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let cfg = coord.config().groups.clone();
    let mut persist = false;
    {
        let mut groups = coord.groups.borrow_mut();
        let Some(c) = classic_mut(&mut groups, &group_id) else {
            if version >= 3 {
                resp.members = identities
                    .into_iter()
                    .map(|(id, inst)| member_result(id, inst, Err(KafkaError::UnknownMemberId)))
                    .collect();
            } else {
                resp.error_code = KafkaError::UnknownMemberId.code();
            }
            return resp;
        };
        let mut removed = 0;
        let mut results = Vec::new();
        for (id, inst) in identities {
            let target = match (&inst, id.is_empty()) {
                (Some(i), true) => c.static_members.get(i).cloned(),
                _ => Some(id.clone()),
            };
            let left = match target {
                None => Err(KafkaError::UnknownMemberId),
                Some(t) if inst.is_some() && c.fenced(&t, inst.as_deref()) => {
                    Err(KafkaError::FencedInstanceId)
                }
                Some(t) => {
                    if c.pending.remove(&t).is_some() {
                        Ok(())
                    } else if c.remove_member(&t, KafkaError::UnknownMemberId).is_some() {
                        tracing::debug!(member = %t, "member left");
                        removed += 1;
                        Ok(())
                    } else {
                        Err(KafkaError::UnknownMemberId)
                    }
                }
            };
            results.push(member_result(id, inst, left));
        }
        if removed > 0 {
            match c.state {
                ClassicState::Stable | ClassicState::CompletingRebalance => {
                    prepare_rebalance(c, &cfg);
                    persist = c.state == ClassicState::Empty;
                }
                ClassicState::PreparingRebalance => {
                    if c.members.is_empty() {
                        c.initial_delay = None;
                    }
                    persist = maybe_complete_join(c);
                }
                _ => {}
            }
        } else if c.state == ClassicState::PreparingRebalance {
            persist = maybe_complete_join(c);
        }
        if version >= 3 {
            resp.members = results;
        } else {
            resp.error_code = results[0].error_code;
        }
    }
    if persist {
        store::persist_group_later(coord, &group_id);
    }
    resp
}

fn member_result(id: String, inst: Option<String>, left: Result<(), KafkaError>) -> MemberResponse {
    let mut m = MemberResponse::default();
    m.member_id = StrBytes::from_string(id);
    m.group_instance_id = inst.map(StrBytes::from_string);
    m.error_code = errors::result_code(&left);
    m
}
