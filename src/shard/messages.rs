//! What cores say to each other over the channel mesh: the parts of the data calls (produce,
//! fetch, offsets) and their answers, and the mesh message itself (see [`super::call`]).
//!
//! Everything here is `Send` and carries record data as `bytes::Bytes`, so forwarding a produce
//! or a fetch between cores moves reference-counted slices, never copies of the records.

use std::sync::Arc;

use bytes::Bytes;

use super::call::Envelope;
use crate::errors::{ErrorMessage, KafkaError};
use crate::storage::batch::BatchInfo;

/// A topic-partition, with the topic name shared between the parts of one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
}

/// Records for one partition of a produce request, already validated.
#[derive(Debug, Clone)]
pub struct ProducePart {
    /// Destination.
    pub tp: TopicPartition,
    /// Batches found in `payload`.
    pub batches: Vec<BatchInfo>,
    /// The records field of the request.
    pub payload: Bytes,
}

/// Result of appending one partition's records.
#[derive(Debug, Clone, Copy)]
pub struct ProduceResult {
    /// What went wrong, if anything.
    pub error: Option<KafkaError>,
    /// Offset of the first record appended, -1 on error.
    pub base_offset: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
}

impl ProduceResult {
    /// A partition that failed with `error` (nothing appended).
    pub fn failed(error: KafkaError) -> ProduceResult {
        ProduceResult {
            error: Some(error),
            base_offset: -1,
            log_start_offset: -1,
        }
    }
}

/// One partition of a fetch.
#[derive(Debug, Clone)]
pub struct FetchPart {
    /// Source.
    pub tp: TopicPartition,
    /// First offset wanted.
    pub offset: i64,
    /// partition_max_bytes from the request.
    pub max_bytes: usize,
}

/// Data read for one partition.
#[derive(Debug, Clone, Default)]
pub struct FetchResult {
    /// What went wrong, if anything.
    pub error: Option<KafkaError>,
    /// High watermark.
    pub high_watermark: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// Last stable offset (the high watermark held back by open transactions).
    pub last_stable_offset: i64,
    /// Aborted transactions in the range read, as (producer id, first offset); only filled for
    /// read_committed fetches.
    pub aborted: Vec<(i64, i64)>,
    /// Whole batches, in order; contiguous on the wire.
    pub records: Vec<Bytes>,
}

impl FetchResult {
    /// A partition answered with an error: no offsets, no records.
    pub fn failed(error: KafkaError) -> FetchResult {
        FetchResult {
            error: Some(error),
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Total size of the records returned.
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|b| b.len()).sum()
    }
}

/// One partition of a ListOffsets request.
#[derive(Debug, Clone)]
pub struct OffsetQuery {
    /// Partition asked about.
    pub tp: TopicPartition,
    /// -1 latest, -2 earliest, -3 max timestamp, otherwise a timestamp in ms.
    pub timestamp: i64,
    /// read_committed isolation: "latest" is the last stable offset.
    pub committed: bool,
}

/// Answer to one [`OffsetQuery`].
#[derive(Debug, Clone, Copy)]
pub struct OffsetAnswer {
    /// What went wrong, if anything.
    pub error: Option<KafkaError>,
    /// Timestamp found (-1 when not applicable).
    pub timestamp: i64,
    /// Offset found (-1 when none).
    pub offset: i64,
    /// The leader epoch of the offset found (the current one for the latest offset; -1 when
    /// none or unknown).
    pub leader_epoch: i32,
}

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Number of partitions (-1: broker default).
    pub partitions: i32,
    /// Topic config overrides.
    pub configs: std::collections::BTreeMap<String, String>,
    /// Replicas per partition (at least 1; more needs as many unfenced brokers).
    pub replication_factor: usize,
}

/// A change of one topic's config overrides (AlterConfigs, IncrementalAlterConfigs).
#[derive(Debug, Clone)]
pub struct TopicConfigChange {
    /// Topic name.
    pub topic: String,
    /// Operations, applied in order.
    pub ops: Vec<crate::cluster::topic_config::alter::ConfigOp>,
    /// Replace the whole set of overrides (legacy AlterConfigs) instead of changing some.
    pub replace: bool,
}

/// Outcome of one part of a topic-table change: the error and its message on failure.
pub type ChangeResult = Result<(), ErrorMessage>;

/// A message on the mesh.
#[derive(Debug)]
pub enum MeshMessage {
    /// A call, answered with a `Reply` carrying the same id to core `from`.
    Call {
        /// Correlation id chosen by the sender.
        id: u64,
        /// Sending core.
        from: usize,
        /// The call.
        envelope: Envelope,
    },
    /// A call nobody waits for (see `Mesh::cast`): run on the receiving core, its reply
    /// dropped there, so no message (and no wake-up of the sender) comes back.
    Cast {
        /// The call.
        envelope: Envelope,
    },
    /// The answer to a call: the envelope it went out in, now holding the reply.
    Reply {
        /// Id of the call answered.
        id: u64,
        /// The reply.
        envelope: Envelope,
    },
}
