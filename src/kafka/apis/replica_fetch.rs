//! Fetch from a follower broker (replica id >= 0; docs/replication.md step 4), as Kafka's
//! leader serves it: CLUSTER_ACTION on the cluster or every partition is
//! TOPIC_AUTHORIZATION_FAILED; each partition must be led by this broker
//! (NOT_LEADER_OR_FOLLOWER), at the follower's `current_leader_epoch` (FENCED_LEADER_EPOCH /
//! UNKNOWN_LEADER_EPOCH), by a follower that is one of its replicas at its current broker
//! epoch (NOT_LEADER_OR_FOLLOWER). The owning cores answer ([`ReplicaFetchCall`]: diverging
//! epochs, reads up to the log end, the follower's progress and the high watermark), each
//! long-polling until it has something; the first core to answer ends the others' waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};

use super::authz::Authz;
use super::leader_epoch::EpochCheck;
use super::plan::PartitionPlan;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::{Reply, RequestContext};
use crate::kafka::rope::{records_field, Substitutions};
use crate::security::acl::Operation;
use crate::shard::call::Unavailable;
use crate::shard::messages::TopicPartition;
use crate::shard::replica_serve::{ReplicaFetchCall, ReplicaPart, ReplicaResult};

/// Longest long-poll honoured, whatever the follower asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// The plan of a follower's fetch.
type Plan = PartitionPlan<ReplicaPart, ReplicaResult>;

/// Handles a Fetch from follower broker `replica`.
pub async fn handle(ctx: &RequestContext, req: FetchRequest, replica: i32) -> Reply {
    let view = &ctx.core.view;
    let table = view.topic_table();
    let use_ids = ctx.version >= 13;
    let me = view.config().node_id;
    let state = ctx.core.cluster.state();
    let replica_epoch = if ctx.version >= 15 {
        req.replica_state.replica_epoch
    } else {
        -1
    };
    // Kafka's `Replica.updateFetchStateOrThrow`: a fetch from an older registration of the
    // follower than the image's is stale.
    let stale = replica_epoch >= 0
        && state
            .image
            .broker(replica)
            .is_some_and(|b| b.epoch as i64 > replica_epoch);
    let allowed = Authz::of(ctx).cluster(Operation::ClusterAction).is_ok();
    let mut epochs = EpochCheck::new(&ctx.core.cluster);
    let mut plan = Plan::new();
    let mut topics_out: Vec<FetchableTopicResponse> = Vec::new();
    let mut slots: Vec<(usize, i32)> = Vec::new();
    for ft in &req.topics {
        let meta = if use_ids {
            table.by_id(ft.topic_id)
        } else {
            table.get(ft.topic.0.as_str())
        };
        let mut tr = FetchableTopicResponse::default();
        tr.topic = ft.topic.clone();
        tr.topic_id = ft.topic_id;
        topics_out.push(tr);
        for fp in &ft.partitions {
            slots.push((topics_out.len() - 1, fp.partition));
            let refused = |e: KafkaError| ReplicaResult::failed(e);
            if !allowed {
                plan.answer(refused(KafkaError::TopicAuthorizationFailed));
                continue;
            }
            let Some(m) = meta else {
                plan.answer(refused(if use_ids {
                    KafkaError::UnknownTopicId
                } else {
                    KafkaError::UnknownTopicOrPartition
                }));
                continue;
            };
            let image_part = state
                .image
                .topic_by_name(&m.name)
                .filter(|t| t.topic_id == m.uuid())
                .and_then(|t| t.partitions.get(usize::try_from(fp.partition).ok()?));
            let Some(owner) = view.owner_of(&m.name, fp.partition) else {
                plan.answer(refused(view.not_here(&m.name, fp.partition)));
                continue;
            };
            let Some(p) = image_part.filter(|p| p.leader == me) else {
                plan.answer(refused(KafkaError::NotLeaderOrFollower));
                continue;
            };
            let sent = if ctx.version >= 9 {
                fp.current_leader_epoch
            } else {
                -1
            };
            if let Some(e) = epochs.check(m, fp.partition, sent) {
                plan.answer(refused(e));
                continue;
            }
            if stale || replica == me || !p.replicas.contains(&replica) {
                plan.answer(refused(KafkaError::NotLeaderOrFollower));
                continue;
            }
            plan.send(
                owner,
                ReplicaPart {
                    tp: TopicPartition {
                        topic: Arc::from(m.name.as_str()),
                        partition: fp.partition,
                    },
                    offset: fp.fetch_offset,
                    last_fetched_epoch: if ctx.version >= 12 {
                        fp.last_fetched_epoch
                    } else {
                        -1
                    },
                    max_bytes: fp.partition_max_bytes.max(0) as usize,
                },
            );
        }
    }
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let results = run(ctx, replica, plan, req.max_bytes.max(0) as usize, deadline).await;
    let mut used = 0usize;
    let mut subs = Substitutions::default();
    for ((ti, partition), mut r) in slots.into_iter().zip(results) {
        let b = r.bytes();
        if used > 0 && used + b > req.max_bytes.max(0) as usize {
            r.records.clear();
        }
        used += r.bytes();
        let mut pd = PartitionData::default();
        pd.partition_index = partition;
        pd.error_code = errors::code(r.error);
        pd.high_watermark = r.high_watermark;
        pd.last_stable_offset = r.last_stable_offset;
        if ctx.version >= 5 {
            pd.log_start_offset = r.log_start_offset;
        }
        if let Some((epoch, end)) = r.diverging.filter(|_| ctx.version >= 12) {
            pd.diverging_epoch.epoch = epoch;
            pd.diverging_epoch.end_offset = end;
        }
        pd.preferred_read_replica = kafka_protocol::messages::BrokerId(-1);
        pd.records = Some(records_field(std::mem::take(&mut r.records), &mut subs));
        topics_out[ti].partitions.push(pd);
    }
    let mut resp = FetchResponse::default();
    resp.responses = topics_out;
    resp.session_id = 0;
    Reply {
        body: ResponseKind::Fetch(resp),
        subs,
    }
}

