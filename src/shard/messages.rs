//! What cores say to each other over the channel mesh.
//!
//! Every message is `Send` and carries record data as `bytes::Bytes`, so forwarding a produce or
//! a fetch between cores moves reference-counted slices, never copies of the records.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::cluster::topics::{CreateError, TopicMeta};
use crate::cluster::TopicTable;
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
    /// Kafka error code (0 on success).
    pub error_code: i16,
    /// Offset of the first record appended, -1 on error.
    pub base_offset: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
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
    /// Kafka error code (0 on success).
    pub error_code: i16,
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
    pub fn error(code: i16) -> FetchResult {
        FetchResult {
            error_code: code,
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
    /// Kafka error code.
    pub error_code: i16,
    /// Timestamp found (-1 when not applicable).
    pub timestamp: i64,
    /// Offset found (-1 when none).
    pub offset: i64,
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

/// Outcome of one part of a topic-table change: Kafka error code and message on failure.
pub type ChangeResult = Result<(), (i16, String)>;

/// A request from one core to another.
#[derive(Debug)]
pub enum ShardRequest {
    /// Append to partitions owned by the receiver; `acks` 0 answers without waiting for disk.
    Produce {
        /// acks from the request.
        acks: i16,
        /// Produce timeout.
        timeout_ms: i32,
        /// Partitions to append to.
        parts: Vec<ProducePart>,
    },
    /// Read from partitions owned by the receiver.
    Fetch {
        /// Partitions to read.
        parts: Vec<FetchPart>,
        /// Response-wide byte budget (max_bytes).
        max_bytes: usize,
        /// read_committed isolation: read up to the last stable offset only.
        committed: bool,
    },
    /// Long poll: when any partition's high watermark (or last stable offset) passes its
    /// watch offset, read the partitions like `Fetch` and answer with the results; answer
    /// `Fetch` with no results at the deadline or when cancelled.
    WaitAndFetch {
        /// Partitions to read once woken.
        parts: Vec<FetchPart>,
        /// Offset to watch, one per part.
        watch: Vec<i64>,
        /// Response-wide byte budget (max_bytes).
        max_bytes: usize,
        /// read_committed isolation: watch and read up to the last stable offset.
        committed: bool,
        /// When to give up.
        deadline: Instant,
        /// Identifies the wait for [`ShardRequest::CancelWait`].
        key: u64,
    },
    /// End the long poll with this key (another core answered the fetch first).
    CancelWait(u64),
    /// Look offsets up.
    ListOffsets(Vec<OffsetQuery>),
    /// Move log start offsets forward (DeleteRecords): partition and target offset (-1: the
    /// high watermark).
    DeleteRecords(Vec<(TopicPartition, i64)>),
    /// Install a new topic table (broadcast by core 0 after every change).
    ApplyTopics(Arc<TopicTable>),
    /// Create topics (sent to core 0, the metadata owner).
    CreateTopics {
        /// Topics to create.
        topics: Vec<NewTopic>,
        /// Check only, create nothing.
        validate_only: bool,
    },
    /// Delete topics by name (sent to core 0).
    DeleteTopics(Vec<String>),
    /// Change topic config overrides (sent to core 0).
    AlterTopicConfigs {
        /// One change per topic.
        changes: Vec<TopicConfigChange>,
        /// Check only, change nothing.
        validate_only: bool,
    },
    /// Change dynamic broker or group configs (sent to core 0).
    AlterDynamicConfigs {
        /// One change per resource, in request order.
        changes: Vec<crate::cluster::dynamic_config::alter::DynamicChange>,
        /// Check only, change nothing.
        validate_only: bool,
    },
    /// Install a new broker configuration (broadcast by core 0 after a dynamic config change).
    ApplyConfig(Arc<crate::config::Config>),
    /// Grow topics to a number of partitions (sent to core 0).
    CreatePartitions {
        /// (topic, new total partition count).
        topics: Vec<(String, i32)>,
        /// Check only, change nothing.
        validate_only: bool,
    },
    /// Sizes of the partitions the receiver owns (DescribeLogDirs).
    PartitionSizes,
    /// A group request for the coordinating core.
    Group(Box<crate::group::GroupCall>),
    /// A transaction request for the coordinating core.
    Txn(Box<crate::txn::TxnCall>),
    /// The producer state of a partition owned by the receiver (DescribeProducers).
    DescribeProducers(TopicPartition),
    /// Write commit or abort markers for a producer to partitions owned by the receiver.
    WriteMarkers {
        /// Producer whose transaction ends.
        producer_id: i64,
        /// Its epoch.
        epoch: i16,
        /// Commit (true) or abort.
        commit: bool,
        /// Partitions of the transaction on the receiver.
        parts: Vec<TopicPartition>,
    },
}

/// The answer to a [`ShardRequest`], same variant order.
#[derive(Debug)]
pub enum ShardResponse {
    /// Per-part results, in request order.
    Produce(Vec<ProduceResult>),
    /// Per-part results, in request order.
    Fetch(Vec<FetchResult>),
    /// CancelWait completion.
    Done,
    /// ApplyTopics completion: the partitions whose logs could not be opened.
    Applied(Vec<super::partitions::OpenFailure>),
    /// Per-query answers, in request order.
    ListOffsets(Vec<OffsetAnswer>),
    /// Per-partition (error code, new log start offset) of DeleteRecords, in request order.
    DeleteRecords(Vec<(i16, i64)>),
    /// Per-topic outcome of CreateTopics.
    Created(Vec<Result<TopicMeta, CreateError>>),
    /// Per-topic outcome of DeleteTopics: the deleted topic, or None when unknown.
    Deleted(Vec<Option<TopicMeta>>),
    /// Per-topic outcome of AlterTopicConfigs or CreatePartitions, in request order.
    Changed(Vec<ChangeResult>),
    /// (topic, partition, bytes on disk) of every partition the receiver owns.
    PartitionSizes(Vec<(String, i32, u64)>),
    /// Answer to a group request.
    Group(Box<crate::group::GroupReply>),
    /// Answer to a transaction request.
    Txn(Box<crate::txn::TxnReply>),
    /// Per-partition error codes of WriteMarkers, in request order.
    Markers(Vec<i16>),
    /// Producers of a partition (None when the partition is not here).
    Producers(Option<Vec<(i64, crate::storage::producers::ProducerEntry)>>),
    /// The target core could not be reached (shutting down).
    Unavailable,
}

/// A message on the mesh.
#[derive(Debug)]
pub enum MeshMessage {
    /// A request, answered with a `Response` carrying the same id to core `from`.
    Request {
        /// Correlation id chosen by the sender.
        id: u64,
        /// Sending core.
        from: usize,
        /// The request.
        request: ShardRequest,
    },
    /// A response.
    Response {
        /// Id of the request answered.
        id: u64,
        /// The answer.
        response: ShardResponse,
    },
}
