//! What the coordinators may do with the partition store: [`InternalTopics`], their handle on
//! this core's partition store. Writes to internal topics (`__consumer_offsets`, `__transaction_state`)
//! by the coordinators that own them are one record batch built on this core, appended to a
//! partition this core owns, and synced before the caller goes on; [`replay`] reads such a
//! partition back at startup. The transaction coordinator also writes its commit and abort
//! markers to the partitions a core owns through it.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::acks_all;
use super::coordinator_loads::Lead;
use super::messages::TopicPartition;
use super::PartitionStore;
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::errors::KafkaError;
use crate::storage::batch::{self, validate_batches};
use crate::storage::validate::{self, Origin};
use crate::storage::{LogError, PartitionLog};

/// How long a transaction marker waits for the ISR (Kafka's WriteTxnMarkers uses the broker's
/// `request.timeout.ms`, 30 s by default); REQUEST_TIMED_OUT after it, and the coordinator
/// writes it again.
const MARKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why an internal write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalWriteError {
    /// This core does not own the partition (or it is not open yet).
    NotHere,
    /// The partition's producer state refused the batch.
    Producer(crate::storage::producers::ProducerFault),
    /// The batch could not be encoded (the record encoder refused it).
    Encode,
    /// The encoded batch failed its own framing check.
    Framing(crate::storage::batch::BatchError),
    /// The log refused the batch or could not make it durable.
    Log(LogError),
    /// The batch did not reach the ISR as acks=all requires (Kafka writes coordinator
    /// records with acks=-1): NOT_ENOUGH_REPLICAS (before the append),
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER (the
    /// leadership changed while it waited).
    Replication(KafkaError),
}

impl InternalWriteError {
    /// The error a coordinator answers for a failed write of its records, as Kafka's
    /// coordinators map their append errors (`GroupMetadataManager
    /// .appendGroupMetadataErrorToResponseError`, `TransactionStateManager
    /// .appendTransactionToLog`): the ISR too small or the wait timed out:
    /// COORDINATOR_NOT_AVAILABLE (the client retries); the leadership lost or a storage
    /// error: NOT_COORDINATOR (the client looks the coordinator up again). A producer state
    /// refusal is the caller's to map.
    pub fn coordinator_error(&self) -> KafkaError {
        match self {
            InternalWriteError::NotHere => KafkaError::NotCoordinator,
            InternalWriteError::Producer(f) => KafkaError::from(*f),
            InternalWriteError::Replication(
                KafkaError::NotLeaderOrFollower | KafkaError::KafkaStorageError,
            ) => KafkaError::NotCoordinator,
            InternalWriteError::Encode
            | InternalWriteError::Framing(_)
            | InternalWriteError::Log(_)
            | InternalWriteError::Replication(_) => KafkaError::CoordinatorNotAvailable,
        }
    }
}

/// The producer a transactional internal batch is written for (TxnOffsetCommit).
#[derive(Debug, Clone, Copy)]
pub struct TxnProducer {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
}

use crate::clock::now_ms;

/// The coordinators' narrow view of this core's partition store: the broker configuration and
/// topic table they read, whether this core has a partition open, and appends to internal
/// partitions.
#[derive(Clone)]
pub struct InternalTopics(Rc<PartitionStore>);

impl InternalTopics {
    /// The internal-topics handle of `store`'s core.
    pub fn new(store: &Rc<PartitionStore>) -> InternalTopics {
        InternalTopics(store.clone())
    }

    /// The current broker configuration.
    pub fn config(&self) -> Arc<Config> {
        self.0.view().config()
    }

    /// The current topic table snapshot.
    pub fn topic_table(&self) -> Arc<TopicTable> {
        self.0.view().topic_table()
    }

    /// Core owning `topic`/`partition`, if the partition exists here and this broker may
    /// write to it (not a follower replica of a replicated partition).
    pub fn owner_of(&self, topic: &str, partition: i32) -> Option<usize> {
        self.0.view().leader_owner(topic, partition)
    }

    /// Whether this core has `topic`/`partition` open.
    pub fn is_open_here(&self, topic: &str, partition: i32) -> bool {
        self.0.log(topic, partition).is_some()
    }

    /// This broker's leadership of `topic`/`partition` when its log is open on this core
    /// (with the log): [`Lead::Single`] for a partition with one replica (or, on a single
    /// node, one the cluster snapshot does not know yet), [`Lead::Epoch`] for a replicated
    /// partition this broker leads; `None` for one another broker leads, that is not here,
    /// or that a broker of a cluster does not see in its snapshot yet.
    pub fn leads(&self, topic: &str, partition: i32) -> Option<(Lead, Rc<PartitionLog>)> {
        let log = self.0.log(topic, partition)?;
        let id = self.topic_table().get(topic).map(|t| t.uuid())?;
        let state = self.0.cluster().state();
        let me = self.config().node_id;
        let image = state
            .image
            .topic_by_name(topic)
            .filter(|t| t.topic_id == id)
            .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?).cloned());
        match image {
            Some(p) if p.replicas.len() >= 2 => {
                (p.leader == me).then_some((Lead::Epoch(p.leader_epoch), log))
            }
            Some(_) => Some((Lead::Single, log)),
            // Not in the snapshot yet: a single node serves it as before; a broker of a
            // cluster waits for a snapshot that says who leads it (after a restart its first
            // snapshot may be older than the topic).
            None => (state.image.brokers().len() <= 1).then_some((Lead::Single, log)),
        }
    }

    /// Appends `entries` (key, value or tombstone) as one batch to `topic`/`partition` and
    /// waits, as acks=all does, until every ISR member has it (the high watermark passed it;
    /// on a partition with one replica: until it is durable here), at most `timeout`. With
    /// `producer` the batch is transactional.
    pub async fn append(
        &self,
        topic: &str,
        partition: i32,
        entries: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<TxnProducer>,
        timeout: Duration,
    ) -> Result<(), InternalWriteError> {
        append_records(&self.0, topic, partition, entries, producer, timeout).await
    }

    /// Appends a commit or abort marker for a producer to each of `parts` (partitions this core
    /// owns) and waits until every ISR member has them (durable here, and the high watermark
    /// past them: acks=all without the minimum, as Kafka); answered per partition, in order
    /// (REQUEST_TIMED_OUT after [`MARKER_TIMEOUT`]). A marker older
    /// than the producer's epoch on the partition gets INVALID_PRODUCER_EPOCH.
    pub async fn write_markers(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        parts: &[TopicPartition],
    ) -> Vec<Result<(), KafkaError>> {
        let store = &self.0;
        let mut written = vec![Ok(()); parts.len()];
        let mut waits = Vec::new();
        for (i, tp) in parts.iter().enumerate() {
            if store.view().follows(&tp.topic, tp.partition) {
                // A follower's log takes only its leader's batches.
                written[i] = Err(KafkaError::NotLeaderOrFollower);
                continue;
            }
            let Some(log) = store.log(&tp.topic, tp.partition) else {
                written[i] = Err(
                    if store.view().owner_of(&tp.topic, tp.partition).is_some() {
                        KafkaError::NotLeaderOrFollower
                    } else {
                        KafkaError::UnknownTopicOrPartition
                    },
                );
                continue;
            };
            // A marker of an older epoch than the partition has seen comes from a fenced
            // coordinator round: refused as Kafka refuses it.
            if log.producer_epoch(producer_id).is_some_and(|e| epoch < e) {
                written[i] = Err(KafkaError::InvalidProducerEpoch);
                continue;
            }
            match log.append_marker(producer_id, epoch, commit, 0) {
                Ok(a) => waits.push((i, tp, log, a)),
                Err(e) => {
                    tracing::warn!(topic = %tp.topic, partition = tp.partition, error = ?e, "marker append failed");
                    written[i] = Err(KafkaError::KafkaStorageError);
                }
            }
        }
        // As Kafka: every ISR member has the marker before it is answered (acks=all, no
        // min.insync.replicas check), within `request.timeout.ms`'s default.
        let deadline = std::time::Instant::now() + MARKER_TIMEOUT;
        for (i, tp, log, appended) in waits {
            let replicated = super::acks_all::wait_replicated(
                store,
                &tp.topic,
                tp.partition,
                &log,
                &appended,
                deadline,
            );
            written[i] = match replicated.await {
                Ok(()) => Ok(()),
                Err(
                    e @ (KafkaError::RequestTimedOut
                    | KafkaError::NotLeaderOrFollower
                    | KafkaError::KafkaStorageError),
                ) => Err(e),
                Err(_) => Err(KafkaError::KafkaStorageError),
            };
        }
        written
    }
}

