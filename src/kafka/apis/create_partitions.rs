//! CreatePartitions: grows topics, placing the new partitions on cores the way CreateTopics
//! does. Shrinking is refused (INVALID_PARTITIONS); explicit assignments may name only this
//! broker.

use std::collections::HashMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::topic_admin::CreatePartitionsCall;

/// Handles CreatePartitions.
pub async fn handle(ctx: &RequestContext, req: CreatePartitionsRequest) -> ResponseKind {
    let node = ctx.core.view.config().node_id;
    let table = ctx.core.view.topic_table();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    let authz = Authz::of(ctx);
    let mut early: Vec<Option<ErrorMessage>> = Vec::new();
    let mut work: Vec<(usize, (String, i32))> = Vec::new();
    for (i, t) in req.topics.iter().enumerate() {
        let name = t.name.0.to_string();
        let current = table.get(&name).map(|m| m.partitions.len() as i32);
        let err = if authz.topic(Operation::Alter, &name).is_err() {
            // ALTER on the topic (KafkaApis).
            Some(ErrorMessage::new(
                KafkaError::TopicAuthorizationFailed,
                "Authorization failed.",
            ))
        } else if counts[name.as_str()] > 1 {
            Some(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("Duplicate topic in request: {name}"),
            ))
        } else if name == crate::group::OFFSETS_TOPIC || name == crate::txn::TXN_TOPIC {
            // Groups and transactional ids are hashed over the partition count fixed at creation.
            Some(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("The partition count of the internal topic {name} cannot change."),
            ))
        } else if let (Some(a), Some(cur)) = (&t.assignments, current) {
            if a.len() as i64 != t.count as i64 - cur as i64 {
                Some(ErrorMessage::new(
                    KafkaError::InvalidReplicaAssignment,
                    format!(
                        "Increasing the number of partitions by {} but {} assignments provided.",
                        t.count - cur,
                        a.len()
                    ),
                ))
            } else if a
                .iter()
                .any(|x| x.broker_ids.len() != 1 || x.broker_ids[0].0 != node)
            {
                Some(ErrorMessage::new(
                    KafkaError::InvalidReplicaAssignment,
                    format!("Replica assignment must name only broker {node}"),
                ))
            } else {
                None
            }
        } else {
            None
        };
        early.push(err);
        if early[i].is_none() {
            work.push((i, (name, t.count)));
        }
    }
    if !work.is_empty() {
        let (idx, topics): (Vec<usize>, Vec<(String, i32)>) = work.into_iter().unzip();
        let n = topics.len();
        let answers = match ctx
            .core
            .mesh
            .call(
                0,
                CreatePartitionsCall {
                    topics,
                    validate_only: req.validate_only,
                },
            )
            .await
        {
            Ok(v) if v.len() == n => v,
            _ => (0..n)
                .map(|_| {
                    Err(ErrorMessage::new(
                        KafkaError::UnknownServerError,
                        "broker shutting down",
                    ))
                })
                .collect(),
        };
        for (i, a) in idx.into_iter().zip(answers) {
            early[i] = a.err();
        }
    }
    let mut resp = CreatePartitionsResponse::default();
    for (t, err) in req.topics.iter().zip(early) {
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        if let Some(e) = err {
            r.error_code = e.error.code();
            r.error_message = Some(StrBytes::from_string(e.message));
        }
        resp.results.push(r);
    }
    ResponseKind::CreatePartitions(resp)
}
