//! The KIP-848 consumer group protocol (`group.protocol=consumer`): members heartbeat with
//! their subscription and owned partitions; the coordinator computes a target assignment with a
//! server-side assignor and moves each member towards it. A partition is given to its new owner
//! only after the previous owner has reported it revoked, so no partition is ever owned twice.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;

use super::assignor::{self, MemberSpec, TopicInfo};
use super::state::{now_ms, Group, GroupKind};
use super::Coordinator;
use super::{partition_of, serving};
use crate::cluster::TopicTable;
use crate::config::GroupSettings;
use crate::errors::KafkaError;

/// Partitions by topic name.
pub type Owned = BTreeMap<String, BTreeSet<i32>>;

/// One member of a KIP-848 group.
#[derive(Debug)]
pub struct ConsumerMember {
    /// Member id (client-generated from v1, broker-generated when empty).
    pub id: String,
    /// group.instance.id of a static member.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Member epoch; -2 while a static member is temporarily away.
    pub epoch: i32,
    /// Subscribed topic names.
    pub subscribed: BTreeSet<String>,
    /// Requested server-side assignor.
    pub assignor: Option<String>,
    /// Rebalance timeout: how long the member may take to revoke partitions.
    pub rebalance_timeout_ms: i32,
    /// Partitions the member owns now (including ones it is asked to revoke).
    pub assigned: Owned,
    /// Deadline of a revocation in progress.
    pub revoke_deadline: Option<Instant>,
    /// Last heartbeat.
    pub last_seen: Instant,
    /// Assignment last sent to the member.
    pub sent: Option<Owned>,
}

/// A KIP-848 consumer group.
#[derive(Debug, Default)]
pub struct ConsumerGroup {
    /// Group epoch: bumped by every membership or subscription change.
    pub epoch: i32,
    /// Epoch of the target assignment.
    pub assignment_epoch: i32,
    /// Members by id.
    pub members: BTreeMap<String, ConsumerMember>,
    /// Target assignment by member id.
    pub target: BTreeMap<String, Owned>,
    /// Assignor used for the target.
    pub assignor: String,
    /// Subscribed topics and partition counts the target was computed for.
    pub fingerprint: Vec<(String, i32)>,
    /// When the group last changed state, ms since the epoch.
    pub state_since_ms: i64,
}

impl ConsumerGroup {
    /// State as ListGroups and ConsumerGroupDescribe report it.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.assignment_epoch || m.revoke_deadline.is_some())
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect()
    }

    fn fingerprint_of(&self, table: &TopicTable) -> Vec<(String, i32)> {
        self.subscribed_topics()
            .into_iter()
            .filter_map(|t| table.get(&t).map(|m| (t, m.partitions.len() as i32)))
            .collect()
    }

    /// Bumps the group epoch and recomputes the target assignment.
    pub fn rebalance(&mut self, table: &TopicTable, cfg: &GroupSettings) {
        self.epoch += 1;
        self.state_since_ms = now_ms();
        self.assignor = self
            .members
            .values()
            .find_map(|m| m.assignor.clone())
            .or_else(|| cfg.consumer_assignors.first().cloned())
            .unwrap_or_else(|| "uniform".into());
        let specs: Vec<MemberSpec> = self
            .members
            .values()
            .map(|m| MemberSpec {
                id: m.id.clone(),
                subscribed: m.subscribed.clone(),
                previous: self.target.get(&m.id).cloned().unwrap_or_default(),
            })
            .collect();
        let fp = self.fingerprint_of(table);
        let topics: BTreeMap<String, TopicInfo> = fp
            .iter()
            .map(|(n, p)| {
                (
                    n.clone(),
                    TopicInfo {
                        name: n.clone(),
                        partitions: *p,
                    },
                )
            })
            .collect();
        self.target = assignor::assign(&self.assignor, &specs, &topics);
        self.assignment_epoch = self.epoch;
        self.fingerprint = fp;
        tracing::info!(
            epoch = self.epoch,
            members = self.members.len(),
            assignor = %self.assignor,
            "consumer group target assignment computed"
        );
    }

    /// Removes a member (left, expired or fenced); the others get a new target.
    pub fn remove(&mut self, id: &str, table: &TopicTable, cfg: &GroupSettings) {
        if self.members.remove(id).is_some() {
            self.target.remove(id);
            self.rebalance(table, cfg);
        }
    }

    /// Partitions owned by members other than `except`.
    fn owned_by_others(&self, except: &str) -> BTreeSet<(String, i32)> {
        self.members
            .values()
            .filter(|m| m.id != except)
            .flat_map(|m| {
                m.assigned
                    .iter()
                    .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            })
            .collect()
    }

    /// Moves member `id` towards its target; `reported` is what the member says it owns (when
    /// it says). Returns the assignment to send, when it changed.
    fn reconcile(&mut self, id: &str, reported: Option<Owned>, now: Instant) -> Option<Owned> {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let others = self.owned_by_others(id);
        let assignment_epoch = self.assignment_epoch;
        let m = self.members.get_mut(id)?;
        let revoking: Owned = diff(&m.assigned, &target);
        let mut keep = m.assigned.clone();
        if !revoking.is_empty() {
            let done = reported
                .as_ref()
                .is_some_and(|r| intersect(r, &revoking).is_empty());
            if done {
                keep = diff(&m.assigned, &revoking);
                m.assigned = keep.clone();
                m.revoke_deadline = None;
            } else {
                if m.revoke_deadline.is_none() {
                    let timeout = Duration::from_millis(m.rebalance_timeout_ms.max(0) as u64);
                    m.revoke_deadline = Some(now + timeout);
                }
                let ask = diff(&m.assigned, &revoking);
                return changed(m, ask, reported.as_ref());
            }
        }
        // Nothing left to revoke: take the target partitions nobody else still owns.
        for (t, ps) in &target {
            for p in ps {
                if !others.contains(&(t.clone(), *p)) {
                    keep.entry(t.clone()).or_default().insert(*p);
                }
            }
        }
        keep.retain(|_, ps| !ps.is_empty());
        m.assigned = keep.clone();
        m.epoch = assignment_epoch;
        changed(m, keep, reported.as_ref())
    }
}

