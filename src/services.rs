//! The composition root of one core: [`Core`] owns the core's services and wires them together.
//!
//! Layers point down only: the protocol (`kafka`) uses the coordinators (`group`, `txn`) and
//! the core services (`shard`: mesh, topic view, partition store, metadata admin), which use
//! `storage`; `cluster`, `config` and `metrics` are helpers below them. The core services never
//! name the coordinators: this module registers every service calls run against on the mesh
//! ([`Mesh::provide`]), registers the coordinators as listeners for partition events
//! ([`PartitionEvents`]), and hands them their narrow handles ([`InternalTopics`], [`Mesh`], and
//! the transaction coordinator and the follower fetchers the core's inter-broker client,
//! [`Peers`]).

use std::rc::{Rc, Weak};
use std::sync::Arc;

use glommio::channels::channel_mesh::Senders;

use crate::cluster::producer_ids::ProducerIds;
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::interbroker::{LoginMechanism, PeerSecurity, Peers, ResponseCheck, SaslLogin, Settings};
use crate::metrics::core::Snapshot;
use crate::metrics::registry::Registry;
use crate::shard::internal::InternalTopics;
use crate::shard::messages::MeshMessage;
use crate::shard::{ClusterView, Mesh, MetadataAdmin, PartitionEvents, PartitionStore, TopicView};

/// One core's services.
pub struct Core {
    /// This core's end of the channel mesh.
    pub mesh: Rc<Mesh>,
    /// Configuration, topic table snapshot and produce policies.
    pub view: Rc<TopicView>,
    /// The cluster's live brokers and active controller (from the controller's image); a
    /// single node's own until the membership agent publishes (`ClusterView::follow`).
    pub cluster: Rc<ClusterView>,
    /// The partition logs this core owns.
    pub store: Rc<PartitionStore>,
    /// Topic and dynamic-config changes (served on core 0).
    pub admin: Rc<MetadataAdmin>,
    /// This core's producer id allocator (InitProducerId without a transactional id, and the
    /// transaction coordinator).
    pub producer_ids: Rc<ProducerIds>,
    /// The group coordinator.
    pub groups: Rc<crate::group::Coordinator>,
    /// The transaction coordinator.
    pub txns: Rc<crate::txn::Coordinator>,
    /// The follower fetch sessions of this core's replicated partitions.
    pub followers: Rc<crate::replica::Followers>,
}

impl Core {
    /// Builds core `id`'s services and registers them on its mesh: the coordinators are
    /// registered for partition events before any partition is opened, so that they load their
    /// internal topics' partitions as those open.
    pub fn new(
        id: usize,
        config: Arc<Config>,
        cluster_id: Arc<str>,
        topics: Arc<TopicTable>,
        senders: Senders<MeshMessage>,
        check_response: ResponseCheck,
    ) -> Rc<Core> {
        let cores = config.cores.len();
        let client_id = format!("runnel-broker-{}", config.node_id);
        let peer_settings = peer_settings(&config, check_response);
        let producer_ids = Rc::new(ProducerIds::new(&config.data_dir));
        let mesh = Mesh::new(id, cores, senders);
        let view = TopicView::new(cores, config, cluster_id, topics);
        let cluster = ClusterView::new(Default::default());
        let store = PartitionStore::new(id, view.clone(), cluster.clone());
        let admin = MetadataAdmin::new(mesh.clone(), view.clone());
        let internal = InternalTopics::new(&store);
        let groups = crate::group::Coordinator::new(internal.clone());
        let seen = cluster.clone();
        let peers = Peers::new(
            client_id.clone(),
            peer_settings.clone(),
            Box::new(move || seen.state()),
        );
        let txns = crate::txn::Coordinator::new(
            internal,
            mesh.clone(),
            groups.clone(),
            producer_ids.clone(),
            peers.clone(),
        );
        // Follower fetches long-poll (up to `replica.fetch.wait.max.ms`) and requests wait
        // their turn on a peer's connection: replication gets its own connections, so a
        // WriteTxnMarkers never waits behind a long poll. Same settings (TLS, SASL, bounds).
        let replication_peers = Peers::new(
            format!("{client_id}-replica-fetcher"),
            peer_settings.clone(),
            Box::new({
                let seen = cluster.clone();
                move || seen.state()
            }),
        );
        let followers = crate::replica::Followers::start(store.clone(), replication_peers);
        mesh.provide(&store);
        mesh.provide(&admin);
        mesh.provide(&groups);
        mesh.provide(&txns);
        let g: Weak<dyn PartitionEvents> = Rc::downgrade(&groups) as Weak<dyn PartitionEvents>;
        let t: Weak<dyn PartitionEvents> = Rc::downgrade(&txns) as Weak<dyn PartitionEvents>;
        store.on_partition_events(g);
        store.on_partition_events(t);
        // The coordinators follow their internal partitions' leadership (docs/replication.md,
        // step 6): loaded when this broker becomes leader, dropped when it stops.
        store.on_replication_change(crate::group::leadership::on_replication_change(&groups));
        store.on_replication_change(crate::txn::leadership::on_replication_change(&txns));
        Rc::new(Core {
            mesh,
            view,
            cluster,
            store,
            admin,
            producer_ids,
            groups,
            txns,
            followers,
        })
    }

    /// Starts the core's background tasks: group and transaction timers, log housekeeping and
    /// the metrics snapshot.
    pub fn start_tasks(&self, registry: &Arc<Registry>) {
        crate::group::sweep::start(self.groups.clone());
        crate::txn::sweep::start(&self.txns);
        crate::shard::housekeeping::start(&self.store);
        crate::shard::isr::start(&self.store, &self.mesh);
        crate::shard::hw_checkpoint::start(&self.store);
        let (store, groups) = (self.store.clone(), self.groups.clone());
        crate::metrics::snapshot::start(self.mesh.id(), registry.clone(), move || Snapshot {
            partitions: store.partition_gauges(),
            group_offsets: groups.offset_gauges(),
        });
    }
}

/// The inter-broker client's settings: the inter-broker listener's name, TLS and SASL login
/// (resolved and checked when the configuration was loaded).
fn peer_settings(config: &Config, check_response: ResponseCheck) -> Settings {
    let auth = &config.inter_broker_auth;
    let sasl = auth.sasl.as_ref().and_then(|(mechanism, user, password)| {
        Some(SaslLogin {
            mechanism: LoginMechanism::from_name(mechanism)?,
            username: user.clone(),
            password: password.clone(),
        })
    });
    Settings {
        listener: auth.listener.clone(),
        security: PeerSecurity {
            tls: auth.tls.as_ref().map(|t| t.0.clone()),
            sasl,
        },
        ..Settings::new(check_response)
    }
}