/// Appends `entries` (key, value or tombstone) as one batch to `topic`/`partition` and waits
/// until the ISR has it (acks=all, with the `min.insync.replicas` check before and after), at
/// most `timeout`. With `producer` the batch is transactional (no sequence numbers).
async fn append_records(
    store: &PartitionStore,
    topic: &str,
    partition: i32,
    entries: Vec<(Bytes, Option<Bytes>)>,
    producer: Option<TxnProducer>,
    timeout: Duration,
) -> Result<(), InternalWriteError> {
    if entries.is_empty() {
        return Ok(());
    }
    if store.view().follows(topic, partition) {
        // A follower's log takes only its leader's batches.
        return Err(InternalWriteError::NotHere);
    }
    let Some(log) = store.log(topic, partition) else {
        return Err(InternalWriteError::NotHere);
    };
    let deadline = Instant::now() + timeout;
    acks_all::check_isr(store, topic, partition, false).map_err(InternalWriteError::Replication)?;
    let now = now_ms();
    let recs: Vec<Record> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: producer.map_or(-1, |p| p.producer_id),
            producer_epoch: producer.map_or(-1, |p| p.epoch),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: now,
            key: Some(k),
            value: v,
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &recs, &opts).map_err(|e| {
        tracing::warn!(topic, partition, error = %e, "encoding an internal batch failed");
        InternalWriteError::Encode
    })?;
    let payload = buf.freeze();
    let batches = validate_batches(&payload, usize::MAX).map_err(InternalWriteError::Framing)?;
    let map = |e: LogError| match e {
        LogError::Producer(f) => InternalWriteError::Producer(f),
        other => {
            tracing::warn!(topic, partition, error = ?other, "internal write failed");
            InternalWriteError::Log(other)
        }
    };
    let appended = log.append(&batches, &payload).map_err(map)?;
    acks_all::wait(store, topic, partition, &log, &appended, deadline)
        .await
        .map_err(|e| {
            tracing::warn!(topic, partition, error = ?e, "internal write not replicated");
            InternalWriteError::Replication(e)
        })
}

