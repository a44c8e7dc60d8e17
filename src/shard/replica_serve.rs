//! The owning core's side of a follower's Fetch (docs/replication.md step 4), as Kafka's
//! `Partition.fetchRecords` for a follower: a fetch that names its last fetched epoch
//! (Fetch v12+, KIP-595) is first checked against the leader's epochs, and answered with the
//! diverging epoch (and no records) when the follower's log went another way; otherwise the
//! follower's fetch offset is recorded as its log end offset ([`super::replica_progress`], which
//! moves the high watermark) and batches are read up to the leader's log end offset, not the
//! high watermark, whatever the isolation level. With nothing to send it long-polls until a
//! log's durable offset passes the follower's offset, the deadline, or a cancel from the
//! fetching core (as consumer long polls, [`super::long_poll`]).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;

use super::call::CoreCall;
use super::messages::TopicPartition;
use super::PartitionStore;
use crate::errors::KafkaError;
use crate::storage::PartitionLog;

/// One partition of a follower's fetch.
#[derive(Debug, Clone)]
pub struct ReplicaPart {
    /// The partition.
    pub tp: TopicPartition,
    /// The follower's log end offset: where it reads from.
    pub offset: i64,
    /// The epoch of the follower's last batch (-1: none, or a request before v12).
    pub last_fetched_epoch: i32,
    /// partition_max_bytes from the request.
    pub max_bytes: usize,
}

/// The answer for one partition of a follower's fetch.
#[derive(Debug, Clone, Default)]
pub struct ReplicaResult {
    /// What went wrong, if anything.
    pub error: Option<KafkaError>,
    /// The leader's high watermark.
    pub high_watermark: i64,
    /// The leader's last stable offset.
    pub last_stable_offset: i64,
    /// The leader's log start offset.
    pub log_start_offset: i64,
    /// Where the follower's log diverges (epoch, end offset), when it does.
    pub diverging: Option<(i32, i64)>,
    /// Whole batches, in order.
    pub records: Vec<Bytes>,
}

impl ReplicaResult {
    /// A partition answered with an error only.
    pub fn failed(error: KafkaError) -> ReplicaResult {
        ReplicaResult {
            error: Some(error),
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            diverging: None,
            records: Vec::new(),
        }
    }

    /// Record bytes in the answer.
    pub fn bytes(&self) -> usize {
        self.records.iter().map(Bytes::len).sum()
    }

    /// Whether the fetch should be answered now for this partition.
    fn answers_now(&self) -> bool {
        self.error.is_some() || self.diverging.is_some() || !self.records.is_empty()
    }
}

/// A follower's fetch of partitions this core owns and leads; answered per part, in order.
#[derive(Debug)]
pub struct ReplicaFetchCall {
    /// The follower's broker id.
    pub replica: i32,
    /// Partitions to read.
    pub parts: Vec<ReplicaPart>,
    /// Response-wide byte budget (max_bytes).
    pub max_bytes: usize,
    /// When to stop waiting for data.
    pub deadline: Instant,
    /// Identifies the wait for [`super::long_poll::CancelWaitCall`].
    pub key: u64,
}

impl CoreCall for ReplicaFetchCall {
    type Reply = Vec<ReplicaResult>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<ReplicaResult> {
        serve(store, self).await
    }

    fn waits_on_purpose(&self) -> bool {
        true
    }
}

