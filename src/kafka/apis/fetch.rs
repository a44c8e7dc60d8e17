//! Fetch: reads whole batches from the owning cores (one [`PartitionPlan`], run once per read;
//! its per-core shares are also what the long poll waits on), long-polls until `min_bytes` are
//! available or `max_wait_ms` passes (the owner that sees data first answers with it, see
//! [`crate::shard::long_poll`]), and returns the records as the cached `Bytes` slices
//! themselves (see [`crate::kafka::rope`]).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};

use runnel_controller::MetadataImage;

use super::authz::Authz;
use super::leader_epoch::EpochCheck;
use super::leader_hint::{endpoint, leader_of};
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::{Reply, RequestContext};
use crate::kafka::rope::{records_field, Substitutions};
use crate::security::acl::Operation;
use crate::shard::call::Unavailable;
use crate::shard::handlers::FetchCall;
use crate::shard::long_poll::{CancelWaitCall, WaitAndFetchCall};
use crate::shard::messages::{FetchPart, FetchResult, TopicPartition};
use crate::shard::{ClusterView, Mesh, PartitionStore};

/// Longest long-poll honoured, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// Where a partition's answer goes in the response.
struct Slot {
    topic_index: usize,
    partition: i32,
}

/// The fetch's partitions: answered at once with an error, or a part for the owning core.
type FetchPlan = PartitionPlan<FetchPart, FetchResult>;

