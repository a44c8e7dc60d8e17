//! The owning core's side of the data calls: appends, reads, offset lookups, DeleteRecords and
//! producer state, for partitions this core owns.

use std::rc::Rc;
use std::time::Duration;

use super::acks_all;
use super::call::CoreCall;
use super::messages::*;
use super::PartitionStore;
use crate::errors::KafkaError;

/// Appends to partitions this core owns; answered per part, in order. `acks` 0 answers without
/// waiting for disk.
#[derive(Debug)]
pub struct ProduceCall {
    /// acks from the request.
    pub acks: i16,
    /// Produce timeout.
    pub timeout_ms: i32,
    /// Partitions to append to.
    pub parts: Vec<ProducePart>,
}

impl CoreCall for ProduceCall {
    type Reply = Vec<ProduceResult>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<ProduceResult> {
        produce(store, self.acks, self.timeout_ms, self.parts).await
    }
}

/// Reads from partitions this core owns; answered per part, in order.
#[derive(Debug)]
pub struct FetchCall {
    /// Partitions to read.
    pub parts: Vec<FetchPart>,
    /// Response-wide byte budget (max_bytes).
    pub max_bytes: usize,
    /// read_committed isolation: read up to the last stable offset only.
    pub committed: bool,
}

impl CoreCall for FetchCall {
    type Reply = Vec<FetchResult>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<FetchResult> {
        fetch(store, self.parts, self.max_bytes, self.committed).await
    }
}

/// Looks offsets up (ListOffsets); answered per query, in order.
#[derive(Debug)]
pub struct ListOffsetsCall(pub Vec<OffsetQuery>);

impl CoreCall for ListOffsetsCall {
    type Reply = Vec<OffsetAnswer>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<OffsetAnswer> {
        list_offsets(store, self.0).await
    }
}

/// Moves log start offsets forward (DeleteRecords): partition and target offset (-1: the high
/// watermark). Answered per partition, in order, with the new log start offset.
#[derive(Debug)]
pub struct DeleteRecordsCall(pub Vec<(TopicPartition, i64)>);

impl CoreCall for DeleteRecordsCall {
    type Reply = Vec<Result<i64, KafkaError>>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<Result<i64, KafkaError>> {
        delete_records(store, self.0).await
    }
}

/// The producer state of a partition this core owns (DescribeProducers); `None` when the
/// partition is not here.
#[derive(Debug)]
pub struct DescribeProducersCall(pub TopicPartition);

impl CoreCall for DescribeProducersCall {
    type Reply = Option<Vec<(i64, crate::storage::producers::ProducerEntry)>>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Self::Reply {
        let tp = self.0;
        store
            .log(&tp.topic, tp.partition)
            .map(|l| l.producer_entries())
    }
}

async fn produce(
    store: &PartitionStore,
    acks: i16,
    timeout_ms: i32,
    parts: Vec<ProducePart>,
) -> Vec<ProduceResult> {
    let mut results = Vec::with_capacity(parts.len());
    let mut waits = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let (topic, partition) = (&*part.tp.topic, part.tp.partition);
        let Some(log) = store.log(topic, partition) else {
            results.push(ProduceResult::failed(
                store.missing_log_error(topic, partition),
            ));
            continue;
        };
        if acks == -1 {
            if let Err(e) = acks_all::check_isr(store, topic, partition, false) {
                results.push(ProduceResult::failed(e));
                continue;
            }
        }
        match log.append(&part.batches, &part.payload) {
            Ok(a) => {
                let records = part.batches.iter().map(|b| b.records_count.max(0) as u64);
                crate::metrics::hooks::bytes_in(&part.tp.topic, part.payload.len(), records.sum());
                results.push(ProduceResult {
                    error: None,
                    base_offset: a.base_offset,
                    log_start_offset: log.log_start_offset(),
                });
                waits.push((i, log, a));
            }
            Err(e) => results.push(ProduceResult::failed(KafkaError::from(e))),
        }
    }
    if acks == 0 {
        return results;
    }
    let deadline = std::time::Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    for (i, log, appended) in waits {
        let tp = &parts[i].tp;
        let outcome = if acks == -1 {
            acks_all::wait(store, &tp.topic, tp.partition, &log, &appended, deadline).await
        } else {
            acks_all::wait_durable(&log, &appended, deadline).await
        };
        if let Err(e) = outcome {
            results[i].error = Some(e);
            if e != KafkaError::RequestTimedOut && e != KafkaError::NotEnoughReplicasAfterAppend {
                results[i].base_offset = -1;
            }
        }
    }
    results
}

