//! Partition reassignments through the controller quorum (core 0, AlterPartitionReassignments):
//! each partition of the request is proposed as its own [`ReassignPartitionRecord`], so that
//! each gets its own answer; the image checks the target and works out the change when it
//! applies the record (`runnel_controller`'s reassign module), and the brokers open, follow,
//! close and delete the partition's logs as later images change its replicas
//! ([`super::image_sync`], [`super::partitions`], the follower sessions).

use std::rc::Rc;

use runnel_controller::records::{BrokerId, ReassignPartitionRecord};
use runnel_controller::{MetadataRecord, RecordBatch};

use super::call::CoreCall;
use super::quorum::Quorum;
use super::MetadataAdmin;
use crate::errors::{ErrorMessage, KafkaError};

/// One partition to reassign (target replicas) or whose reassignment to cancel (`None`).
#[derive(Debug, Clone)]
pub struct Move {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Target replicas, preferred leader first, or `None` to cancel.
    pub target: Option<Vec<BrokerId>>,
}

/// Reassigns partitions (sent to core 0); one answer per [`Move`], in order.
#[derive(Debug)]
pub struct ReassignCall {
    /// The partitions.
    pub moves: Vec<Move>,
    /// KIP-860's `allow_replication_factor_change`.
    pub allow_replication_factor_change: bool,
}

impl CoreCall for ReassignCall {
    type Reply = Vec<Result<(), ErrorMessage>>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let Some(q) = admin.quorum() else {
            let e = ErrorMessage::new(
                KafkaError::NotController,
                "this broker has no controller quorum",
            );
            return self.moves.iter().map(|_| Err(e.clone())).collect();
        };
        let mut out = Vec::with_capacity(self.moves.len());
        for m in &self.moves {
            out.push(reassign(&q, m, self.allow_replication_factor_change).await);
        }
        out
    }
}

async fn reassign(q: &Quorum, m: &Move, allow: bool) -> Result<(), ErrorMessage> {
    let Some(topic) = q.image().topic_by_name(&m.topic).map(|t| t.topic_id) else {
        return Err(ErrorMessage::new(
            KafkaError::UnknownTopicOrPartition,
            format!("Unable to find a topic named {}.", m.topic),
        ));
    };
    let record = ReassignPartitionRecord {
        topic_id: topic,
        partition: m.partition,
        target: m.target.clone(),
        allow_replication_factor_change: allow,
    };
    let result = q
        .propose(RecordBatch::one(MetadataRecord::ReassignPartition(record)))
        .await;
    match &result {
        Ok(()) => {
            tracing::info!(topic = %m.topic, partition = m.partition, target = ?m.target, "partition reassignment committed")
        }
        Err(e) => {
            tracing::info!(topic = %m.topic, partition = m.partition, target = ?m.target, error = %e.message, "partition reassignment refused")
        }
    }
    result
}