/// Decodes every record of an internal topic's partition, oldest first, and hands each to
/// `visit`. Stops at the first unreadable batch. Returns the number of records seen.
///
/// It reads what this broker has: up to its durable offset, not the high watermark (a
/// follower that just became leader has records its old high watermark did not cover yet, as
/// Kafka's coordinators load up to the log end). Records that become durable while it reads
/// (markers written meanwhile) are replayed too: when it returns, everything durable was seen.
pub async fn replay<F: FnMut(Record)>(log: &PartitionLog, topic: &str, mut visit: F) -> u64 {
    let mut offset = log.log_start_offset();
    let mut seen = 0u64;
    while offset < log.durable_offset() {
        let chunks = match log.read_for_replica(offset, 1 << 20).await {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(topic, offset, error = ?e, "cannot read internal topic");
                break;
            }
        };
        for chunk in chunks {
            // Each batch is validated before it is decoded: a count read from disk never
            // sizes anything ([`validate::decode`]).
            let mut at = 0;
            while at < chunk.len() {
                let Some(info) = batch::peek_header(&chunk, at) else {
                    tracing::error!(topic, offset, "bad batch in internal topic");
                    return seen;
                };
                let one = chunk.slice(at..at + info.len);
                let Ok(set) = validate::decode(&one, &info, Origin::Stored) else {
                    tracing::error!(topic, offset, "bad batch in internal topic");
                    return seen;
                };
                for r in set.records {
                    offset = offset.max(r.offset + 1);
                    seen += 1;
                    visit(r);
                }
                offset = offset.max(info.next_offset());
                at += info.len;
            }
        }
    }
    seen
}