fn changed(m: &mut ConsumerMember, a: Owned, reported: Option<&Owned>) -> Option<Owned> {
    let differs_from_client = reported.is_some_and(|r| normalize(r) != a);
    if m.sent.as_ref() != Some(&a) || differs_from_client {
        m.sent = Some(a.clone());
        Some(a)
    } else {
        None
    }
}

fn normalize(o: &Owned) -> Owned {
    o.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| (t.clone(), ps.clone()))
        .collect()
}

fn diff(a: &Owned, b: &Owned) -> Owned {
    let mut out = Owned::new();
    for (t, ps) in a {
        let rest: BTreeSet<i32> = match b.get(t) {
            Some(bs) => ps.difference(bs).copied().collect(),
            None => ps.clone(),
        };
        if !rest.is_empty() {
            out.insert(t.clone(), rest);
        }
    }
    out
}

fn intersect(a: &Owned, b: &Owned) -> Owned {
    let mut out = Owned::new();
    for (t, ps) in a {
        if let Some(bs) = b.get(t) {
            let both: BTreeSet<i32> = ps.intersection(bs).copied().collect();
            if !both.is_empty() {
                out.insert(t.clone(), both);
            }
        }
    }
    out
}

fn error(error: KafkaError, message: &str) -> ConsumerGroupHeartbeatResponse {
    let mut r = ConsumerGroupHeartbeatResponse::default();
    r.error_code = error.code();
    r.error_message = Some(StrBytes::from_string(message.to_string()));
    r
}

