//! DeleteRecords: moves partitions' log start offsets forward (the low watermark), deleting the
//! segments that fall entirely below. `-1` means the high watermark.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, ResponseKind};

use super::authz::Authz;
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::handlers::DeleteRecordsCall;
use crate::shard::messages::TopicPartition;

/// Handles DeleteRecords.
pub async fn handle(ctx: &RequestContext, req: DeleteRecordsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut plan = PartitionPlan::new();
    let authz = Authz::of(ctx);
    for t in &req.topics {
        let name: Arc<str> = Arc::from(t.name.0.as_str());
        // DELETE on the topic (KafkaApis).
        let denied = authz.topic(Operation::Delete, &name).err();
        for p in &t.partitions {
            if let Some(e) = denied {
                plan.answer(Err(e));
                continue;
            }
            match view.leader_owner(&name, p.partition_index) {
                None => plan.answer(Err(view.not_here(&name, p.partition_index))),
                Some(owner) => {
                    let tp = TopicPartition {
                        topic: name.clone(),
                        partition: p.partition_index,
                    };
                    plan.send(owner, (tp, p.offset))
                }
            };
        }
    }
    let answers = plan
        .run(mesh, DeleteRecordsCall, || {
            Err(KafkaError::NotLeaderOrFollower)
        })
        .await;
    let mut it = answers.into_iter();
    let mut resp = DeleteRecordsResponse::default();
    for t in &req.topics {
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name.clone();
        for p in &t.partitions {
            let answer = it.next().unwrap_or(Err(KafkaError::UnknownServerError));
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.error_code = errors::result_code(&answer);
            pr.low_watermark = answer.unwrap_or(-1);
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseKind::DeleteRecords(resp)
}
