//! The brokers and the controller that Metadata and DescribeCluster list: the live brokers of
//! this core's [`ClusterState`] snapshot (registered and unfenced in the controller's image),
//! always with this broker itself as its configuration advertises it, each at its endpoint of
//! the listener the client connected to (as Kafka answers).

use std::sync::Arc;

use crate::cluster::membership::{BrokerInfo, ClusterState};
use crate::kafka::dispatch::RequestContext;

/// What one request lists.
pub struct Listing {
    /// Live brokers, by id.
    pub brokers: Vec<BrokerInfo>,
    /// The controller id for answers that expect a broker there: the active controller when
    /// it is a live broker, else this broker.
    pub controller: i32,
    /// The snapshot it was taken from.
    pub state: Arc<ClusterState>,
}

/// This broker, as its configuration advertises the listener the client connected to.
pub fn this_broker(ctx: &RequestContext) -> BrokerInfo {
    let cfg = ctx.core.view.config();
    let (host, port) = ctx.listener.advertised.clone();
    BrokerInfo {
        id: cfg.node_id,
        host,
        port,
        rack: cfg.quorum.rack.clone(),
    }
}

/// The cluster id clients are given: the metadata image's once it has one, else this broker's
/// own (its `meta.properties`, or the id it will propose when the image has none).
pub fn cluster_id(ctx: &RequestContext, state: &ClusterState) -> String {
    match state.image.cluster_id() {
        Some(id) => id.to_string(),
        None => ctx.core.view.cluster_id().to_string(),
    }
}

/// The brokers and controller of this core's current snapshot.
pub fn listing(ctx: &RequestContext) -> Listing {
    let me = this_broker(ctx);
    let state = ctx.core.cluster.state();
    let brokers = state.live_brokers(&me, &ctx.listener.name);
    let controller = state.controller_among(&brokers, me.id);
    Listing {
        brokers,
        controller,
        state,
    }
}
