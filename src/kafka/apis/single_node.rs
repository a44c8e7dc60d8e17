//! Admin APIs that only make sense with several brokers or several log directories, answered with the error Kafka gives when there is nothing to do or the feature
//! is off, never with a disconnect (partition reassignments are in [`super::reassignments`]):
//!
//! - ElectLeaders: the leader is always the preferred (only) replica: ELECTION_NOT_NEEDED.
//! - AlterReplicaLogDirs: the data directory is the only one; another is LOG_DIR_NOT_FOUND.

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;

fn exists(ctx: &RequestContext, topic: &str, partition: i32) -> bool {
    ctx.core.view.owner_of(topic, partition).is_some()
}

/// Handles ElectLeaders: every existing partition already has its preferred leader.
pub fn elect_leaders(ctx: &RequestContext, req: ElectLeadersRequest) -> ResponseKind {
    let mut resp = ElectLeadersResponse::default();
    // ALTER on the cluster (KafkaApis): every partition refused without it.
    let denied = Authz::of(ctx).cluster(Operation::Alter).err();
    if let (Some(e), true) = (denied, ctx.version >= 1) {
        resp.error_code = e.code();
    }
    // With no partitions named, Kafka reports only partitions that needed an election: none.
    for t in req.topic_partitions.unwrap_or_default() {
        let mut tr = ReplicaElectionResult::default();
        for p in t.partitions {
            let mut pr = PartitionResult::default();
            pr.partition_id = p;
            if let Some(e) = denied {
                pr.error_code = e.code();
            } else if exists(ctx, &t.topic, p) {
                pr.error_code = KafkaError::ElectionNotNeeded.code();
                pr.error_message = Some(StrBytes::from_static_str(
                    "Leader election not needed for topic partition.",
                ));
            } else {
                pr.error_code = KafkaError::UnknownTopicOrPartition.code();
                pr.error_message = Some(StrBytes::from_static_str(
                    "The topic or partition does not exist.",
                ));
            }
            tr.partition_result.push(pr);
        }
        tr.topic = t.topic;
        resp.replica_election_results.push(tr);
    }
    ResponseKind::ElectLeaders(resp)
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
