//! WriteTxnMarkers (API 27), the request a transaction coordinator on another broker sends the
//! leader of a transaction's partition: for each marker (producer, epoch, commit or abort) and
//! each of its partitions, the marker is written on the core of this broker that owns the
//! partition, through the same path as the coordinator's own markers (which also settles
//! pending transactional offsets on `__consumer_offsets`), and answered once every ISR member
//! has it (acks=all without the `min.insync.replicas` check, as Kafka's coordinator appends;
//! REQUEST_TIMED_OUT after 30 s, Kafka's `request.timeout.ms` default: the coordinator writes
//! it again).
//!
//! A partition another broker hosts answers NOT_LEADER_OR_FOLLOWER, an unknown one
//! UNKNOWN_TOPIC_OR_PARTITION, and a marker older than the producer's epoch on the partition
//! INVALID_PRODUCER_EPOCH, as Kafka answers. The request validator has bounded every count by
//! the frame's size before the request was decoded.

use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{ResponseKind, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::authz::Authz;
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::messages::TopicPartition;
use crate::txn::markers::WriteMarkersCall;

/// Handles WriteTxnMarkers.
pub async fn handle(ctx: &RequestContext, req: WriteTxnMarkersRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = WriteTxnMarkersResponse::default();
    // Inter-broker: CLUSTER_ACTION on the cluster (KafkaApis), or every partition refused.
    let denied = Authz::of(ctx).cluster(Operation::ClusterAction).err();
    for marker in &req.markers {
        let mut plan: PartitionPlan<TopicPartition, Result<(), KafkaError>> = PartitionPlan::new();
        for t in &marker.topics {
            let name: Arc<str> = Arc::from(t.name.0.as_str());
            for &p in &t.partition_indexes {
                if let Some(e) = denied {
                    plan.answer(Err(e));
                    continue;
                }
                match view.leader_owner(&name, p) {
                    None => plan.answer(Err(view.not_here(&name, p))),
                    Some(owner) => plan.send(
                        owner,
                        TopicPartition {
                            topic: name.clone(),
                            partition: p,
                        },
                    ),
                };
            }
        }
        let (producer_id, epoch, commit) = (
            marker.producer_id.0,
            marker.producer_epoch,
            marker.transaction_result,
        );
        let make = |parts| WriteMarkersCall {
            producer_id,
            epoch,
            commit,
            parts,
        };
        let answers = plan
            .run(mesh, make, || Err(KafkaError::NotLeaderOrFollower))
            .await;
        let mut it = answers.into_iter();
        let mut result = WritableTxnMarkerResult::default();
        result.producer_id = marker.producer_id;
        for t in &marker.topics {
            let mut tr = WritableTxnMarkerTopicResult::default();
            tr.name = t.name.clone();
            for &p in &t.partition_indexes {
                let answer = it.next().unwrap_or(Err(KafkaError::UnknownServerError));
                let mut pr = WritableTxnMarkerPartitionResult::default();
                pr.partition_index = p;
                pr.error_code = errors::result_code(&answer);
                tr.partitions.push(pr);
            }
            result.topics.push(tr);
        }
        resp.markers.push(result);
    }
    ResponseKind::WriteTxnMarkers(resp)
}
