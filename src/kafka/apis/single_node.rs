//! Admin APIs that only make sense with several brokers or several log directories, answered with the error Kafka gives when there is nothing to do or the feature
//! is off, never with a disconnect:
//!
//! - AlterPartitionReassignments: moving a partition to its only replica (this broker) is a
//!   no-op; any other broker is INVALID_REPLICA_ASSIGNMENT; cancelling is
//!   NO_REASSIGNMENT_IN_PROGRESS. v1's `allow_replication_factor_change` (KIP-860) is echoed
//!   in the response; Kafka checks it after the target replicas are found valid, and the only
//!   valid target here keeps the replication factor at 1, so it never refuses anything.
//! - ListPartitionReassignments: never any in progress.
//! - AlterReplicaLogDirs: the data directory is the only one; another is LOG_DIR_NOT_FOUND.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::{self, ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;

fn exists(ctx: &RequestContext, topic: &str, partition: i32) -> bool {
    ctx.core.view.owner_of(topic, partition).is_some()
}

/// Handles AlterPartitionReassignments.
pub fn alter_reassignments(
    ctx: &RequestContext,
    req: AlterPartitionReassignmentsRequest,
) -> ResponseKind {
    let node = ctx.core.view.config().node_id;
    let mut resp = AlterPartitionReassignmentsResponse::default();
    resp.allow_replication_factor_change = req.allow_replication_factor_change;
    // ALTER on the cluster (KafkaApis), or the whole request refused.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Alter) {
        resp.error_code = e.code();
        return ResponseKind::AlterPartitionReassignments(resp);
    }
    for t in req.topics {
        let mut tr = ReassignableTopicResponse::default();
        for p in t.partitions {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = p.partition_index;
            let refused = if !exists(ctx, &t.name, p.partition_index) {
                Some(ErrorMessage::new(
                    KafkaError::UnknownTopicOrPartition,
                    "Unknown topic or partition.",
                ))
            } else {
                match p.replicas {
                    None => Some(ErrorMessage::new(
                        KafkaError::NoReassignmentInProgress,
                        "No partition reassignment is in progress.",
                    )),
                    Some(r) if r.len() == 1 && r[0].0 == node => None,
                    Some(_) => Some(ErrorMessage::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!(
                            "This cluster has one broker ({node}): it is the only valid replica."
                        ),
                    )),
                }
            };
            if let Some(e) = refused {
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

/// Handles ListPartitionReassignments: none are ever in progress.
pub fn list_reassignments(
    ctx: &RequestContext,
    _req: ListPartitionReassignmentsRequest,
) -> ResponseKind {
    let mut resp = ListPartitionReassignmentsResponse::default();
    // DESCRIBE on the cluster (KafkaApis).
    if let Err(e) = Authz::of(ctx).cluster(Operation::Describe) {
        resp.error_code = e.code();
    }
    ResponseKind::ListPartitionReassignments(resp)
}

/// Handles AlterReplicaLogDirs: the data directory is the only log directory.
pub fn alter_replica_log_dirs(
    ctx: &RequestContext,
    req: AlterReplicaLogDirsRequest,
) -> ResponseKind {
    let data_dir = &ctx.core.view.config().data_dir;
    let ours = |p: &str| {
        let p = std::path::Path::new(p);
        p == data_dir.as_path()
            || p.canonicalize().ok() == data_dir.canonicalize().ok() && p.exists()
    };
    let mut resp = AlterReplicaLogDirsResponse::default();
    // ALTER on the cluster (KafkaApis): every partition refused without it.
    let denied = Authz::of(ctx).cluster(Operation::Alter).err();
    for dir in req.dirs {
        let same = ours(dir.path.as_str());
        for t in dir.topics {
            let mut tr = AlterReplicaLogDirTopicResult::default();
            for p in t.partitions {
                let mut pr = AlterReplicaLogDirPartitionResult::default();
                pr.partition_index = p;
                pr.error_code = if let Some(e) = denied {
                    e.code()
                } else if !same {
                    KafkaError::LogDirNotFound.code()
                } else if exists(ctx, &t.name, p) {
                    errors::NONE
                } else {
                    KafkaError::UnknownTopicOrPartition.code()
                };
                tr.partitions.push(pr);
            }
            tr.topic_name = t.name;
            resp.results.push(tr);
        }
    }
    ResponseKind::AlterReplicaLogDirs(resp)
}
