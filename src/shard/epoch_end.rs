//! The owning core's side of OffsetForLeaderEpoch: where a leader epoch's records end in the
//! partition's log (its leader-epoch cache, [`crate::storage::epochs`]).

use std::rc::Rc;

use super::call::CoreCall;
use super::messages::TopicPartition;
use super::PartitionStore;
use crate::errors::KafkaError;

/// One partition's lookup.
#[derive(Debug)]
pub struct EpochQuery {
    /// The partition.
    pub tp: TopicPartition,
    /// The epoch whose end offset is asked for.
    pub leader_epoch: i32,
}

/// One partition's answer: the epoch found and its end offset, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochEnd {
    /// The error, if the partition could not answer.
    pub error: Option<KafkaError>,
    /// The epoch at or below the one asked for (-1: none).
    pub leader_epoch: i32,
    /// Where it ends (-1: unknown).
    pub end_offset: i64,
}

impl EpochEnd {
    /// A failed lookup.
    pub fn failed(error: KafkaError) -> EpochEnd {
        EpochEnd {
            error: Some(error),
            leader_epoch: -1,
            end_offset: -1,
        }
    }
}

/// Looks epochs up in partitions this core owns; answered per query, in order.
#[derive(Debug)]
pub struct EpochEndCall(pub Vec<EpochQuery>);

impl CoreCall for EpochEndCall {
    type Reply = Vec<EpochEnd>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<EpochEnd> {
        self.0
            .into_iter()
            .map(|q| match store.log(&q.tp.topic, q.tp.partition) {
                None => EpochEnd::failed(store.missing_log_error(&q.tp.topic, q.tp.partition)),
                Some(log) => match log.offline() {
                    Some(_) => EpochEnd::failed(KafkaError::KafkaStorageError),
                    None => {
                        let (leader_epoch, end_offset) = log.end_offset_for_epoch(q.leader_epoch);
                        EpochEnd {
                            error: None,
                            leader_epoch,
                            end_offset,
                        }
                    }
                },
            })
            .collect()
    }
}