/// What one owner core answers.
type Answer = Result<Vec<ReplicaResult>, Unavailable>;

/// Runs the plan: one [`ReplicaFetchCall`] per owner core, all at once; when the first
/// answers, the others are cancelled (they answer at once with what they hold). A core that
/// cannot answer gives NOT_LEADER_OR_FOLLOWER for its partitions.
async fn run(
    ctx: &RequestContext,
    replica: i32,
    plan: Plan,
    max_bytes: usize,
    deadline: Instant,
) -> Vec<ReplicaResult> {
    let (mesh, store) = (&ctx.core.mesh, &ctx.core.store);
    let (mut answers, shares) = plan.into_parts();
    let keys: Vec<u64> = shares
        .iter()
        .map(|_| store.long_polls.new_key(mesh.id()))
        .collect();
    let mut waits: Vec<Option<Pin<Box<dyn Future<Output = Answer>>>>> = shares
        .iter()
        .zip(&keys)
        .map(|(share, &key)| {
            let call = ReplicaFetchCall {
                replica,
                parts: share.parts.clone(),
                max_bytes,
                deadline,
                key,
            };
            let (m, core) = (mesh.clone(), share.core);
            Some(Box::pin(async move { m.call(core, call).await })
                as Pin<Box<dyn Future<Output = Answer>>>)
        })
        .collect();
    let mut got: Vec<Option<Answer>> = shares.iter().map(|_| None).collect();
    if !waits.is_empty() {
        let (k, first) = std::future::poll_fn(|cx| {
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
        got[k] = Some(first);
        super::fetch::cancel_waits(
            store,
            mesh,
            waits
                .iter()
                .enumerate()
                .filter(|(_, w)| w.is_some())
                .map(|(k, _)| (shares[k].core, keys[k])),
        );
        for (k, w) in waits.into_iter().enumerate() {
            if let Some(f) = w {
                got[k] = Some(f.await);
            }
        }
    }
    for (share, answer) in shares.iter().zip(got) {
        let results = match answer {
            Some(Ok(r)) if r.len() == share.slots.len() => r,
            _ => share
                .slots
                .iter()
                .map(|_| ReplicaResult::failed(KafkaError::NotLeaderOrFollower))
                .collect(),
        };
        for (&slot, r) in share.slots.iter().zip(results) {
            answers[slot] = Some(r);
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| ReplicaResult::failed(KafkaError::UnknownServerError)))
        .collect()
}
