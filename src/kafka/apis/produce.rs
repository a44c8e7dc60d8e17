//! Produce: validates each partition's batches (framing, magic, CRC, size) on the receiving
//! core, forwards them to the owning cores, and answers once they are durable (acks 1 / -1) or
//! immediately without a response (acks 0).

use std::rc::Rc;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ProduceRequest, ProduceResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::protocol::Decodable;

use super::routing::scatter;
use crate::errors;
use crate::kafka::dispatch::{self, Outcome, Reply, RequestContext};
use crate::shard::messages::{
    ProducePart, ProduceResult, ShardRequest, ShardResponse, TopicPartition,
};
use crate::shard::Shard;
use crate::storage::batch::{validate_batches, BatchError};

fn failed(code: i16) -> ProduceResult {
    ProduceResult {
        error_code: code,
        base_offset: -1,
        log_start_offset: -1,
    }
}

fn batch_error_code(e: BatchError) -> i16 {
    match e {
        BatchError::Corrupt => errors::CORRUPT_MESSAGE,
        BatchError::UnsupportedMagic => errors::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        BatchError::TooLarge => errors::MESSAGE_TOO_LARGE,
        BatchError::Empty => errors::INVALID_RECORD,
    }
}

/// Handles Produce; `None` for acks=0 (no response is sent).
pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> Option<ResponseKind> {
    let resp = produce(&ctx.shard, req, ctx.version).await;
    resp.map(ResponseKind::Produce)
}

async fn produce(shard: &Rc<Shard>, req: ProduceRequest, version: i16) -> Option<ProduceResponse> {
    let acks = req.acks;
    let max_batch = shard.config.message_max_bytes;
    // One entry per partition in request order: either an early error or work for an owner.
    let mut early: Vec<Option<ProduceResult>> = Vec::new();
    let mut work: Vec<(usize, (usize, ProducePart))> = Vec::new();
    let mut shape: Vec<(kafka_protocol::messages::TopicName, Vec<i32>)> = Vec::new();
    for topic in &req.topic_data {
        let name: Arc<str> = Arc::from(topic.name.0.as_str());
        let mut parts = Vec::new();
        for p in &topic.partition_data {
            parts.push(p.index);
            let slot = early.len();
            if !(-1..=1).contains(&acks) {
                early.push(Some(failed(errors::INVALID_REQUIRED_ACKS)));
                continue;
            }
            if &*name == crate::group::OFFSETS_TOPIC || &*name == crate::txn::TXN_TOPIC {
                // Only the group coordinator writes the internal topic, as on Kafka.
                early.push(Some(failed(errors::INVALID_TOPIC_EXCEPTION)));
                continue;
            }
            let Some(owner) = shard.owner_of(&name, p.index) else {
                early.push(Some(failed(errors::UNKNOWN_TOPIC_OR_PARTITION)));
                continue;
            };
            let payload = p.records.clone().unwrap_or_default();
            match validate_batches(&payload, max_batch) {
                Ok(batches) if batches.iter().any(|b| b.is_control()) => {
                    // Only the transaction coordinator writes markers.
                    early.push(Some(failed(errors::INVALID_RECORD)));
                }
                Ok(batches) => {
                    early.push(None);
                    let tp = TopicPartition {
                        topic: name.clone(),
                        partition: p.index,
                    };
                    work.push((
                        owner,
                        (
                            slot,
                            ProducePart {
                                tp,
                                batches,
                                payload,
                            },
                        ),
                    ));
                }
                Err(e) => early.push(Some(failed(batch_error_code(e)))),
            }
        }
        shape.push((topic.name.clone(), parts));
    }
    let slots: Vec<usize> = work.iter().map(|(_, (s, _))| *s).collect();
    let items: Vec<(usize, ProducePart)> = work.into_iter().map(|(o, (_, p))| (o, p)).collect();
    let timeout_ms = req.timeout_ms;
    let results = scatter(
        shard,
        items,
        |parts| ShardRequest::Produce {
            acks,
            timeout_ms,
            parts,
        },
        |r| match r {
            ShardResponse::Produce(v) => Some(v),
            _ => None,
        },
        || failed(errors::NOT_LEADER_OR_FOLLOWER),
    )
    .await;
    for (slot, r) in slots.into_iter().zip(results) {
        early[slot] = Some(r);
    }
    if acks == 0 {
        return None;
    }
    let mut resp = ProduceResponse::default();
    let mut it = early.into_iter();
    for (name, parts) in shape {
        let mut t = TopicProduceResponse::default();
        t.name = name;
        for index in parts {
            let r = it
                .next()
                .flatten()
                .unwrap_or(failed(errors::UNKNOWN_SERVER_ERROR));
            let mut pr = PartitionProduceResponse::default();
            pr.index = index;
            pr.error_code = r.error_code;
            pr.base_offset = r.base_offset;
            pr.log_append_time_ms = -1;
            if version >= 5 {
                pr.log_start_offset = r.log_start_offset;
            }
            t.partition_responses.push(pr);
        }
        resp.responses.push(t);
    }
    Some(resp)
}

/// Produce v0-v2. Kafka 4 advertises these only for librdkafka's sake (KAFKA-18659). A v2
/// request is a v3 request without the transactional id, and a v2 response is laid out exactly
/// as v3, so v2 is decoded and encoded as v3 with a null transactional id. v0/v1 responses
/// differ and are not served: the connection is closed.
pub async fn handle_legacy(
    shard: Rc<Shard>,
    version: i16,
    correlation_id: i32,
    frame: Bytes,
) -> Outcome {
    if version != 2 {
        return Outcome::Close;
    }
    let mut buf = frame;
    let Ok(_header) = RequestHeader::decode(&mut buf, ApiKey::Produce.request_header_version(2))
    else {
        return Outcome::Close;
    };
    let mut v3 = BytesMut::with_capacity(buf.len() + 2);
    v3.put_i16(-1);
    v3.extend_from_slice(&buf);
    let mut body = v3.freeze();
    let Ok(req) = ProduceRequest::decode(&mut body, 3) else {
        return Outcome::Close;
    };
    match produce(&shard, req, 3).await {
        Some(resp) => dispatch::encode(
            ApiKey::Produce,
            3,
            correlation_id,
            Reply::from(ResponseKind::Produce(resp)),
        ),
        None => Outcome::NoResponse,
    }
}
