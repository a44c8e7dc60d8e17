//! The calls a core sends to the core coordinating a group, one type per request, each with its
//! own reply type (see [`crate::shard::call`]). Requests travel decoded, with the API version,
//! because the answer depends on it.
//!
//! A call about one group runs in a tracing span naming the group, and afterwards tells the
//! timer task the group's next deadline (the call may have set an earlier one: a new member, a
//! rebalance started).

use std::future::Future;
use std::rc::Rc;

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerDescribed;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    SyncGroupRequest, SyncGroupResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use tracing::Instrument;

use super::offsets::{FetchQuery, FetchedOffsets};
use super::Coordinator;
use super::{admin, classic, consumer, note_deadline, offsets, session, txn_offsets};
use crate::errors::KafkaError;
use crate::shard::call::CoreCall;

/// Runs `work` about `group`: its log lines name the group, and the timer task learns the
/// group's next deadline once it is done.
async fn for_group<R>(coord: &Rc<Coordinator>, group: String, work: impl Future<Output = R>) -> R {
    let reply = work
        .instrument(tracing::info_span!("group", group = %group))
        .await;
    note_deadline(coord, &group);
    reply
}

/// JoinGroup (classic protocol); waits for the rebalance.
#[derive(Debug)]
pub struct JoinGroupCall {
    /// The request.
    pub req: JoinGroupRequest,
    /// API version.
    pub version: i16,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
}

impl CoreCall for JoinGroupCall {
    type Reply = JoinGroupResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> JoinGroupResponse {
        let c = self;
        let group = c.req.group_id.0.to_string();
        let work = classic::join(coord, c.req, c.version, c.client_id, c.client_host);
        for_group(coord, group, work).await
    }

    fn waits_on_purpose(&self) -> bool {
        true
    }
}

/// SyncGroup; waits for the leader's assignment.
#[derive(Debug)]
pub struct SyncGroupCall(pub SyncGroupRequest);

impl CoreCall for SyncGroupCall {
    type Reply = SyncGroupResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> SyncGroupResponse {
        let group = self.0.group_id.0.to_string();
        for_group(coord, group, session::sync(coord, self.0)).await
    }

    fn waits_on_purpose(&self) -> bool {
        true
    }
}

/// Heartbeat.
#[derive(Debug)]
pub struct HeartbeatCall(pub HeartbeatRequest);

impl CoreCall for HeartbeatCall {
    type Reply = HeartbeatResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> HeartbeatResponse {
        let group = self.0.group_id.0.to_string();
        for_group(coord, group, async { session::heartbeat(coord, self.0) }).await
    }
}

/// LeaveGroup.
#[derive(Debug)]
pub struct LeaveGroupCall {
    /// The request.
    pub req: LeaveGroupRequest,
    /// API version.
    pub version: i16,
}

impl CoreCall for LeaveGroupCall {
    type Reply = LeaveGroupResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> LeaveGroupResponse {
        let group = self.req.group_id.0.to_string();
        let work = async { session::leave(coord, self.req, self.version) };
        for_group(coord, group, work).await
    }
}

/// OffsetCommit.
#[derive(Debug)]
pub struct OffsetCommitCall {
    /// The request.
    pub req: OffsetCommitRequest,
    /// API version.
    pub version: i16,
}

impl CoreCall for OffsetCommitCall {
    type Reply = OffsetCommitResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> OffsetCommitResponse {
        let group = self.req.group_id.0.to_string();
        for_group(coord, group, offsets::commit(coord, self.req, self.version)).await
    }
}

/// TxnOffsetCommit.
#[derive(Debug)]
pub struct TxnOffsetCommitCall {
    /// The request.
    pub req: TxnOffsetCommitRequest,
    /// API version.
    pub version: i16,
}

impl CoreCall for TxnOffsetCommitCall {
    type Reply = TxnOffsetCommitResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> TxnOffsetCommitResponse {
        let group = self.req.group_id.0.to_string();
        for_group(
            coord,
            group,
            txn_offsets::commit(coord, self.req, self.version),
        )
        .await
    }
}

/// OffsetFetch for one group.
#[derive(Debug)]
pub struct OffsetFetchCall(pub FetchQuery);

impl CoreCall for OffsetFetchCall {
    type Reply = FetchedOffsets;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> FetchedOffsets {
        offsets::fetch(coord, self.0)
    }
}

/// OffsetDelete.
#[derive(Debug)]
pub struct OffsetDeleteCall(pub OffsetDeleteRequest);

impl CoreCall for OffsetDeleteCall {
    type Reply = OffsetDeleteResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> OffsetDeleteResponse {
        let group = self.0.group_id.0.to_string();
        for_group(coord, group, offsets::delete(coord, self.0)).await
    }
}

/// ListGroups: the groups the receiving core coordinates.
#[derive(Debug)]
pub struct ListGroupsCall;

impl CoreCall for ListGroupsCall {
    type Reply = Vec<admin::ListedGroup>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Vec<admin::ListedGroup> {
        admin::list(coord)
    }
}

/// DescribeGroups for one group.
#[derive(Debug)]
pub struct DescribeGroupCall {
    /// Group id.
    pub group: String,
    /// API version (fields differ).
    pub version: i16,
}

impl CoreCall for DescribeGroupCall {
    type Reply = DescribedGroup;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> DescribedGroup {
        let work = async { admin::describe(coord, &self.group, self.version) };
        for_group(coord, self.group.clone(), work).await
    }
}

/// DeleteGroups for one group: done, or the error.
#[derive(Debug)]
pub struct DeleteGroupCall(pub String);

impl CoreCall for DeleteGroupCall {
    type Reply = Result<(), KafkaError>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Result<(), KafkaError> {
        for_group(coord, self.0.clone(), admin::delete(coord, &self.0)).await
    }
}

/// ConsumerGroupHeartbeat (KIP-848).
#[derive(Debug)]
pub struct ConsumerHeartbeatCall {
    /// The request.
    pub req: ConsumerGroupHeartbeatRequest,
    /// API version.
    pub version: i16,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
}

impl CoreCall for ConsumerHeartbeatCall {
    type Reply = ConsumerGroupHeartbeatResponse;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> ConsumerGroupHeartbeatResponse {
        let c = self;
        let group = c.req.group_id.0.to_string();
        let work =
            async { consumer::heartbeat(coord, c.req, c.version, c.client_id, c.client_host) };
        for_group(coord, group, work).await
    }
}

/// ConsumerGroupDescribe for one group.
#[derive(Debug)]
pub struct ConsumerDescribeCall {
    /// Group id.
    pub group: String,
    /// API version.
    pub version: i16,
}

impl CoreCall for ConsumerDescribeCall {
    type Reply = ConsumerDescribed;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> ConsumerDescribed {
        let work = async { admin::consumer_describe(coord, &self.group, self.version) };
        for_group(coord, self.group.clone(), work).await
    }
}
