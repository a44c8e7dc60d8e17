//! Fetch: reads whole batches from the owning cores, long-polls until `min_bytes` are available
//! or `max_wait_ms` passes (woken as soon as data arrives), and returns the records as the
//! cached `Bytes` slices themselves (see [`crate::kafka::rope`]).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};

use super::routing::scatter;
use crate::errors;
use crate::kafka::dispatch::{Reply, RequestContext};
use crate::kafka::rope::{records_field, Substitutions};
use crate::shard::messages::{FetchPart, FetchResult, ShardRequest, ShardResponse, TopicPartition};
use crate::shard::Shard;

/// Longest long-poll honoured, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

struct Slot {
    topic_index: usize,
    partition: i32,
    /// Owner core and the part, or an early error code.
    target: Result<(usize, FetchPart), i16>,
}

fn error_result(code: i16) -> FetchResult {
    FetchResult {
        error_code: code,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted: Vec::new(),
        records: Vec::new(),
    }
}

/// Handles Fetch.
pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> Reply {
    let shard = &ctx.shard;
    let table = shard.topic_table();
    let use_ids = ctx.version >= 13;
    let mut topics_out: Vec<FetchableTopicResponse> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    for ft in &req.topics {
        let meta = if use_ids {
            table.by_id(ft.topic_id)
        } else {
            table.get(ft.topic.0.as_str())
        };
        let mut tr = FetchableTopicResponse::default();
        tr.topic = ft.topic.clone();
        tr.topic_id = ft.topic_id;
        let ti = topics_out.len();
        topics_out.push(tr);
        for fp in &ft.partitions {
            let target = match meta {
                None if use_ids => Err(errors::UNKNOWN_TOPIC_ID),
                None => Err(errors::UNKNOWN_TOPIC_OR_PARTITION),
                Some(m) => match shard.owner_of(&m.name, fp.partition) {
                    None => Err(errors::UNKNOWN_TOPIC_OR_PARTITION),
                    Some(owner) => Ok((
                        owner,
                        FetchPart {
                            tp: TopicPartition {
                                topic: Arc::from(m.name.as_str()),
                                partition: fp.partition,
                            },
                            offset: fp.fetch_offset,
                            max_bytes: fp.partition_max_bytes.max(0) as usize,
                        },
                    )),
                },
            };
            slots.push(Slot {
                topic_index: ti,
                partition: fp.partition,
                target,
            });
        }
    }
    let max_bytes = req.max_bytes.max(0) as usize;
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let committed = req.isolation_level == 1;
    let mut results = read_all(shard, &slots, max_bytes, committed).await;
    loop {
        let total: usize = results.iter().map(|r| r.bytes()).sum();
        let any_error = results.iter().any(|r| r.error_code != errors::NONE);
        if total >= min_bytes.max(1) || any_error || Instant::now() >= deadline {
            break;
        }
        wait_for_data(shard, &slots, &results, committed, deadline).await;
        if Instant::now() >= deadline {
            // One last read: data may have arrived just as the timer fired.
            results = read_all(shard, &slots, max_bytes, committed).await;
            break;
        }
        results = read_all(shard, &slots, max_bytes, committed).await;
    }
    // Enforce the response-wide max_bytes: whole partitions are dropped once it is reached, but
    // the first partition with data is always kept.
    let mut used = 0usize;
    let mut subs = Substitutions::default();
    for (slot, mut r) in slots.iter().zip(results) {
        let b = r.bytes();
        if used > 0 && used + b > max_bytes {
            r.records.clear();
        }
        used += r.bytes();
        let mut pd = PartitionData::default();
        pd.partition_index = slot.partition;
        pd.error_code = r.error_code;
        pd.high_watermark = r.high_watermark;
        pd.last_stable_offset = r.last_stable_offset;
        if ctx.version >= 5 {
            pd.log_start_offset = r.log_start_offset;
        }
        pd.aborted_transactions = committed.then(|| {
            r.aborted
                .iter()
                .map(|&(pid, first)| {
                    let mut a = AbortedTransaction::default();
                    a.producer_id = kafka_protocol::messages::ProducerId(pid);
                    a.first_offset = first;
                    a
                })
                .collect()
        });
        pd.preferred_read_replica = kafka_protocol::messages::BrokerId(-1);
        pd.records = Some(records_field(std::mem::take(&mut r.records), &mut subs));
        topics_out[slot.topic_index].partitions.push(pd);
    }
    let mut resp = FetchResponse::default();
    resp.responses = topics_out;
    resp.session_id = 0;
    Reply {
        body: ResponseKind::Fetch(resp),
        subs,
    }
}

async fn read_all(
    shard: &Rc<Shard>,
    slots: &[Slot],
    max_bytes: usize,
    committed: bool,
) -> Vec<FetchResult> {
    let mut out: Vec<Option<FetchResult>> = Vec::with_capacity(slots.len());
    let mut items = Vec::new();
    let mut where_: Vec<usize> = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        match &s.target {
            Err(code) => out.push(Some(error_result(*code))),
            Ok((owner, part)) => {
                out.push(None);
                items.push((*owner, part.clone()));
                where_.push(i);
            }
        }
    }
    let got = scatter(
        shard,
        items,
        |parts| ShardRequest::Fetch {
            parts,
            max_bytes,
            committed,
        },
        |r| match r {
            ShardResponse::Fetch(v) => Some(v),
            _ => None,
        },
        || error_result(errors::NOT_LEADER_OR_FOLLOWER),
    )
    .await;
    for (i, r) in where_.into_iter().zip(got) {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| error_result(errors::UNKNOWN_SERVER_ERROR)))
        .collect()
}

/// Waits until any partition of the fetch gets data beyond what was just read, or the deadline.
async fn wait_for_data(
    shard: &Rc<Shard>,
    slots: &[Slot],
    results: &[FetchResult],
    committed: bool,
    deadline: Instant,
) {
    let mut per_owner: Vec<(usize, Vec<(TopicPartition, i64)>)> = Vec::new();
    for (s, r) in slots.iter().zip(results) {
        if let Ok((owner, part)) = &s.target {
            // Wake when the high watermark (or last stable offset) passes what this read saw.
            let seen = if committed {
                r.last_stable_offset
            } else {
                r.high_watermark
            };
            let watch = part.offset.max(seen);
            match per_owner.iter_mut().find(|(o, _)| o == owner) {
                Some((_, v)) => v.push((part.tp.clone(), watch)),
                None => per_owner.push((*owner, vec![(part.tp.clone(), watch)])),
            }
        }
    }
    if per_owner.is_empty() {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        return;
    }
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()>>>> = per_owner
        .into_iter()
        .map(|(owner, parts)| {
            let s = shard.clone();
            Box::pin(async move {
                s.call(
                    owner,
                    ShardRequest::WaitForData {
                        parts,
                        committed,
                        deadline,
                    },
                )
                .await;
            }) as Pin<Box<dyn Future<Output = ()>>>
        })
        .collect();
    std::future::poll_fn(|cx| {
        for w in waits.iter_mut() {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}