/// Reads `parts` (owned by this core) for a Fetch, within the response-wide `max_bytes`.
///
/// When every partition's own limit fits the budget, the partitions are read at once, so that
/// disk reads of a catching-up consumer overlap instead of queueing one after another.
pub(super) async fn fetch(
    store: &Rc<PartitionStore>,
    parts: Vec<FetchPart>,
    max_bytes: usize,
    committed: bool,
) -> Vec<FetchResult> {
    let wanted: usize = parts.iter().map(|p| p.max_bytes).sum();
    if parts.len() > 1 && wanted <= max_bytes {
        let reads: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let store = store.clone();
                glommio::spawn_local(async move {
                    let limit = part.max_bytes;
                    read_partition(&store, part, limit, committed).await
                })
                .detach()
            })
            .collect();
        let mut out = Vec::with_capacity(reads.len());
        for r in reads {
            out.push(
                r.await
                    .unwrap_or_else(|| FetchResult::failed(KafkaError::UnknownServerError)),
            );
        }
        return out;
    }
    let mut out = Vec::with_capacity(parts.len());
    let mut used = 0usize;
    for part in parts {
        let room = max_bytes.saturating_sub(used);
        // Once the budget is spent, later partitions report their offsets without records.
        let limit = if used == 0 || room > 0 {
            part.max_bytes.min(room.max(1))
        } else {
            0
        };
        let r = read_partition(store, part, limit, committed).await;
        used += r.bytes();
        out.push(r);
    }
    out
}

/// Reads one partition for a Fetch: at most `limit` bytes (the first batch whole), none when
/// `limit` is 0.
async fn read_partition(
    store: &PartitionStore,
    part: FetchPart,
    limit: usize,
    committed: bool,
) -> FetchResult {
    let Some(log) = store.log(&part.tp.topic, part.tp.partition) else {
        return FetchResult::failed(store.missing_log_error(&part.tp.topic, part.tp.partition));
    };
    let lso = log.last_stable_offset();
    let mut r = FetchResult {
        error: None,
        high_watermark: log.high_watermark(),
        last_stable_offset: lso,
        log_start_offset: log.log_start_offset(),
        aborted: Vec::new(),
        records: Vec::new(),
    };
    if limit > 0 {
        match log.read(part.offset, limit, committed).await {
            Ok(recs) => r.records = recs,
            Err(e) => r.error = Some(KafkaError::from(e)),
        }
    }
    if committed && !r.records.is_empty() {
        r.aborted = log.aborted_between(part.offset, lso);
    }
    crate::metrics::hooks::bytes_out(&part.tp.topic, r.bytes());
    r
}

async fn delete_records(
    store: &PartitionStore,
    parts: Vec<(TopicPartition, i64)>,
) -> Vec<Result<i64, KafkaError>> {
    let mut out = Vec::with_capacity(parts.len());
    for (tp, offset) in parts {
        let Some(log) = store.log(&tp.topic, tp.partition) else {
            out.push(Err(store.missing_log_error(&tp.topic, tp.partition)));
            continue;
        };
        out.push(match log.delete_records(offset).await {
            Ok(low) => {
                tracing::info!(topic = %tp.topic, partition = tp.partition, log_start = low, "deleted records");
                Ok(low)
            }
            Err(e) => Err(KafkaError::from(e)),
        });
    }
    out
}

async fn list_offsets(store: &PartitionStore, queries: Vec<OffsetQuery>) -> Vec<OffsetAnswer> {
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let Some(log) = store.log(&q.tp.topic, q.tp.partition) else {
            out.push(OffsetAnswer {
                error: Some(store.missing_log_error(&q.tp.topic, q.tp.partition)),
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
            });
            continue;
        };
        let found = match q.timestamp {
            -2 => Ok(Some((log.log_start_offset(), -1))),
            -1 if q.committed => Ok(Some((log.last_stable_offset(), -1))),
            -1 => Ok(Some((log.high_watermark(), -1))),
            -3 => log.max_timestamp_offset().await,
            ts if ts >= 0 => log.offset_for_timestamp(ts).await,
            _ => {
                out.push(OffsetAnswer {
                    error: Some(KafkaError::InvalidRequest),
                    timestamp: -1,
                    offset: -1,
                    leader_epoch: -1,
                });
                continue;
            }
        };
        out.push(match found {
            Ok(Some((offset, timestamp))) => OffsetAnswer {
                error: None,
                timestamp,
                offset,
                // As Kafka: the current epoch for the latest offset, else the epoch that wrote
                // the offset found.
                leader_epoch: match q.timestamp {
                    -1 => log.leader_epoch(),
                    _ => log.epoch_at(offset),
                },
            },
            Ok(None) => OffsetAnswer {
                error: None,
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
            },
            Err(e) => {
                tracing::warn!(topic = %q.tp.topic, partition = q.tp.partition, error = ?e, "offset lookup failed");
                OffsetAnswer {
                    error: Some(KafkaError::from(e)),
                    timestamp: -1,
                    offset: -1,
                    leader_epoch: -1,
                }
            }
        });
    }
    out
}
