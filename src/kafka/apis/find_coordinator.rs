//! FindCoordinator: this broker coordinates every group (key type 0) and every transactional id
//! (key type 1), and creates the internal `__consumer_offsets` / `__transaction_state` topic on
//! first use as Kafka does. Batched keys from v4.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use super::groups::ensure_offsets_topic;
use super::txn::ensure_txn_topic;
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;

/// Handles FindCoordinator.
pub async fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> ResponseKind {
    let key_type = if ctx.version >= 1 { req.key_type } else { 0 };
    let keys: Vec<StrBytes> = if ctx.version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let cfg = &ctx.core.view.config();
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
    let (node, host, port) = if code == errors::NONE {
        (
            BrokerId(cfg.node_id),
            StrBytes::from_string(cfg.advertised.0.clone()),
            cfg.advertised.1 as i32,
        )
    } else {
        (BrokerId(-1), StrBytes::default(), -1)
    };
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        resp.coordinators = keys
            .into_iter()
            .map(|k| {
                let mut c = Coordinator::default();
                c.key = k;
                c.node_id = node;
                c.host = host.clone();
                c.port = port;
                c.error_code = code;
                c.error_message = message.map(StrBytes::from_static_str);
                c
            })
            .collect();
    } else {
        resp.error_code = code;
        resp.node_id = node;
        resp.host = host;
        resp.port = port;
        if ctx.version >= 1 {
            resp.error_message = message.map(StrBytes::from_static_str);
        }
    }
    ResponseKind::FindCoordinator(resp)
}