/// Handles ConsumerGroupHeartbeat.
pub fn heartbeat(
    coord: &Rc<Coordinator>,
    req: ConsumerGroupHeartbeatRequest,
    _version: i16,
    client_id: String,
    client_host: String,
) -> ConsumerGroupHeartbeatResponse {
    let group_id = req.group_id.0.to_string();
    // The broker's settings with this group's own configs (KIP-848 group configs) applied.
    let cfg = {
        let c = coord.config();
        c.groups.for_group(c.dynamic.group(&group_id))
    };
    if group_id.is_empty() {
        return error(KafkaError::InvalidRequest, "GroupId can't be empty.");
    }
    let partition = partition_of(coord, &group_id);
    if let Err(e) = serving(coord, partition) {
        return error(e, "Not the coordinator of this group.");
    }
    tracing::trace!(?req, "ConsumerGroupHeartbeat");
    if req
        .subscribed_topic_regex
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        return error(
            KafkaError::InvalidRequest,
            "Regular expression subscriptions are not supported by this broker.",
        );
    }
    if req.member_epoch == 0 && req.subscribed_topic_names.is_none() {
        return error(
            KafkaError::InvalidRequest,
            "SubscribedTopicNames must be set when joining.",
        );
    }
    if let Some(a) = &req.server_assignor {
        if !cfg.consumer_assignors.iter().any(|x| x == a.as_str()) {
            return error(
                KafkaError::UnsupportedAssignor,
                "Unsupported server assignor.",
            );
        }
    }
    let table = coord.topics.topic_table();
    let now = Instant::now();
    let mut groups = coord.groups.borrow_mut();
    let g = groups
        .entry(group_id.clone())
        .or_insert_with(|| Group::new(&group_id, partition));
    if matches!(g.kind, GroupKind::Classic(_)) {
        if !g.is_empty() {
            return error(KafkaError::GroupIdNotFound, "The group is a classic group.");
        }
        g.kind = GroupKind::Consumer(ConsumerGroup::default());
    }
    let GroupKind::Consumer(cg) = &mut g.kind else {
        unreachable!("converted above")
    };
    let mut member_id = req.member_id.to_string();
    let instance_id = req.instance_id.as_ref().map(|s| s.to_string());
    // Leaving: -1 for good, -2 for a static member that will come back.
    if req.member_epoch < 0 {
        if req.member_epoch == -2 && instance_id.is_some() {
            if let Some(m) = cg.members.get_mut(&member_id) {
                m.epoch = -2;
                m.last_seen = now;
            }
        } else {
            cg.remove(&member_id, &table, &cfg);
        }
        let mut r = ConsumerGroupHeartbeatResponse::default();
        r.member_id = Some(StrBytes::from_string(member_id));
        r.member_epoch = req.member_epoch;
        return r;
    }
    let mut need_rebalance = false;
    if req.member_epoch == 0 {
        if member_id.is_empty() {
            member_id = uuid::Uuid::new_v4().to_string();
        }
        // A static member coming back takes over its previous incarnation's partitions.
        let previous = instance_id.as_ref().and_then(|i| {
            cg.members
                .values()
                .find(|m| m.instance_id.as_ref() == Some(i) && m.id != member_id)
                .map(|m| (m.id.clone(), m.epoch))
        });
        let mut inherited = None;
        if let Some((old, old_epoch)) = previous {
            if old_epoch != -2 {
                return error(
                    KafkaError::UnreleasedInstanceId,
                    "The instance id is still in use by another member.",
                );
            }
            if let Some(m) = cg.members.remove(&old) {
                let t = cg.target.remove(&old).unwrap_or_default();
                cg.target.insert(member_id.clone(), t);
                inherited = Some(m.assigned);
            }
        }
        let existing = cg.members.remove(&member_id);
        let rejoin = existing.is_some();
        cg.members.insert(
            member_id.clone(),
            ConsumerMember {
                id: member_id.clone(),
                instance_id: instance_id.clone(),
                rack_id: req.rack_id.as_ref().map(|s| s.to_string()),
                client_id,
                client_host,
                epoch: 0,
                subscribed: BTreeSet::new(),
                assignor: None,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                assigned: inherited.clone().unwrap_or_default(),
                revoke_deadline: None,
                last_seen: now,
                sent: None,
            },
        );
        need_rebalance = inherited.is_none() || rejoin;
    } else {
        let Some(m) = cg.members.get(&member_id) else {
            return error(KafkaError::UnknownMemberId, "Unknown member id.");
        };
        if m.epoch != req.member_epoch {
            return error(KafkaError::FencedMemberEpoch, "The member epoch is fenced.");
        }
    }
    let Some(m) = cg.members.get_mut(&member_id) else {
        return error(KafkaError::UnknownMemberId, "Unknown member id.");
    };
    m.last_seen = now;
    if req.rebalance_timeout_ms > 0 {
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(names) = &req.subscribed_topic_names {
        let subs: BTreeSet<String> = names.iter().map(|n| n.0.to_string()).collect();
        if subs != m.subscribed {
            m.subscribed = subs;
            need_rebalance = true;
        }
    }
    if let Some(a) = &req.server_assignor {
        if m.assignor.as_deref() != Some(a.as_str()) {
            m.assignor = Some(a.to_string());
            need_rebalance = true;
        }
    }
    if need_rebalance || cg.fingerprint != cg.fingerprint_of(&table) {
        cg.rebalance(&table, &cfg);
    }
    let reported = req.topic_partitions.as_ref().map(|tps| {
        let mut o = Owned::new();
        for tp in tps {
            if let Some(t) = table.by_id(tp.topic_id) {
                o.entry(t.name.clone())
                    .or_default()
                    .extend(tp.partitions.iter().copied());
            }
        }
        o
    });
    let send = cg.reconcile(&member_id, reported, now);
    let m = &cg.members[&member_id];
    let mut r = ConsumerGroupHeartbeatResponse::default();
    r.member_id = Some(StrBytes::from_string(member_id.clone()));
    r.member_epoch = m.epoch;
    r.heartbeat_interval_ms = cfg.consumer_heartbeat_interval_ms;
    r.assignment = send.map(|a| {
        let mut asg = Assignment::default();
        asg.topic_partitions = a
            .into_iter()
            .filter_map(|(t, ps)| {
                let meta = table.get(&t)?;
                let mut tp = TopicPartitions::default();
                tp.topic_id = meta.uuid();
                tp.partitions = ps.into_iter().collect();
                Some(tp)
            })
            .collect();
        asg
    });
    r
}

/// Expires members whose session ended or who did not revoke in time. Returns true when the
/// group changed.
pub fn tick(cg: &mut ConsumerGroup, now: Instant, table: &TopicTable, cfg: &GroupSettings) -> bool {
    let session = Duration::from_millis(cfg.consumer_session_timeout_ms.max(0) as u64);
    let gone: Vec<String> = cg
        .members
        .values()
        .filter(|m| {
            now.duration_since(m.last_seen) > session || m.revoke_deadline.is_some_and(|d| now > d)
        })
        .map(|m| m.id.clone())
        .collect();
    for id in &gone {
        tracing::info!(member = %id, "consumer group member expired or fenced");
        cg.remove(id, table, cfg);
    }
    !gone.is_empty()
}