/// Reads, and with nothing to answer waits and reads again (see the module comment).
async fn serve(store: &Rc<PartitionStore>, call: ReplicaFetchCall) -> Vec<ReplicaResult> {
    // Registered before the first read, so that a cancel arriving during it is not lost.
    let waiting = store.long_polls.register(call.key);
    let results = read(store, call.replica, &call.parts, call.max_bytes).await;
    if results.iter().any(ReplicaResult::answers_now) || Instant::now() >= call.deadline {
        return results;
    }
    let deadline = call.deadline;
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::new();
    for part in &call.parts {
        if let Some(log) = store.log(&part.tp.topic, part.tp.partition) {
            let offset = part.offset;
            waits.push(Box::pin(
                async move { log.wait_for_end(offset, deadline).await },
            ));
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    waits.push(Box::pin(glommio::timer::sleep(left)));
    waits.push(Box::pin(waiting.cancelled()));
    std::future::poll_fn(|cx| {
        for w in waits.iter_mut() {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
    drop(waits);
    drop(waiting);
    read(store, call.replica, &call.parts, call.max_bytes).await
}

/// Reads every part within the response-wide `max_bytes` (the first batch with data whole).
async fn read(
    store: &PartitionStore,
    replica: i32,
    parts: &[ReplicaPart],
    max_bytes: usize,
) -> Vec<ReplicaResult> {
    let mut out = Vec::with_capacity(parts.len());
    let mut used = 0usize;
    for part in parts {
        let room = max_bytes.saturating_sub(used);
        let limit = if used == 0 || room > 0 {
            part.max_bytes.min(room.max(1))
        } else {
            0
        };
        let r = read_one(store, replica, part, limit).await;
        used += r.bytes();
        out.push(r);
    }
    out
}

/// The end of epoch `requested` in the leader's log, as Kafka's leader answers it: its epoch
/// cache's answer, and for an epoch newer than any batch but not newer than the epoch this
/// log leads at, the log end offset (Kafka assigns the new epoch at the log end when it becomes
/// leader; Runnel's cache gets it with the first batch of the epoch).
pub fn leader_end_for(log: &PartitionLog, requested: i32) -> (i32, i64) {
    let (epoch, end) = log.end_offset_for_epoch(requested);
    if epoch >= 0 && end >= 0 {
        return (epoch, end);
    }
    if requested <= log.leader_epoch() {
        let end = log.log_end_offset();
        let newest = if end > log.log_start_offset() {
            log.epoch_at(end - 1)
        } else {
            -1
        };
        if newest < requested {
            return (if newest >= 0 { newest } else { requested }, end);
        }
    }
    (epoch, end)
}

/// The diverging epoch for a follower at `offset` whose last batch has epoch `last_epoch`, or
/// the error, given the leader's answer `(epoch, end)` for that epoch and its log start offset
/// (Kafka's `Partition.readRecords`): an unknown epoch is OFFSET_OUT_OF_RANGE, so is an offset
/// below the log start; the logs diverge when the leader's epoch is older than the follower's
/// or ends before the follower's offset.
pub fn divergence(
    offset: i64,
    last_epoch: i32,
    leader: (i32, i64),
    log_start: i64,
) -> Result<Option<(i32, i64)>, KafkaError> {
    let (epoch, end) = leader;
    if epoch < 0 || end < 0 {
        return Err(KafkaError::OffsetOutOfRange);
    }
    if offset < log_start {
        return Err(KafkaError::OffsetOutOfRange);
    }
    if epoch < last_epoch || end < offset {
        return Ok(Some((epoch, end)));
    }
    Ok(None)
}

/// Serves one partition (see the module comment).
async fn read_one(
    store: &PartitionStore,
    replica: i32,
    part: &ReplicaPart,
    limit: usize,
) -> ReplicaResult {
    let (topic, partition) = (&part.tp.topic, part.tp.partition);
    let Some(log) = store.log(topic, partition) else {
        return ReplicaResult::failed(store.missing_log_error(topic, partition));
    };
    let mut r = ReplicaResult {
        error: None,
        high_watermark: log.high_watermark(),
        last_stable_offset: log.last_stable_offset(),
        log_start_offset: log.log_start_offset(),
        diverging: None,
        records: Vec::new(),
    };
    if part.last_fetched_epoch >= 0 {
        let leader = leader_end_for(&log, part.last_fetched_epoch);
        match divergence(
            part.offset,
            part.last_fetched_epoch,
            leader,
            r.log_start_offset,
        ) {
            Err(e) => {
                r.error = Some(e);
                return r;
            }
            Ok(Some(d)) => {
                r.diverging = Some(d);
                return r;
            }
            Ok(None) => {}
        }
    }
    if part.offset < r.log_start_offset || part.offset > log.log_end_offset() {
        r.error = Some(KafkaError::OffsetOutOfRange);
        return r;
    }
    if let Err(e) = store
        .progress
        .record(topic, partition, replica, part.offset, Instant::now())
    {
        return ReplicaResult::failed(e);
    }
    crate::metrics::hooks::replica_fetch_served();
    r.high_watermark = log.high_watermark();
    r.last_stable_offset = log.last_stable_offset();
    if limit > 0 {
        match log.read_for_replica(part.offset, limit).await {
            Ok(recs) => r.records = recs,
            Err(e) => r.error = Some(KafkaError::from(e)),
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_follows_kafka_read_records() {
        // Same epoch, the leader's ends at or past the follower's offset: no divergence.
        assert_eq!(divergence(10, 3, (3, 10), 0), Ok(None));
        assert_eq!(divergence(10, 3, (3, 15), 0), Ok(None));
        // The leader's epoch 3 ends before the follower's offset: truncate to 8.
        assert_eq!(divergence(10, 3, (3, 8), 0), Ok(Some((3, 8))));
        // The leader never had epoch 3: its largest older epoch and where it ends.
        assert_eq!(divergence(10, 3, (2, 12), 0), Ok(Some((2, 12))));
        // Unknown epoch, or an offset below the log start: OFFSET_OUT_OF_RANGE.
        assert_eq!(
            divergence(10, 3, (-1, -1), 0),
            Err(KafkaError::OffsetOutOfRange)
        );
        assert_eq!(
            divergence(10, 3, (3, 20), 11),
            Err(KafkaError::OffsetOutOfRange)
        );
    }
}
