//! OffsetForLeaderEpoch (API 23, v2-4): where a leader epoch's records end in a partition's
//! log (KIP-101, KIP-279), answered from the partition's leader-epoch cache. Consumers ask it
//! to validate their position after a leader change (KIP-320); followers will ask it before
//! they fetch from a new leader.
//!
//! Per partition, as Kafka's leader does: NOT_LEADER_OR_FOLLOWER for a partition another
//! broker hosts, UNKNOWN_TOPIC_OR_PARTITION for one that does not exist, FENCED_LEADER_EPOCH /
//! UNKNOWN_LEADER_EPOCH when `current_leader_epoch` is older / newer than the partition's (as
//! Fetch checks it), else the epoch at or below the one asked for and its end offset: the log
//! end offset for the current epoch, the start of the next epoch for an older one, and
//! (-1, -1) for an epoch the log does not know.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseKind,
};

use super::leader_epoch::EpochCheck;
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::shard::epoch_end::{EpochEnd, EpochEndCall, EpochQuery};
use crate::shard::messages::TopicPartition;

/// Handles OffsetForLeaderEpoch.
pub async fn handle(ctx: &RequestContext, req: OffsetForLeaderEpochRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut plan = PartitionPlan::new();
    let mut epochs = EpochCheck::new(&ctx.core.cluster);
    let table = view.topic_table();
    for t in &req.topics {
        let name: Arc<str> = Arc::from(t.topic.0.as_str());
        let meta = table.get(&name);
        for p in &t.partitions {
            match view.leader_owner(&name, p.partition) {
                None => plan.answer(EpochEnd::failed(view.not_here(&name, p.partition))),
                Some(owner) => {
                    match meta.and_then(|m| epochs.check(m, p.partition, p.current_leader_epoch)) {
                        Some(error) => plan.answer(EpochEnd::failed(error)),
                        None => plan.send(
                            owner,
                            EpochQuery {
                                tp: TopicPartition {
                                    topic: name.clone(),
                                    partition: p.partition,
                                },
                                leader_epoch: p.leader_epoch,
                            },
                        ),
                    }
                }
            };
        }
    }
    let answers = plan
        .run(mesh, EpochEndCall, || {
            EpochEnd::failed(KafkaError::NotLeaderOrFollower)
        })
        .await;
    let mut it = answers.into_iter();
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in &req.topics {
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic.clone();
        for p in &t.partitions {
            let a = it
                .next()
                .unwrap_or(EpochEnd::failed(KafkaError::UnknownServerError));
            let mut pr = EpochEndOffset::default();
            pr.partition = p.partition;
            pr.error_code = errors::code(a.error);
            pr.leader_epoch = a.leader_epoch;
            pr.end_offset = a.end_offset;
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseKind::OffsetForLeaderEpoch(resp)
}