/// Handles Fetch.
pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> Reply {
    // A follower broker's fetch (replica id >= 0; v15+ carries it in replica_state).
    let replica = if ctx.version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    if replica >= 0 {
        return super::replica_fetch::handle(ctx, req, replica).await;
    }
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let table = view.topic_table();
    let use_ids = ctx.version >= 13;
    let mut topics_out: Vec<FetchableTopicResponse> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut plan = FetchPlan::new();
    // KIP-320 (v9+): the client's leader epoch against the partition's current one.
    let mut epochs = EpochCheck::new(&ctx.core.cluster);
    // READ on each topic, as KafkaApis checks a consumer's fetch (by name: before whether
    // the topic exists; by id: after, as unknown ids are UNKNOWN_TOPIC_ID).
    let authz = Authz::of(ctx);
    let sent_epoch = |fp: &kafka_protocol::messages::fetch_request::FetchPartition| {
        if ctx.version >= 9 {
            fp.current_leader_epoch
        } else {
            -1
        }
    };
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
        let name = meta.map_or(ft.topic.0.as_str(), |m| m.name.as_str());
        let denied = (meta.is_some() || !use_ids)
            .then(|| authz.topic(Operation::Read, name).err())
            .flatten();
        for fp in &ft.partitions {
            if let Some(e) = denied {
                plan.answer(FetchResult::failed(e));
                slots.push(Slot {
                    topic_index: ti,
                    partition: fp.partition,
                });
                continue;
            }
            match meta {
                None if use_ids => plan.answer(FetchResult::failed(KafkaError::UnknownTopicId)),
                None => plan.answer(FetchResult::failed(KafkaError::UnknownTopicOrPartition)),
                Some(m) => match view.leader_owner(&m.name, fp.partition) {
                    None => plan.answer(FetchResult::failed(view.not_here(&m.name, fp.partition))),
                    Some(owner) => match epochs.check(m, fp.partition, sent_epoch(fp)) {
                        Some(error) => plan.answer(FetchResult::failed(error)),
                        None => plan.send(
                            owner,
                            FetchPart {
                                tp: TopicPartition {
                                    topic: Arc::from(m.name.as_str()),
                                    partition: fp.partition,
                                },
                                offset: fp.fetch_offset,
                                max_bytes: fp.partition_max_bytes.max(0) as usize,
                            },
                        ),
                    },
                },
            };
            slots.push(Slot {
                topic_index: ti,
                partition: fp.partition,
            });
        }
    }
    let max_bytes = req.max_bytes.max(0) as usize;
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let committed = req.isolation_level == 1;
    let store = &ctx.core.store;
    let mut results = first_read(store, mesh, &plan, max_bytes, committed, deadline).await;
    loop {
        let total: usize = results.iter().map(|r| r.bytes()).sum();
        let any_error = results.iter().any(|r| r.error.is_some());
        if total >= min_bytes.max(1) || any_error || Instant::now() >= deadline {
            break;
        }
        let answered = wait_and_read(
            store,
            mesh,
            &plan,
            &mut results,
            max_bytes,
            committed,
            deadline,
            Round::Wait,
        );
        if answered.await == 0 {
            // No owner answered (none to wait on, or an owner core gone): read once more.
            results = read_all(mesh, &plan, max_bytes, committed).await;
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
        pd.error_code = errors::code(r.error);
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
    if ctx.version >= 12 {
        hint_leaders(
            &mut resp,
            &ctx.core.cluster,
            ctx.version,
            &ctx.listener.name,
        );
    }
    Reply {
        body: ResponseKind::Fetch(resp),
        subs,
    }
}

/// Reads every partition of the plan once (the partitions answered at once keep their error).
async fn read_all(
    mesh: &Rc<Mesh>,
    plan: &FetchPlan,
    max_bytes: usize,
    committed: bool,
) -> Vec<FetchResult> {
    plan.run_again(
        mesh,
        |parts| FetchCall {
            parts,
            max_bytes,
            committed,
        },
        || FetchResult::failed(KafkaError::NotLeaderOrFollower),
    )
    .await
}

/// The fetch's first read. When every partition has an owner core, each owner reads and, with
/// nothing to answer, long-polls in the same call ([`WaitAndFetchCall::read_first`]): one call
/// per core instead of a read and then a wait. Otherwise (some partitions answered at once with
/// an error, so the fetch will not wait) or when an owner does not answer, a plain read.
async fn first_read(
    store: &PartitionStore,
    mesh: &Rc<Mesh>,
    plan: &FetchPlan,
    max_bytes: usize,
    committed: bool,
    deadline: Instant,
) -> Vec<FetchResult> {
    let owners = plan.shares();
    let owned: usize = owners.iter().map(|o| o.slots.len()).sum();
    if !owners.is_empty() && owned == plan.len() {
        let mut results = vec![FetchResult::default(); plan.len()];
        let round = Round::ReadFirst;
        let answered = wait_and_read(
            store,
            mesh,
            plan,
            &mut results,
            max_bytes,
            committed,
            deadline,
            round,
        );
        if answered.await == owners.len() {
            return results;
        }
    }
    read_all(mesh, plan, max_bytes, committed).await
}

/// Whether a long-poll round reads before it waits ([`first_read`]) or waits past what the
/// previous read saw.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Round {
    ReadFirst,
    Wait,
}

/// What one owner core answers a long poll with.
type Answer = Result<Vec<FetchResult>, Unavailable>;

