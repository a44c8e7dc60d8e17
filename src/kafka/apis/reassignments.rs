//! AlterPartitionReassignments (API 45) and ListPartitionReassignments (API 46), as Kafka's
//! controller answers them (KIP-455, KIP-860's `allow_replication_factor_change` in v1).
//!
//! - Alter needs ALTER on the cluster (else the whole request is refused with
//!   CLUSTER_AUTHORIZATION_FAILED, as KafkaApis). Each partition is proposed to the controller
//!   quorum by core 0 ([`ReassignCall`]) and answered on its own: UNKNOWN_TOPIC_OR_PARTITION,
//!   INVALID_REPLICA_ASSIGNMENT (an empty target, a broker twice or not registered),
//!   INVALID_REPLICATION_FACTOR (the factor changes while the request forbids it),
//!   NO_REASSIGNMENT_IN_PROGRESS (a cancel with nothing to cancel). An answer of NONE means
//!   the reassignment is recorded in the metadata log; it completes later, when every target
//!   replica is in sync (docs/replication.md, step 7).
//! - List needs DESCRIBE on the cluster and reads this broker's copy of the metadata image:
//!   every reassignment in progress, or those of the partitions named, each with its replicas
//!   and the replicas being added and removed.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use runnel_controller::image::TopicImage;
use runnel_controller::MetadataImage;

use super::authz::Authz;
use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::reassign_admin::{Move, ReassignCall};

/// Handles AlterPartitionReassignments.
pub async fn alter(ctx: &RequestContext, req: AlterPartitionReassignmentsRequest) -> ResponseKind {
    let mut resp = AlterPartitionReassignmentsResponse::default();
    resp.allow_replication_factor_change = req.allow_replication_factor_change;
    // ALTER on the cluster (KafkaApis), or the whole request refused.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Alter) {
        resp.error_code = e.code();
        return ResponseKind::AlterPartitionReassignments(resp);
    }
    let moves: Vec<Move> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| Move {
                topic: t.name.to_string(),
                partition: p.partition_index,
                target: p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
            })
        })
        .collect();
    let count = moves.len();
    let call = ReassignCall {
        moves,
        allow_replication_factor_change: req.allow_replication_factor_change,
    };
    let mut results = match ctx.core.mesh.call(0, call).await {
        Ok(r) if r.len() == count => r.into_iter(),
        _ => {
            let e = ErrorMessage::new(KafkaError::NotController, "core 0 cannot be reached");
            vec![Err(e); count].into_iter()
        }
    };
    for t in req.topics {
        let mut tr = ReassignableTopicResponse::default();
        for p in t.partitions {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = p.partition_index;
            if let Some(Err(e)) = results.next() {
                pr.error_code = e.error.code();
                pr.error_message = Some(StrBytes::from_string(e.message));
            }
            tr.partitions.push(pr);
        }
        tr.name = t.name;
        resp.responses.push(tr);
    }
    ResponseKind::AlterPartitionReassignments(resp)
}

/// Handles ListPartitionReassignments.
pub fn list(ctx: &RequestContext, req: ListPartitionReassignmentsRequest) -> ResponseKind {
    let mut resp = ListPartitionReassignmentsResponse::default();
    // DESCRIBE on the cluster (KafkaApis).
    if let Err(e) = Authz::of(ctx).cluster(Operation::Describe) {
        resp.error_code = e.code();
        return ResponseKind::ListPartitionReassignments(resp);
    }
    let image = ctx.core.cluster.state().image.clone();
    match req.topics {
        None => {
            let mut by_topic: Vec<(&TopicImage, Vec<i32>)> = Vec::new();
            for (id, partition) in image.reassignments().keys() {
                let Some(t) = image.topic(id) else { continue };
                match by_topic.last_mut() {
                    Some((last, parts)) if last.topic_id == *id => parts.push(*partition),
                    _ => by_topic.push((t, vec![*partition])),
                }
            }
            for (t, parts) in by_topic {
                push_topic(&mut resp, &image, t, &parts);
            }
        }
        Some(topics) => {
            for wanted in topics {
                if let Some(t) = image.topic_by_name(wanted.name.as_str()) {
                    push_topic(&mut resp, &image, t, &wanted.partition_indexes);
                }
            }
        }
    }
    ResponseKind::ListPartitionReassignments(resp)
}

/// Adds `topic`'s reassignments in progress among `partitions` (none: the topic is left out,
/// as Kafka's `listReassigningTopic`).
fn push_topic(
    resp: &mut ListPartitionReassignmentsResponse,
    image: &MetadataImage,
    topic: &TopicImage,
    partitions: &[i32],
) {
    let mut ot = OngoingTopicReassignment::default();
    for &p in partitions {
        let Some(ra) = image.reassignment(&topic.topic_id, p) else {
            continue;
        };
        let Some(part) = usize::try_from(p)
            .ok()
            .and_then(|i| topic.partitions.get(i))
        else {
            continue;
        };
        let ids = |v: &[i32]| v.iter().map(|&b| BrokerId(b)).collect();
        let mut op = OngoingPartitionReassignment::default();
        op.partition_index = p;
        op.replicas = ids(&part.replicas);
        op.adding_replicas = ids(&ra.adding);
        op.removing_replicas = ids(&ra.removing);
        ot.partitions.push(op);
    }
    if !ot.partitions.is_empty() {
        ot.name = TopicName(StrBytes::from_string(topic.name.clone()));
        resp.topics.push(ot);
    }
}
