//! FindCoordinator: advertised because librdkafka enables LZ4 (and other features) only when
//! the broker lists it, as every Kafka release does. Consumer groups and transactions are not
//! implemented yet, so every key is answered with COORDINATOR_NOT_AVAILABLE, which clients
//! treat as retriable.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use crate::errors;
use crate::kafka::dispatch::RequestContext;

const MESSAGE: &str = "Consumer groups and transactions are not available on this broker yet";

/// Handles FindCoordinator.
pub fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> ResponseKind {
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let mut c = Coordinator::default();
                c.key = k.clone();
                c.node_id = BrokerId(-1);
                c.port = -1;
                c.error_code = errors::COORDINATOR_NOT_AVAILABLE;
                c.error_message = Some(StrBytes::from_static_str(MESSAGE));
                c
            })
            .collect();
    } else {
        resp.error_code = errors::COORDINATOR_NOT_AVAILABLE;
        resp.node_id = BrokerId(-1);
        resp.port = -1;
        if ctx.version >= 1 {
            resp.error_message = Some(StrBytes::from_static_str(MESSAGE));
        }
    }
    ResponseKind::FindCoordinator(resp)
}
