//! OffsetCommit, OffsetFetch (one group before v8, several from v8) and OffsetDelete: forwarded
//! to the coordinating core of each group, answers fitted to the request's version.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use super::groups::forward;
use crate::errors;
use crate::errors::KafkaError;
use crate::group::calls::{OffsetCommitCall, OffsetDeleteCall, OffsetFetchCall};
use crate::group::offsets::{FetchQuery, FetchedOffsets};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;

/// Handles OffsetCommit.
pub async fn commit(ctx: &RequestContext, mut req: OffsetCommitRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    // READ on the group (every partition refused without it), READ on each topic (its
    // partitions refused and not committed without it), as KafkaApis.
    let authz = Authz::of(ctx);
    let allowed = authz.group(Operation::Read, &group);
    let (topics, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut req.topics)
        .into_iter()
        .partition(|t| allowed.is_err() || authz.topic(Operation::Read, &t.name).is_ok());
    req.topics = topics;
    let denied: Vec<OffsetCommitResponseTopic> = denied
        .into_iter()
        .map(|t| {
            let mut rt = OffsetCommitResponseTopic::default();
            rt.name = t.name;
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = OffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = KafkaError::TopicAuthorizationFailed.code();
                    rp
                })
                .collect();
            rt
        })
        .collect();
    let shape: Vec<(TopicName, Vec<i32>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let call = OffsetCommitCall {
        req,
        version: ctx.version,
    };
    let call = forward(&ctx.core.view, &ctx.core.mesh, &group, call);
    let mut r = match super::groups::guarded(allowed, call).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = OffsetCommitResponse::default();
            r.topics = shape
                .into_iter()
                .map(|(name, parts)| {
                    let mut t = OffsetCommitResponseTopic::default();
                    t.name = name;
                    t.partitions = parts
                        .into_iter()
                        .map(|p| {
                            let mut rp = OffsetCommitResponsePartition::default();
                            rp.partition_index = p;
                            rp.error_code = e.code();
                            rp
                        })
                        .collect();
                    t
                })
                .collect();
            r
        }
    };
    r.topics.extend(denied);
    ResponseKind::OffsetCommit(r)
}

async fn fetch_group(ctx: &RequestContext, q: FetchQuery) -> FetchedOffsets {
    let group = q.group.clone();
    let authz = Authz::of(ctx);
    let allowed = authz.group(Operation::Describe, &group);
    let all_topics = q.topics.is_none();
    let call = forward(&ctx.core.view, &ctx.core.mesh, &group, OffsetFetchCall(q));
    match super::groups::guarded(allowed, call).await {
        // Topics without DESCRIBE: left out of "all topics", refused when named (KafkaApis).
        Ok(mut o) => {
            o.topics.retain_mut(|(t, parts)| {
                if authz.topic(Operation::Describe, t).is_ok() {
                    return true;
                }
                for p in parts.iter_mut() {
                    p.offset = -1;
                    p.leader_epoch = -1;
                    p.metadata.clear();
                    p.error = Some(KafkaError::TopicAuthorizationFailed);
                }
                !all_topics
            });
            o
        }
        Err(e) => FetchedOffsets {
            error: Some(e),
            topics: Vec::new(),
        },
    }
}

/// Handles OffsetFetch.
pub async fn fetch(ctx: &RequestContext, req: OffsetFetchRequest) -> ResponseKind {
    let v = ctx.version;
    let mut resp = OffsetFetchResponse::default();
    if v >= 8 {
        for g in &req.groups {
            let q = FetchQuery {
                group: g.group_id.0.to_string(),
                topics: g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                        .collect()
                }),
                require_stable: v >= 7 && req.require_stable,
                member: match (&g.member_id, v >= 9) {
                    (Some(m), true) => Some((m.to_string(), g.member_epoch)),
                    _ => None,
                },
            };
            let o = fetch_group(ctx, q).await;
            let mut rg = OffsetFetchResponseGroup::default();
            rg.group_id = g.group_id.clone();
            rg.error_code = errors::code(o.error);
            rg.topics = o
                .topics
                .into_iter()
                .map(|(t, parts)| {
                    let mut rt = OffsetFetchResponseTopics::default();
                    rt.name = TopicName(StrBytes::from_string(t));
                    rt.partitions = parts
                        .into_iter()
                        .map(|p| {
                            let mut rp = OffsetFetchResponsePartitions::default();
                            rp.partition_index = p.partition;
                            rp.committed_offset = p.offset;
                            rp.committed_leader_epoch = p.leader_epoch;
                            rp.metadata = Some(StrBytes::from_string(p.metadata));
                            rp.error_code = errors::code(p.error);
                            rp
                        })
                        .collect();
                    rt
                })
                .collect();
            resp.groups.push(rg);
        }
        return ResponseKind::OffsetFetch(resp);
    }
    let q = FetchQuery {
        group: req.group_id.0.to_string(),
        topics: req.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                .collect()
        }),
        member: None,
        require_stable: v >= 7 && req.require_stable,
    };
    let o = fetch_group(ctx, q).await;
    if v >= 2 {
        resp.error_code = errors::code(o.error);
    }
    let topics = if o.error.is_some() && v < 2 {
        // v1 has no top-level error: report it on every partition asked for.
        req.topics
            .iter()
            .flatten()
            .map(|t| {
                let parts = t
                    .partition_indexes
                    .iter()
                    .map(|&p| crate::group::offsets::FetchedPartition {
                        partition: p,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: String::new(),
                        error: o.error,
                    })
                    .collect();
                (t.name.0.to_string(), parts)
            })
            .collect()
    } else {
        o.topics
    };
    resp.topics = topics
        .into_iter()
        .map(|(t, parts)| {
            let mut rt = OffsetFetchResponseTopic::default();
            rt.name = TopicName(StrBytes::from_string(t));
            rt.partitions = parts
                .into_iter()
                .map(|p| {
                    let mut rp = OffsetFetchResponsePartition::default();
                    rp.partition_index = p.partition;
                    rp.committed_offset = p.offset;
                    if v >= 5 {
                        rp.committed_leader_epoch = p.leader_epoch;
                    }
                    rp.metadata = Some(StrBytes::from_string(p.metadata));
                    rp.error_code = errors::code(p.error);
                    rp
                })
                .collect();
            rt
        })
        .collect();
    ResponseKind::OffsetFetch(resp)
}

/// Handles OffsetDelete.
pub async fn delete(ctx: &RequestContext, req: OffsetDeleteRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    // DELETE on the group and READ on every topic named (KafkaApis answers a topic without
    // it per partition; here the request as a whole is refused).
    let authz = Authz::of(ctx);
    let allowed = authz.group(Operation::Delete, &group).and_then(|()| {
        req.topics
            .iter()
            .try_for_each(|t| authz.topic(Operation::Read, t.name.0.as_str()))
    });
    let call = forward(
        &ctx.core.view,
        &ctx.core.mesh,
        &group,
        OffsetDeleteCall(req),
    );
    let r = match super::groups::guarded(allowed, call).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = OffsetDeleteResponse::default();
            r.error_code = e.code();
            r
        }
    };
    ResponseKind::OffsetDelete(r)
}
