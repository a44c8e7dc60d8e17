//! Group coordinator: consumer groups and committed offsets.
//!
//! Each group belongs to one partition of the internal `__consumer_offsets` topic (Kafka's hash
//! of the group id) and is coordinated by the core that owns that partition, so a group's
//! membership, its offsets and the log that makes them durable all live on one core.
//!
//! - [`classic`]: JoinGroup and the rebalance state machine (the classic protocol);
//!   [`session`]: SyncGroup, Heartbeat and LeaveGroup.
//! - [`consumer`]: ConsumerGroupHeartbeat (KIP-848) with [`assignor`]'s server-side assignors.
//! - [`offsets`]: OffsetCommit, OffsetFetch, OffsetDelete.
//! - [`admin`]: ListGroups, DescribeGroups, DeleteGroups, ConsumerGroupDescribe.
//! - [`store`]: writing group records to `__consumer_offsets` and loading them at startup.
//! - [`sweep`]: the timer task (session expiry, rebalance deadlines, offsets retention), woken at
//!   the deadlines [`timers`] computes.

pub mod admin;
pub mod assignor;
pub mod classic;
pub mod consumer;
pub mod deleted_topics;
pub mod offsets;
pub mod records;
pub mod session;
pub mod state;
pub mod store;
pub mod sweep;
pub mod timers;
pub mod txn_offsets;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    OffsetCommitRequest, OffsetDeleteRequest, ResponseKind, SyncGroupRequest,
    TxnOffsetCommitRequest,
};

use crate::shard::Shard;
pub use state::Group;

/// Name of the internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The groups one core coordinates.
#[derive(Default)]
pub struct Coordinator {
    /// Groups by id.
    pub groups: RefCell<HashMap<String, Group>>,
    /// When the timer task wakes next.
    pub timers: timers::Timers,
}

/// A group request forwarded to the coordinating core. Requests are carried decoded, with the
/// API version, because the answer depends on it.
#[derive(Debug)]
pub enum GroupCall {
    /// JoinGroup.
    Join {
        /// The request.
        req: JoinGroupRequest,
        /// API version.
        version: i16,
        /// Client id from the request header.
        client_id: String,
        /// Client address.
        client_host: String,
    },
    /// SyncGroup.
    Sync(SyncGroupRequest, i16),
    /// Heartbeat.
    Heartbeat(HeartbeatRequest, i16),
    /// LeaveGroup.
    Leave(LeaveGroupRequest, i16),
    /// OffsetCommit.
    Commit(OffsetCommitRequest, i16),
    /// OffsetFetch for one group.
    FetchOffsets(offsets::FetchQuery),
    /// OffsetDelete.
    DeleteOffsets(OffsetDeleteRequest),
    /// TxnOffsetCommit.
    TxnCommit(TxnOffsetCommitRequest, i16),
    /// ListGroups: this core's groups.
    List,
    /// DescribeGroups for one group.
    Describe {
        /// Group id.
        group: String,
        /// API version (fields differ).
        version: i16,
    },
    /// DeleteGroups for one group.
    Delete(String),
    /// ConsumerGroupHeartbeat (KIP-848).
    ConsumerHeartbeat {
        /// The request.
        req: ConsumerGroupHeartbeatRequest,
        /// API version.
        version: i16,
        /// Client id from the request header.
        client_id: String,
        /// Client address.
        client_host: String,
    },
    /// ConsumerGroupDescribe for one group.
    ConsumerDescribe {
        /// Group id.
        group: String,
        /// Include authorized operations.
        version: i16,
    },
}

/// The coordinating core's answer.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum GroupReply {
    /// A complete response.
    Kafka(ResponseKind),
    /// Offsets of one group.
    Offsets(offsets::FetchedOffsets),
    /// This core's groups.
    Listed(Vec<admin::ListedGroup>),
    /// One described group.
    Described(Box<kafka_protocol::messages::describe_groups_response::DescribedGroup>),
    /// One described KIP-848 group.
    ConsumerDescribed(
        Box<kafka_protocol::messages::consumer_group_describe_response::DescribedGroup>,
    ),
    /// Error code of a per-group operation.
    Code(i16),
}

impl GroupCall {
    /// The group the call is about, for the log lines it leads to.
    fn group_id(&self) -> Option<&str> {
        Some(match self {
            GroupCall::Join { req, .. } => req.group_id.0.as_str(),
            GroupCall::Sync(req, _) => req.group_id.0.as_str(),
            GroupCall::Heartbeat(req, _) => req.group_id.0.as_str(),
            GroupCall::Leave(req, _) => req.group_id.0.as_str(),
            GroupCall::Commit(req, _) => req.group_id.0.as_str(),
            GroupCall::TxnCommit(req, _) => req.group_id.0.as_str(),
            GroupCall::DeleteOffsets(req) => req.group_id.0.as_str(),
            GroupCall::ConsumerHeartbeat { req, .. } => req.group_id.0.as_str(),
            GroupCall::Describe { group, .. }
            | GroupCall::ConsumerDescribe { group, .. }
            | GroupCall::Delete(group) => group.as_str(),
            GroupCall::FetchOffsets(_) | GroupCall::List => return None,
        })
    }
}

