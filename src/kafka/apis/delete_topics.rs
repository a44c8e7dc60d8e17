//! DeleteTopics: by name (all versions) or by topic id (v6), through core 0.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::{self, ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::partitions::DeleteTopicsCall;

/// Handles DeleteTopics.
pub async fn handle(ctx: &RequestContext, req: DeleteTopicsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let table = view.topic_table();
    // (requested name, requested id, resolved name)
    let mut wanted: Vec<(Option<String>, uuid::Uuid, Option<String>)> = Vec::new();
    if ctx.version >= 6 {
        for t in &req.topics {
            let name = t.name.as_ref().map(|n| n.0.to_string());
            let resolved = match &name {
                Some(n) => table.get(n).map(|m| m.name.clone()),
                None => table.by_id(t.topic_id).map(|m| m.name.clone()),
            };
            wanted.push((name, t.topic_id, resolved));
        }
    } else {
        for n in &req.topic_names {
            let name = n.0.to_string();
            let resolved = table.get(&name).map(|m| m.name.clone());
            wanted.push((Some(name), uuid::Uuid::nil(), resolved));
        }
    }
    // DELETE on each topic (KafkaApis): refused ones are neither deleted nor resolved.
    let authz = Authz::of(ctx);
    let denied: Vec<bool> = wanted
        .iter()
        .map(|w| {
            let name = w.2.as_ref().or(w.0.as_ref());
            name.is_some_and(|n| authz.topic(Operation::Delete, n).is_err())
        })
        .collect();
    let names: Vec<String> = wanted
        .iter()
        .zip(&denied)
        .filter(|(_, d)| !**d)
        .filter_map(|(w, _)| w.2.clone())
        .collect();
    let mut deleted: Vec<Result<crate::cluster::TopicMeta, ErrorMessage>> = Vec::new();
    if !names.is_empty() {
        if let Ok(v) = mesh.call(0, DeleteTopicsCall(names)).await {
            deleted = v;
        }
    }
    let mut it = deleted.into_iter();
    let mut resp = DeleteTopicsResponse::default();
    for ((name, id, resolved), denied) in wanted.into_iter().zip(denied) {
        let mut r = DeletableTopicResult::default();
        r.name = name.clone().map(|n| TopicName(StrBytes::from_string(n)));
        r.topic_id = id;
        if denied {
            r.error_code = KafkaError::TopicAuthorizationFailed.code();
            if ctx.version >= 5 {
                r.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            }
            resp.responses.push(r);
            continue;
        }
        let outcome = match resolved {
            Some(_) => it.next(),
            None => None,
        };
        match outcome {
            Some(Ok(meta)) => {
                r.error_code = errors::NONE;
                r.name = Some(TopicName(StrBytes::from_string(meta.name.clone())));
                if ctx.version >= 6 {
                    r.topic_id = meta.uuid();
                }
                tracing::info!(topic = %meta.name, "deleted topic");
            }
            Some(Err(e)) if e.error != KafkaError::UnknownTopicOrPartition => {
                r.error_code = e.error.code();
                if ctx.version >= 5 {
                    r.error_message = Some(StrBytes::from_string(e.message));
                }
            }
            _ => {
                r.error_code = if name.is_none() {
                    KafkaError::UnknownTopicId.code()
                } else {
                    KafkaError::UnknownTopicOrPartition.code()
                };
                if ctx.version >= 5 {
                    r.error_message = Some(StrBytes::from_static_str(
                        "This server does not host this topic.",
                    ));
                }
            }
        }
        resp.responses.push(r);
    }
    ResponseKind::DeleteTopics(resp)
}
