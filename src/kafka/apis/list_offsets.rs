//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3) and by timestamp.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, ResponseKind};

use super::authz::Authz;
use super::leader_epoch::EpochCheck;
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::handlers::ListOffsetsCall;
use crate::shard::messages::{OffsetAnswer, OffsetQuery, TopicPartition};

fn failed(error: KafkaError) -> OffsetAnswer {
    OffsetAnswer {
        error: Some(error),
        timestamp: -1,
        offset: -1,
        leader_epoch: -1,
    }
}

/// Handles ListOffsets.
pub async fn handle(ctx: &RequestContext, req: ListOffsetsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut plan = PartitionPlan::new();
    // KIP-320 (v4+): the client's leader epoch against the partition's current one.
    let mut epochs = EpochCheck::new(&ctx.core.cluster);
    let table = view.topic_table();
    let authz = Authz::of(ctx);
    for t in &req.topics {
        let name: Arc<str> = Arc::from(t.name.0.as_str());
        let meta = table.get(&name);
        // DESCRIBE on the topic (KafkaApis).
        let denied = authz.topic(Operation::Describe, &name).err();
        for p in &t.partitions {
            if let Some(e) = denied {
                plan.answer(failed(e));
                continue;
            }
            let sent = if ctx.version >= 4 {
                p.current_leader_epoch
            } else {
                -1
            };
            match view.leader_owner(&name, p.partition_index) {
                None => plan.answer(failed(view.not_here(&name, p.partition_index))),
                Some(owner) => match meta.and_then(|m| epochs.check(m, p.partition_index, sent)) {
                    Some(error) => plan.answer(failed(error)),
                    None => plan.send(
                        owner,
                        OffsetQuery {
                            tp: TopicPartition {
                                topic: name.clone(),
                                partition: p.partition_index,
                            },
                            timestamp: p.timestamp,
                            committed: ctx.version >= 2 && req.isolation_level == 1,
                        },
                    ),
                },
            };
        }
    }
    let answers = plan
        .run(mesh, ListOffsetsCall, || {
            failed(KafkaError::NotLeaderOrFollower)
        })
        .await;
    let mut it = answers.into_iter();
    let mut resp = ListOffsetsResponse::default();
    for t in &req.topics {
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name.clone();
        for p in &t.partitions {
            let a = it.next().unwrap_or(failed(KafkaError::UnknownServerError));
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.error_code = errors::code(a.error);
            pr.timestamp = a.timestamp;
            pr.offset = a.offset;
            if ctx.version >= 4 {
                pr.leader_epoch = a.leader_epoch;
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseKind::ListOffsets(resp)
}
