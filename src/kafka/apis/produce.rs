//! Produce: validates each partition's batches (framing, magic, CRC, size) on the receiving
//! core, forwards them to the owning cores (one [`PartitionPlan`]), and answers once they are
//! durable (acks 1 / -1) or immediately without a response (acks 0).
//!
//! From v13 (KIP-516) topics are addressed by topic id: the id is resolved through the topic
//! table, an unknown id fails each of its partitions with UNKNOWN_TOPIC_ID, and the response
//! names each topic by the id the request gave.

use std::rc::Rc;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ProduceRequest, ProduceResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::protocol::Decodable;

use kafka_protocol::messages::produce_response::NodeEndpoint;
use kafka_protocol::messages::BrokerId;
use runnel_controller::MetadataImage;

use super::authz::Authz;
use super::leader_hint::{endpoint, leader_of};
use super::plan::PartitionPlan;
use super::produce_errors::Refusals;
use super::produce_policy::prepare;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::{self, Outcome, Reply, RequestContext};
use crate::security::acl::Operation;
use crate::services::Core;
use crate::shard::handlers::ProduceCall;
use crate::shard::messages::{ProducePart, ProduceResult, TopicPartition};
use crate::shard::{ClusterView, Mesh, TopicView};

fn failed(error: KafkaError) -> ProduceResult {
    ProduceResult {
        error: Some(error),
        base_offset: -1,
        log_start_offset: -1,
    }
}

/// Handles Produce; `None` for acks=0 (no response is sent).
pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> Option<ResponseKind> {
    let authz = Authz::of(ctx);
    let mut resp = produce(&ctx.core.view, &ctx.core.mesh, &authz, req, ctx.version).await;
    if ctx.version >= 10 {
        if let Some(r) = resp.as_mut() {
            hint_leaders(r, &ctx.core.cluster, ctx.version >= 13, &ctx.listener.name);
        }
    }
    resp.map(ResponseKind::Produce)
}

