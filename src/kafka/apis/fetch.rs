//! Fetch: reads whole batches from the owning cores, long-polls until `min_bytes` are available
//! or `max_wait_ms` passes (the owner that sees data first answers with it, see
//! [`crate::shard::long_poll`]), and returns the records as the cached `Bytes` slices
//! themselves (see [`crate::kafka::rope`]).

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
use crate::shard::call::Unavailable;
use crate::shard::handlers::FetchCall;
use crate::shard::long_poll::{CancelWaitCall, WaitAndFetchCall};
use crate::shard::messages::{FetchPart, FetchResult, TopicPartition};
use crate::shard::Shard;

/// Longest long-poll honoured, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

struct Slot {
    topic_index: usize,
    partition: i32,
    /// Owner core and the part, or an early error code.
    target: Result<(usize, FetchPart), i16>,
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
        let answered = wait_and_read(shard, &slots, &mut results, max_bytes, committed, deadline);
        if !answered.await {
            // No owner answered (none to wait on, or an owner core gone): read once more.
            results = read_all(shard, &slots, max_bytes, committed).await;
            break;
        }
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
            Err(code) => out.push(Some(FetchResult::error(*code))),
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
        |parts| FetchCall {
            parts,
            max_bytes,
            committed,
        },
        || FetchResult::error(errors::NOT_LEADER_OR_FOLLOWER),
    )
    .await;
    for (i, r) in where_.into_iter().zip(got) {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| FetchResult::error(errors::UNKNOWN_SERVER_ERROR)))
        .collect()
}

/// What one owner core answers a long poll with.
type Answer = Result<Vec<FetchResult>, Unavailable>;

/// One owner core's share of a long poll: its partitions, as indexes into the slots.
struct OwnerWait {
    owner: usize,
    slots: Vec<usize>,
    parts: Vec<FetchPart>,
    watch: Vec<i64>,
}

/// Long-polls every owner core of the fetch until one of them sees data past what `results`
/// holds (or the deadline passes), then cancels the other cores' waits, which answer at once
/// with what they hold, and puts every core's fresh results into `results`. Returns false
/// when no core answered with results (an owner core gone).
async fn wait_and_read(
    shard: &Rc<Shard>,
    slots: &[Slot],
    results: &mut [FetchResult],
    max_bytes: usize,
    committed: bool,
    deadline: Instant,
) -> bool {
    let mut owners: Vec<OwnerWait> = Vec::new();
    for (i, (s, r)) in slots.iter().zip(results.iter()).enumerate() {
        if let Ok((owner, part)) = &s.target {
            // Wake when the high watermark (or last stable offset) passes what this read saw.
            let seen = if committed {
                r.last_stable_offset
            } else {
                r.high_watermark
            };
            let at = match owners.iter().position(|o| o.owner == *owner) {
                Some(k) => k,
                None => {
                    owners.push(OwnerWait {
                        owner: *owner,
                        slots: Vec::new(),
                        parts: Vec::new(),
                        watch: Vec::new(),
                    });
                    owners.len() - 1
                }
            };
            let o = &mut owners[at];
            o.slots.push(i);
            o.parts.push(part.clone());
            o.watch.push(part.offset.max(seen));
        }
    }
    if owners.is_empty() {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        return false;
    }
    let keys: Vec<u64> = owners
        .iter()
        .map(|_| shard.long_polls.new_key(shard.id))
        .collect();
    let mut waits: Vec<Option<Pin<Box<dyn Future<Output = Answer>>>>> = owners
        .iter_mut()
        .zip(&keys)
        .map(|(o, &key)| {
            let s = shard.clone();
            let call = WaitAndFetchCall {
                parts: std::mem::take(&mut o.parts),
                watch: std::mem::take(&mut o.watch),
                max_bytes,
                committed,
                deadline,
                key,
            };
            let owner = o.owner;
            Some(Box::pin(async move { s.call(owner, call).await })
                as Pin<Box<dyn Future<Output = Answer>>>)
        })
        .collect();
    let first = std::future::poll_fn(|cx| {
        for (k, w) in waits.iter_mut().enumerate() {
            if let Some(f) = w {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    *w = None;
                    return Poll::Ready((k, r));
                }
            }
        }
        Poll::Pending
    })
    .await;
    // The other owners stop waiting and answer with what they hold by now.
    for (k, w) in waits.iter().enumerate() {
        if w.is_none() {
            continue;
        }
        let (owner, key) = (owners[k].owner, keys[k]);
        if owner == shard.id {
            shard.long_polls.cancel(key);
        } else {
            let s = shard.clone();
            glommio::spawn_local(async move {
                let _ = s.call(owner, CancelWaitCall(key)).await;
            })
            .detach();
        }
    }
    let mut answers: Vec<Option<Answer>> = waits.iter().map(|_| None).collect();
    answers[first.0] = Some(first.1);
    for (k, w) in waits.into_iter().enumerate() {
        if let Some(f) = w {
            answers[k] = Some(f.await);
        }
    }
    let mut answered = false;
    for (o, answer) in owners.iter().zip(answers) {
        if let Some(Ok(fresh)) = answer {
            if fresh.len() == o.slots.len() {
                for (&i, r) in o.slots.iter().zip(fresh) {
                    results[i] = r;
                }
                answered = true;
            }
        }
    }
    answered
}