impl crate::shard::call::CoreCall for GroupCall {
    type Reply = GroupReply;
    async fn run(self, shard: &Rc<Shard>) -> GroupReply {
        handle(shard, self).await
    }

    fn waits_on_purpose(&self) -> bool {
        matches!(self, GroupCall::Join { .. } | GroupCall::Sync(..))
    }
}

/// Runs a group call on this (the coordinating) core; its log lines name the group.
pub async fn handle(shard: &Rc<Shard>, call: GroupCall) -> GroupReply {
    use tracing::Instrument;
    let span = match call.group_id() {
        Some(g) => tracing::info_span!("group", group = %g),
        None => tracing::Span::none(),
    };
    let group = call.group_id().map(str::to_string);
    let reply = handle_call(shard, call).instrument(span).await;
    // The call may have set an earlier deadline (a new member, a rebalance started).
    if let Some(group) = group {
        note_deadline(shard, &group);
    }
    reply
}

/// Tells the timer task about `group`'s next deadline. Called after every group call, and by
/// calls that wait (JoinGroup, SyncGroup) before they wait: their wait may end at a deadline.
pub fn note_deadline(shard: &Shard, group: &str) {
    let due = shard
        .groups
        .groups
        .borrow()
        .get(group)
        .and_then(|g| timers::next_deadline(g, &shard.config()));
    if let Some(at) = due {
        shard.groups.timers.deadline(at);
    }
}

async fn handle_call(shard: &Rc<Shard>, call: GroupCall) -> GroupReply {
    match call {
        GroupCall::Join {
            req,
            version,
            client_id,
            client_host,
        } => GroupReply::Kafka(ResponseKind::JoinGroup(
            classic::join(shard, req, version, client_id, client_host).await,
        )),
        GroupCall::Sync(req, _) => {
            GroupReply::Kafka(ResponseKind::SyncGroup(session::sync(shard, req).await))
        }
        GroupCall::Heartbeat(req, _) => {
            GroupReply::Kafka(ResponseKind::Heartbeat(session::heartbeat(shard, req)))
        }
        GroupCall::Leave(req, version) => GroupReply::Kafka(ResponseKind::LeaveGroup(
            session::leave(shard, req, version),
        )),
        GroupCall::Commit(req, version) => GroupReply::Kafka(ResponseKind::OffsetCommit(
            offsets::commit(shard, req, version).await,
        )),
        GroupCall::TxnCommit(req, version) => GroupReply::Kafka(ResponseKind::TxnOffsetCommit(
            txn_offsets::commit(shard, req, version).await,
        )),
        GroupCall::FetchOffsets(q) => GroupReply::Offsets(offsets::fetch(shard, q)),
        GroupCall::DeleteOffsets(req) => GroupReply::Kafka(ResponseKind::OffsetDelete(
            offsets::delete(shard, req).await,
        )),
        GroupCall::List => GroupReply::Listed(admin::list(shard)),
        GroupCall::Describe { group, version } => {
            GroupReply::Described(Box::new(admin::describe(shard, &group, version)))
        }
        GroupCall::Delete(group) => GroupReply::Code(admin::delete(shard, &group).await),
        GroupCall::ConsumerHeartbeat {
            req,
            version,
            client_id,
            client_host,
        } => GroupReply::Kafka(ResponseKind::ConsumerGroupHeartbeat(consumer::heartbeat(
            shard,
            req,
            version,
            client_id,
            client_host,
        ))),
        GroupCall::ConsumerDescribe { group, version } => GroupReply::ConsumerDescribed(Box::new(
            admin::consumer_describe(shard, &group, version),
        )),
    }
}

/// Partition of `__consumer_offsets` holding `group` on this broker (by the topic's actual
/// partition count, so a changed `offsets.topic.num.partitions` cannot move existing groups).
pub fn partition_of(shard: &Shard, group: &str) -> i32 {
    let n = shard
        .topic_table()
        .get(OFFSETS_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .unwrap_or(shard.config().groups.offsets_partitions);
    records::partition_for(group, n)
}

/// Whether this core can serve groups of `partition` (its log is open here).
pub fn serves(shard: &Shard, partition: i32) -> bool {
    shard.log(OFFSETS_TOPIC, partition).is_some()
}
