//! FindCoordinator: a group (key type 0) or transactional id (key type 1) is coordinated by the
//! broker hosting its partition of the internal topic (this broker, or the partition's leader
//! in the controller's image), and this broker creates the internal `__consumer_offsets` / `__transaction_state` topic on
//! first use as Kafka does. Batched keys from v4.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use super::groups::ensure_offsets_topic;
use super::txn::ensure_txn_topic;
use crate::errors::{self, KafkaError};
use crate::group::OFFSETS_TOPIC;
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::txn::TXN_TOPIC;

/// Handles FindCoordinator.
pub async fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> ResponseKind {
    let key_type = if ctx.version >= 1 { req.key_type } else { 0 };
    let keys: Vec<StrBytes> = if ctx.version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let (code, message) = match key_type {
        0 => {
            if ensure_offsets_topic(&ctx.core.view, &ctx.core.mesh).await {
                (errors::NONE, None)
            } else {
                (
                    KafkaError::CoordinatorNotAvailable.code(),
                    Some("The coordinator is not available."),
                )
            }
        }
        1 => {
            if ensure_txn_topic(&ctx.core.view, &ctx.core.mesh).await {
                (errors::NONE, None)
            } else {
                (
                    KafkaError::CoordinatorNotAvailable.code(),
                    Some("The transaction coordinator is not available."),
                )
            }
        }
        _ => (
            KafkaError::InvalidRequest.code(),
            Some("Unknown coordinator key type."),
        ),
    };
    let topic = if key_type == 1 {
        TXN_TOPIC
    } else {
        OFFSETS_TOPIC
    };
    // DESCRIBE on the group or transactional id (KafkaApis), checked per key.
    let authz = Authz::of(ctx);
    let denied = |k: &str| match key_type {
        0 => authz.group(Operation::Describe, k).err(),
        1 => authz.txn_id(Operation::Describe, k).err(),
        _ => None,
    };
    let answers: Vec<Answer> = keys
        .iter()
        .map(|k| match (denied(k.as_str()), code) {
            (Some(e), _) => Answer::error(e.code(), Some("Authorization failed.")),
            (None, errors::NONE) => coordinator_of(ctx, topic, k.as_str()),
            (None, _) => Answer::error(code, message),
        })
        .collect();
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        resp.coordinators = keys
            .into_iter()
            .zip(answers)
            .map(|(k, a)| {
                let mut c = Coordinator::default();
                c.key = k;
                c.node_id = a.node;
                c.host = a.host;
                c.port = a.port;
                c.error_code = a.code;
                c.error_message = a.message.map(StrBytes::from_static_str);
                c
            })
            .collect();
    } else if let Some(a) = answers.into_iter().next() {
        resp.error_code = a.code;
        resp.node_id = a.node;
        resp.host = a.host;
        resp.port = a.port;
        if ctx.version >= 1 {
            resp.error_message = a.message.map(StrBytes::from_static_str);
        }
    }
    ResponseKind::FindCoordinator(resp)
}

/// One key's coordinator, or why there is none.
struct Answer {
    code: i16,
    message: Option<&'static str>,
    node: BrokerId,
    host: StrBytes,
    port: i32,
}

impl Answer {
    fn error(code: i16, message: Option<&'static str>) -> Answer {
        Answer {
            code,
            message,
            node: BrokerId(-1),
            host: StrBytes::default(),
            port: -1,
        }
    }
}

/// The broker leading the partition of `topic` (an internal topic) that `key` maps to: this
/// broker when one of its cores owns it and it is not a follower of it, else the partition's
/// leader in the controller's image (COORDINATOR_NOT_AVAILABLE while it has none).
fn coordinator_of(ctx: &RequestContext, topic: &str, key: &str) -> Answer {
    let view = &ctx.core.view;
    let cfg = view.config();
    let table = view.topic_table();
    let partition = if topic == TXN_TOPIC {
        crate::txn::partition_in(&table, &cfg, key)
    } else {
        crate::group::partition_in(&table, &cfg, key)
    };
    // A follower replica of the partition is no coordinator: its leader is.
    if !view.hosted_elsewhere(topic, partition) && !view.follows(topic, partition) {
        return Answer {
            code: errors::NONE,
            message: None,
            node: BrokerId(cfg.node_id),
            host: StrBytes::from_string(ctx.listener.advertised.0.clone()),
            port: ctx.listener.advertised.1 as i32,
        };
    }
    let state = ctx.core.cluster.state();
    let leader = state
        .image
        .topic_by_name(topic)
        .and_then(|t| t.partitions.get(partition as usize))
        .map(|p| p.leader)
        .unwrap_or(-1);
    let endpoint = state
        .image
        .broker(leader)
        .filter(|b| !b.fenced)
        .and_then(|b| b.endpoints.iter().find(|e| e.name == ctx.listener.name));
    match endpoint {
        Some(e) => Answer {
            code: errors::NONE,
            message: None,
            node: BrokerId(leader),
            host: StrBytes::from_string(e.host.clone()),
            port: e.port as i32,
        },
        None => Answer::error(
            KafkaError::CoordinatorNotAvailable.code(),
            Some("The coordinator is not available."),
        ),
    }
}