/// Long-polls every owner core of the fetch until one of them sees data past what `results`
/// holds (or the deadline passes), then cancels the other cores' waits, which answer at once
/// with what they hold, and puts every core's fresh results into `results`. Returns how many
/// cores answered with results (0: an owner core gone, or none to wait on). With
/// [`Round::ReadFirst`] each owner reads first and answers at once if it has something.
#[allow(clippy::too_many_arguments)]
async fn wait_and_read(
    store: &PartitionStore,
    mesh: &Rc<Mesh>,
    plan: &FetchPlan,
    results: &mut [FetchResult],
    max_bytes: usize,
    committed: bool,
    deadline: Instant,
    round: Round,
) -> usize {
    let owners = plan.shares();
    if owners.is_empty() {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        return 0;
    }
    let keys: Vec<u64> = owners
        .iter()
        .map(|_| store.long_polls.new_key(mesh.id()))
        .collect();
    let mut waits: Vec<Option<Pin<Box<dyn Future<Output = Answer>>>>> = owners
        .iter()
        .zip(&keys)
        .map(|(o, &key)| {
            let s = mesh.clone();
            // Wake when the high watermark (or last stable offset) passes what the read saw.
            let watch = o
                .slots
                .iter()
                .zip(&o.parts)
                .map(|(&i, part)| {
                    let r = &results[i];
                    let seen = if committed {
                        r.last_stable_offset
                    } else {
                        r.high_watermark
                    };
                    part.offset.max(seen)
                })
                .collect();
            let call = WaitAndFetchCall {
                parts: o.parts.clone(),
                watch,
                max_bytes,
                committed,
                deadline,
                key,
                read_first: round == Round::ReadFirst,
            };
            let owner = o.core;
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
    cancel_waits(
        store,
        mesh,
        waits
            .iter()
            .enumerate()
            .filter(|(_, w)| w.is_some())
            .map(|(k, _)| (owners[k].core, keys[k])),
    );
    let mut answers: Vec<Option<Answer>> = waits.iter().map(|_| None).collect();
    answers[first.0] = Some(first.1);
    for (k, w) in waits.into_iter().enumerate() {
        if let Some(f) = w {
            answers[k] = Some(f.await);
        }
    }
    let mut answered = 0;
    for (o, answer) in owners.iter().zip(answers) {
        if let Some(Ok(fresh)) = answer {
            if fresh.len() == o.slots.len() {
                for (&i, r) in o.slots.iter().zip(fresh) {
                    results[i] = r;
                }
                answered += 1;
            }
        }
    }
    answered
}

/// KIP-951 (v12+): each NOT_LEADER_OR_FOLLOWER (or FENCED_LEADER_EPOCH, as Kafka does)
/// partition gets its current leader and epoch from the image; v16+ responses also carry those
/// leaders' endpoints.
/// The image is read only when a partition needs it: the common answer touches no shared
/// state and allocates nothing.
/// Ends the long polls `pending` names ((owning core, wait key)) early: each owner answers
/// with what it holds by now. Shared by consumer and replica fetches.
pub(super) fn cancel_waits(
    store: &PartitionStore,
    mesh: &Rc<Mesh>,
    pending: impl Iterator<Item = (usize, u64)>,
) {
    for (owner, key) in pending {
        if owner == mesh.id() {
            store.long_polls.cancel(key);
        } else {
            let s = mesh.clone();
            glommio::spawn_local(async move {
                // Nothing to wait for: the owner's answer to the long poll follows.
                let _ = s.cast(owner, CancelWaitCall(key)).await;
            })
            .detach();
        }
    }
}

fn hint_leaders(resp: &mut FetchResponse, cluster: &ClusterView, version: i16, listener: &str) {
    let hinted = |code: i16| {
        code == KafkaError::NotLeaderOrFollower.code()
            || code == KafkaError::FencedLeaderEpoch.code()
    };
    let needs = |t: &FetchableTopicResponse| t.partitions.iter().any(|p| hinted(p.error_code));
    if !resp.responses.iter().any(needs) {
        return;
    }
    let state = cluster.state();
    let image: &MetadataImage = &state.image;
    let mut leaders = std::collections::BTreeSet::new();
    for t in resp.responses.iter_mut().filter(|t| needs(t)) {
        let name = (version < 13).then(|| t.topic.0.to_string());
        for p in t.partitions.iter_mut().filter(|p| hinted(p.error_code)) {
            if let Some((leader, epoch)) =
                leader_of(image, name.as_deref(), t.topic_id, p.partition_index)
            {
                p.current_leader.leader_id = kafka_protocol::messages::BrokerId(leader);
                p.current_leader.leader_epoch = epoch;
                leaders.insert(leader);
            }
        }
    }
    if version < 16 {
        return;
    }
    for (node_id, host, port, rack) in leaders
        .into_iter()
        .filter_map(|b| endpoint(image, b, listener))
    {
        let mut e = NodeEndpoint::default();
        e.node_id = node_id;
        e.host = host;
        e.port = port;
        e.rack = rack;
        resp.node_endpoints.push(e);
    }
}
