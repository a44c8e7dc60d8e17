//! Admin APIs that only make sense with several brokers or several log directories, answered with the error Kafka gives when there is nothing to do or the feature
//! is off, never with a disconnect (partition reassignments are in [`super::reassignments`]):
//!
//! - AlterReplicaLogDirs: the data directory is the only one; another is LOG_DIR_NOT_FOUND.

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::*;

use super::authz::Authz;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;

fn exists(ctx: &RequestContext, topic: &str, partition: i32) -> bool {
    ctx.core.view.owner_of(topic, partition).is_some()
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