/// KIP-951 (v10+): each NOT_LEADER_OR_FOLLOWER partition gets its current leader and epoch
/// from the image, and the response the endpoints of those leaders.
/// The image is read only when a partition needs it: the common answer touches no shared
/// state and allocates nothing.
fn hint_leaders(resp: &mut ProduceResponse, cluster: &ClusterView, by_id: bool, listener: &str) {
    let not_leader = KafkaError::NotLeaderOrFollower.code();
    let needs = |t: &TopicProduceResponse| {
        t.partition_responses
            .iter()
            .any(|p| p.error_code == not_leader)
    };
    if !resp.responses.iter().any(needs) {
        return;
    }
    let state = cluster.state();
    let image: &MetadataImage = &state.image;
    let mut leaders = std::collections::BTreeSet::new();
    for t in resp.responses.iter_mut().filter(|t| needs(t)) {
        let name = (!by_id).then(|| t.name.0.to_string());
        for p in t
            .partition_responses
            .iter_mut()
            .filter(|p| p.error_code == not_leader)
        {
            if let Some((leader, epoch)) = leader_of(image, name.as_deref(), t.topic_id, p.index) {
                p.current_leader.leader_id = BrokerId(leader);
                p.current_leader.leader_epoch = epoch;
                leaders.insert(leader);
            }
        }
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

async fn produce(
    view: &TopicView,
    mesh: &Rc<Mesh>,
    authz: &Authz,
    req: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    // One entry per partition in request order: answered at once, or a part for its owner.
    let mut plan: PartitionPlan<ProducePart, ProduceResult> = PartitionPlan::new();
    let mut append_times: Vec<Option<i64>> = Vec::new();
    let mut refusals = Refusals::default();
    let mut shape: Vec<(&TopicProduceData, Vec<i32>)> = Vec::new();
    let table = (version >= 13).then(|| view.topic_table());
    // As KafkaApis: a transactional produce needs WRITE on its transactional id, every topic
    // WRITE on the topic (checked before whether it exists).
    let txn_denied = req
        .transactional_id
        .as_ref()
        .and_then(|id| authz.txn_id(Operation::Write, id).err());
    for topic in &req.topic_data {
        // v13+ names the topic by id; `None` when the id is unknown.
        let name: Option<Arc<str>> = match &table {
            Some(table) => table
                .by_id(topic.topic_id)
                .map(|m| Arc::from(m.name.as_str())),
            None => Some(Arc::from(topic.name.0.as_str())),
        };
        let mut parts = Vec::new();
        for p in &topic.partition_data {
            parts.push(p.index);
            let slot = plan.len();
            append_times.push(None);
            if !(-1..=1).contains(&acks) {
                plan.answer(failed(KafkaError::InvalidRequiredAcks));
                continue;
            }
            if let Some(e) = txn_denied {
                plan.answer(failed(e));
                continue;
            }
            let Some(name) = &name else {
                plan.answer(failed(KafkaError::UnknownTopicId));
                continue;
            };
            if let Err(e) = authz.topic(Operation::Write, name) {
                plan.answer(failed(e));
                continue;
            }
            if &**name == crate::group::OFFSETS_TOPIC || &**name == crate::txn::TXN_TOPIC {
                // Only the group coordinator writes the internal topic, as on Kafka.
                plan.answer(failed(KafkaError::InvalidTopicException));
                continue;
            }
            let Some(owner) = view.leader_owner(name, p.index) else {
                plan.answer(failed(view.not_here(name, p.index)));
                continue;
            };
            let payload = p.records.clone().unwrap_or_default();
            match prepare(&view.produce_policy(name), payload, (name, p.index)) {
                Ok(ready) => {
                    append_times[slot] = ready.log_append_time;
                    let tp = TopicPartition {
                        topic: name.clone(),
                        partition: p.index,
                    };
                    let part = ProducePart {
                        tp,
                        batches: ready.batches,
                        payload: ready.payload,
                    };
                    plan.send(owner, part);
                }
                Err(r) => {
                    plan.answer(failed(refusals.keep(slot, r)));
                }
            }
        }
        shape.push((topic, parts));
    }
    let timeout_ms = req.timeout_ms;
    let results = plan
        .run(
            mesh,
            |parts| ProduceCall {
                acks,
                timeout_ms,
                parts,
            },
            || failed(KafkaError::NotLeaderOrFollower),
        )
        .await;
    if acks == 0 {
        return None;
    }
    let mut resp = ProduceResponse::default();
    let mut it = results.into_iter().zip(append_times).enumerate();
    for (topic, parts) in shape {
        let mut t = TopicProduceResponse::default();
        if version >= 13 {
            t.topic_id = topic.topic_id;
        } else {
            t.name = topic.name.clone();
        }
        for index in parts {
            let (slot, (r, append_time)) = it
                .next()
                .unwrap_or((usize::MAX, (failed(KafkaError::UnknownServerError), None)));
            let mut pr = PartitionProduceResponse::default();
            pr.index = index;
            pr.error_code = errors::code(r.error);
            pr.base_offset = r.base_offset;
            pr.log_append_time_ms = match append_time {
                Some(t) if r.error.is_none() => t,
                _ => -1,
            };
            if version >= 5 {
                pr.log_start_offset = r.log_start_offset;
            }
            refusals.fill(slot, &mut pr, version);
            t.partition_responses.push(pr);
        }
        resp.responses.push(t);
    }
    Some(resp)
}

/// Decodes Produce v0-v2. Kafka 4 advertises these only for librdkafka's sake (KAFKA-18659). A
/// v2 request is a v3 request without the transactional id, and a v2 response is laid out
/// exactly as v3, so v2 is decoded (and answered, see [`handle_legacy`]) as v3 with a null
/// transactional id. v0/v1 responses differ and are not served: `None` closes the connection.
/// The frame has passed the request validator.
pub fn decode_legacy(version: i16, frame: Bytes) -> Option<ProduceRequest> {
    if version != 2 {
        return None;
    }
    let mut buf = frame;
    RequestHeader::decode(&mut buf, ApiKey::Produce.request_header_version(2)).ok()?;
    let mut v3 = BytesMut::with_capacity(buf.len() + 2);
    v3.put_i16(-1);
    v3.extend_from_slice(&buf);
    let mut body = v3.freeze();
    ProduceRequest::decode(&mut body, 3).ok()
}

/// Serves a Produce v2 request decoded by [`decode_legacy`], answering as v3.
pub async fn handle_legacy(
    core: &Core,
    authz: &Authz,
    correlation_id: i32,
    req: ProduceRequest,
) -> Outcome {
    match produce(&core.view, &core.mesh, authz, req, 3).await {
        Some(resp) => dispatch::encode(
            ApiKey::Produce,
            3,
            correlation_id,
            Reply::from(ResponseKind::Produce(resp)),
        ),
        None => Outcome::NoResponse,
    }
}
