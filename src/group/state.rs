//! In-memory state of the groups one core coordinates: members, generations, committed offsets.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};

use super::consumer::ConsumerGroup;
use super::records::OffsetValue;
use crate::errors::KafkaError;
use crate::shard::oneshot;

/// Classic protocol group states, named as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicState {
    /// No members; only offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Deleted.
    Dead,
}

impl ClassicState {
    /// The name ListGroups and DescribeGroups report.
    pub fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
            ClassicState::Dead => "Dead",
        }
    }
}

/// One member of a classic group.
#[derive(Debug)]
pub struct ClassicMember {
    /// Member id given by the broker.
    pub id: String,
    /// group.instance.id of a static member.
    pub instance_id: Option<String>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// session.timeout.ms.
    pub session_timeout_ms: i32,
    /// Rebalance timeout (max.poll.interval.ms for Java consumers).
    pub rebalance_timeout_ms: i32,
    /// Protocols (assignor name, subscription metadata), in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Assignment from the leader for the current generation.
    pub assignment: Bytes,
    /// The JoinGroup waiting for the rebalance to complete.
    pub join_waiter: Option<oneshot::Sender<JoinGroupResponse>>,
    /// The SyncGroup waiting for the leader's assignment.
    pub sync_waiter: Option<oneshot::Sender<SyncGroupResponse>>,
    /// Last sign of life (heartbeat, join, sync, commit).
    pub last_seen: Instant,
}

impl ClassicMember {
    /// Metadata of `protocol` for this member.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Whether the session has expired at `now` (a member awaiting its join never expires).
    pub fn expired(&self, now: Instant) -> bool {
        self.join_waiter.is_none()
            && now.duration_since(self.last_seen).as_millis() as i64
                > self.session_timeout_ms as i64
    }
}

/// The first rebalance of an empty group waits for more members (initial rebalance delay).
#[derive(Debug, Clone, Copy)]
pub struct InitialDelay {
    /// When the join completes unless extended.
    pub until: Instant,
    /// Latest it may be extended to (the rebalance timeout).
    pub limit: Instant,
}

/// A group using the classic protocol (JoinGroup/SyncGroup/Heartbeat).
#[derive(Debug)]
pub struct ClassicGroup {
    /// State.
    pub state: ClassicState,
    /// When the state last changed, ms since the epoch.
    pub state_since_ms: i64,
    /// Generation, bumped by every completed join.
    pub generation: i32,
    /// Protocol type of the members ("consumer", "connect", ...); None for offsets-only groups.
    pub protocol_type: Option<String>,
    /// Chosen protocol of the current generation.
    pub protocol: Option<String>,
    /// Leader of the current generation.
    pub leader: Option<String>,
    /// Members by id, in join order.
    pub members: BTreeMap<String, ClassicMember>,
    /// Order members joined in (leader candidates first).
    pub join_order: Vec<String>,
    /// Static members: instance id to member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their deadline (KIP-394).
    pub pending: HashMap<String, Instant>,
    /// Deadline of the rebalance in progress.
    pub rebalance_deadline: Option<Instant>,
    /// Initial delay of the first rebalance, while it lasts.
    pub initial_delay: Option<InitialDelay>,
}

impl ClassicGroup {
    /// A group with no members.
    pub fn new() -> ClassicGroup {
        ClassicGroup {
            state: ClassicState::Empty,
            state_since_ms: now_ms(),
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            join_order: Vec::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            rebalance_deadline: None,
            initial_delay: None,
        }
    }

    /// Moves to `state`, remembering when.
    pub fn transition(&mut self, state: ClassicState) {
        self.state = state;
        self.state_since_ms = now_ms();
    }

    /// Whether `member_id` is the member currently holding `instance_id` (or the member is
    /// dynamic). A mismatch means this member has been replaced: FENCED_INSTANCE_ID.
    pub fn fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    /// Removes a member and its bookkeeping; answers its waiting requests with `error`.
    pub fn remove_member(&mut self, member_id: &str, error: KafkaError) -> Option<ClassicMember> {
        let mut m = self.members.remove(member_id)?;
        self.join_order.retain(|id| id != member_id);
        if let Some(i) = &m.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(member_id) {
                self.static_members.remove(i);
            }
        }
        if let Some(w) = m.join_waiter.take() {
            let mut r = JoinGroupResponse::default();
            r.error_code = error.code();
            r.generation_id = -1;
            r.member_id = member_id.to_string().into();
            w.send(r);
        }
        if let Some(w) = m.sync_waiter.take() {
            let mut r = SyncGroupResponse::default();
            r.error_code = error.code();
            w.send(r);
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = None;
        }
        Some(m)
    }

    /// Largest rebalance timeout among the members.
    pub fn max_rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms.max(0) as u64)
            .max()
            .unwrap_or(0)
    }
}

impl Default for ClassicGroup {
    fn default() -> Self {
        ClassicGroup::new()
    }
}

/// Which protocol a group speaks.
#[derive(Debug)]
pub enum GroupKind {
    /// JoinGroup/SyncGroup (every client's default).
    Classic(ClassicGroup),
    /// KIP-848 ConsumerGroupHeartbeat.
    Consumer(ConsumerGroup),
}

/// A group: its protocol state and its committed offsets.
#[derive(Debug)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Partition of `__consumer_offsets` holding it.
    pub partition: i32,
    /// Protocol state.
    pub kind: GroupKind,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    /// Offsets committed inside transactions not finished yet, by producer id.
    pub pending_txn: HashMap<i64, BTreeMap<(String, i32), OffsetValue>>,
}

impl Group {
    /// A new, empty classic group.
    pub fn new(id: &str, partition: i32) -> Group {
        Group {
            id: id.to_string(),
            partition,
            kind: GroupKind::Classic(ClassicGroup::new()),
            offsets: BTreeMap::new(),
            pending_txn: HashMap::new(),
        }
    }

    /// Whether the group has no members (and may be deleted, or converted to another kind).
    pub fn is_empty(&self) -> bool {
        match &self.kind {
            GroupKind::Classic(c) => c.members.is_empty() && c.pending.is_empty(),
            GroupKind::Consumer(c) => c.members.is_empty(),
        }
    }

    /// State name as ListGroups reports it.
    pub fn state_name(&self) -> &'static str {
        match &self.kind {
            GroupKind::Classic(c) => c.state.name(),
            GroupKind::Consumer(c) => c.state_name(),
        }
    }

    /// Group type as ListGroups v5 reports it.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            GroupKind::Classic(_) => "classic",
            GroupKind::Consumer(_) => "consumer",
        }
    }

    /// Protocol type as ListGroups reports it.
    pub fn protocol_type(&self) -> String {
        match &self.kind {
            GroupKind::Classic(c) => c.protocol_type.clone().unwrap_or_default(),
            GroupKind::Consumer(_) => "consumer".to_string(),
        }
    }
}

/// The classic group `id` in `groups`, if there is one of that kind.
pub fn classic_mut<'a>(
    groups: &'a mut std::collections::HashMap<String, Group>,
    id: &str,
) -> Option<&'a mut ClassicGroup> {
    match groups.get_mut(id) {
        Some(Group {
            kind: GroupKind::Classic(c),
            ..
        }) => Some(c),
        _ => None,
    }
}

pub use crate::clock::now_ms;
