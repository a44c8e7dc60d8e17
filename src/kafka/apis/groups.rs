//! Group membership APIs on the connection's core: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup and ConsumerGroupHeartbeat are forwarded to the core coordinating the group
//! (see [`crate::group`]), and the answers are fitted to the request's version.

use std::collections::BTreeMap;

use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    ResponseKind, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::KafkaError;
use crate::group::calls::{
    ConsumerHeartbeatCall, HeartbeatCall, JoinGroupCall, LeaveGroupCall, SyncGroupCall,
};
use crate::group::{self, OFFSETS_TOPIC};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::call::CoreCall;
use crate::shard::internal_create::CreateInternalTopicCall;
use crate::shard::{Mesh, TopicView};

/// Makes sure `__consumer_offsets` exists, creating it on first use as Kafka does.
pub async fn ensure_offsets_topic(view: &TopicView, mesh: &Mesh) -> bool {
    let groups = &view.config().groups;
    let shape = InternalShape {
        partitions: groups.offsets_partitions,
        replication_factor: groups.offsets_replication_factor,
        min_insync_replicas: None,
    };
    ensure_internal_topic(view, mesh, OFFSETS_TOPIC, shape).await
}

/// How an internal topic is created: partitions, replication factor (capped by the live
/// brokers) and `min.insync.replicas` (capped by the factor; `None`: the broker default).
pub struct InternalShape {
    /// Number of partitions.
    pub partitions: i32,
    /// Replicas wanted per partition.
    pub replication_factor: usize,
    /// `min.insync.replicas` of the topic.
    pub min_insync_replicas: Option<i64>,
}

/// Makes sure the compacted internal topic `name` exists, creating it as `shape` says.
pub async fn ensure_internal_topic(
    view: &TopicView,
    mesh: &Mesh,
    name: &str,
    shape: InternalShape,
) -> bool {
    if view.topic_table().get(name).is_some() {
        return true;
    }
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    let call = CreateInternalTopicCall {
        name: name.to_string(),
        partitions: shape.partitions,
        configs,
        replication_factor: shape.replication_factor,
        min_insync_replicas: shape.min_insync_replicas,
    };
    if let Ok(r) = mesh.call(0, call).await {
        if r.iter().any(|x| x.is_ok()) {
            tracing::info!("created the internal topic {name}");
        }
    }
    view.topic_table().get(name).is_some()
}

/// Sends `call` to the core coordinating `group`; `Err` holds the error for the client.
pub async fn forward<C: CoreCall>(
    view: &TopicView,
    mesh: &Mesh,
    group: &str,
    call: C,
) -> Result<C::Reply, KafkaError> {
    if !ensure_offsets_topic(view, mesh).await {
        return Err(KafkaError::CoordinatorNotAvailable);
    }
    let partition = group::partition_in(&view.topic_table(), &view.config(), group);
    let Some(core) = view.owner_of(OFFSETS_TOPIC, partition) else {
        if view.hosted_elsewhere(OFFSETS_TOPIC, partition) {
            return Err(KafkaError::NotCoordinator);
        }
        return Err(KafkaError::CoordinatorNotAvailable);
    };
    mesh.call(core, call)
        .await
        .map_err(|_| KafkaError::CoordinatorNotAvailable)
}

fn client_id(ctx: &RequestContext) -> String {
    ctx.client_id.clone().unwrap_or_default()
}

/// Handles JoinGroup.
pub async fn join(ctx: &RequestContext, req: JoinGroupRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    let member = req.member_id.clone();
    let call = JoinGroupCall {
        req,
        version: ctx.version,
        client_id: client_id(ctx),
        client_host: ctx.client_host.clone(),
    };
    let allowed = Authz::of(ctx).group(Operation::Read, &group);
    let mut r = match guarded(
        allowed,
        forward(&ctx.core.view, &ctx.core.mesh, &group, call),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut r = JoinGroupResponse::default();
            r.error_code = e.code();
            r.generation_id = -1;
            r.member_id = member;
            r
        }
    };
    if ctx.version < 7 {
        r.protocol_type = None;
        r.protocol_name = Some(r.protocol_name.unwrap_or_default());
    }
    if ctx.version < 9 {
        r.skip_assignment = false;
    }
    if ctx.version < 5 {
        for m in r.members.iter_mut() {
            m.group_instance_id = None;
        }
    }
    ResponseKind::JoinGroup(r)
}

/// `call`'s outcome when `allowed`, else the denial (the call is not made).
pub async fn guarded<R>(
    allowed: Result<(), KafkaError>,
    call: impl std::future::Future<Output = Result<R, KafkaError>>,
) -> Result<R, KafkaError> {
    allowed?;
    call.await
}

/// Handles SyncGroup.
pub async fn sync(ctx: &RequestContext, req: SyncGroupRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    let allowed = Authz::of(ctx).group(Operation::Read, &group);
    let call = forward(&ctx.core.view, &ctx.core.mesh, &group, SyncGroupCall(req));
    let mut r = match guarded(allowed, call).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = SyncGroupResponse::default();
            r.error_code = e.code();
            r
        }
    };
    if ctx.version < 5 {
        r.protocol_type = None;
        r.protocol_name = None;
    }
    ResponseKind::SyncGroup(r)
}

/// Handles Heartbeat.
pub async fn heartbeat(ctx: &RequestContext, req: HeartbeatRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    let allowed = Authz::of(ctx).group(Operation::Read, &group);
    let call = forward(&ctx.core.view, &ctx.core.mesh, &group, HeartbeatCall(req));
    let r = match guarded(allowed, call).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = HeartbeatResponse::default();
            r.error_code = e.code();
            r
        }
    };
    ResponseKind::Heartbeat(r)
}

/// Handles LeaveGroup.
pub async fn leave(ctx: &RequestContext, req: LeaveGroupRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    let call = LeaveGroupCall {
        req,
        version: ctx.version,
    };
    let allowed = Authz::of(ctx).group(Operation::Read, &group);
    let mut r = match guarded(
        allowed,
        forward(&ctx.core.view, &ctx.core.mesh, &group, call),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut r = LeaveGroupResponse::default();
            r.error_code = e.code();
            r
        }
    };
    if ctx.version < 3 {
        r.members.clear();
    }
    ResponseKind::LeaveGroup(r)
}

/// Handles ConsumerGroupHeartbeat (KIP-848).
pub async fn consumer_heartbeat(
    ctx: &RequestContext,
    req: ConsumerGroupHeartbeatRequest,
) -> ResponseKind {
    let group = req.group_id.0.to_string();
    // READ on the group, DESCRIBE on every subscribed topic (KafkaApis).
    let authz = Authz::of(ctx);
    let allowed = authz.group(Operation::Read, &group).and_then(|()| {
        req.subscribed_topic_names
            .iter()
            .flatten()
            .try_for_each(|t| authz.topic(Operation::Describe, t))
    });
    let call = ConsumerHeartbeatCall {
        req,
        version: ctx.version,
        client_id: client_id(ctx),
        client_host: ctx.client_host.clone(),
    };
    let r = match guarded(
        allowed,
        forward(&ctx.core.view, &ctx.core.mesh, &group, call),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut r = ConsumerGroupHeartbeatResponse::default();
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_static_str(match e {
                KafkaError::GroupAuthorizationFailed => "Group authorization failed.",
                KafkaError::TopicAuthorizationFailed => "Topic authorization failed.",
                _ => "The coordinator is not available.",
            }));
            r
        }
    };
    ResponseKind::ConsumerGroupHeartbeat(r)
}
