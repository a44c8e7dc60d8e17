//! What a core knows of the cluster's brokers and controllers: a [`ClusterState`] snapshot made
//! from the controller's newest [`MetadataImage`] and the active controller, which Metadata and
//! DescribeCluster answer from.
//!
//! A snapshot is immutable; a new one replaces it whole on every core (shard/cluster_view.rs).
//! This broker always lists itself from its own configuration, also before its registration
//! reaches the image, so that a client talking to it always finds the broker it talks to.

use std::net::SocketAddr;
use std::sync::Arc;

use runnel_controller::MetadataImage;

/// The listener name of a single-listener broker's endpoint (and of registrations written
/// before brokers registered every listener).
pub const CLIENT_LISTENER: &str = "PLAINTEXT";

/// One broker as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Its `node.id`.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// `broker.rack`.
    pub rack: Option<String>,
}

/// A partition's leader as the metadata image has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionLeader {
    /// Led by this broker id.
    Broker(i32),
    /// The partition exists but has no leader now (its broker is fenced or gone).
    NoLeader,
    /// The image has no such topic or partition (deleted, or never created).
    UnknownTopic,
}

/// The cluster as one core sees it.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    /// The newest image this node's controller applied.
    pub image: Arc<MetadataImage>,
    /// The active controller (the quorum's leader), when known.
    pub controller: Option<i32>,
    /// The quorum's voters and their controller addresses.
    pub voters: Vec<(i32, SocketAddr)>,
}

impl ClusterState {
    /// The current leader epoch of partition `partition` of topic `topic` (id `id` in the local
    /// table): the image's when it has the partition under that id, else 0 (a broker before
    /// its image has the topic, as Metadata then describes it).
    pub fn leader_epoch(&self, topic: &str, id: uuid::Uuid, partition: i32) -> i32 {
        self.image
            .topic_by_name(topic)
            .filter(|t| t.topic_id == id)
            .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?))
            .map_or(0, |p| p.leader_epoch)
    }

    /// The live brokers: registered and unfenced in the image, each with its endpoint of
    /// listener `listener` (a broker without one is left out, as Kafka does), plus `me` (this
    /// broker, from its configuration), by id.
    pub fn live_brokers(&self, me: &BrokerInfo, listener: &str) -> Vec<BrokerInfo> {
        let mut out = self.registered(listener, |fenced, id| !fenced && id != me.id);
        out.push(me.clone());
        out.sort_by_key(|b| b.id);
        out
    }

    /// The registered brokers that are fenced (DescribeCluster v2 `include_fenced_brokers`),
    /// other than `me`, by id.
    pub fn fenced_brokers(&self, me: i32, listener: &str) -> Vec<BrokerInfo> {
        self.registered(listener, |fenced, id| fenced && id != me)
    }

    /// Registered brokers that `keep(fenced, id)` selects, with their endpoints of `listener`.
    fn registered(&self, listener: &str, keep: impl Fn(bool, i32) -> bool) -> Vec<BrokerInfo> {
        self.image
            .brokers()
            .values()
            .filter(|b| keep(b.fenced, b.id))
            .filter_map(|b| {
                let ep = b.endpoints.iter().find(|e| e.name == listener)?;
                Some(BrokerInfo {
                    id: b.id,
                    host: ep.host.clone(),
                    port: ep.port,
                    rack: b.rack.clone(),
                })
            })
            .collect()
    }

    /// Whether the image has broker `id` registered by `incarnation` and unfenced: from then on
    /// the partitions it leads have it as their leader (the unfence and those elections are one
    /// batch, see the controller's `unfence_batch`).
    pub fn is_unfenced(&self, id: i32, incarnation: uuid::Uuid) -> bool {
        self.image
            .broker(id)
            .is_some_and(|b| !b.fenced && b.incarnation_id == incarnation)
    }

    /// Where the image says `topic`/`partition` is led (see [`PartitionLeader`]).
    pub fn leader_of(&self, topic: &str, partition: i32) -> PartitionLeader {
        let Some(t) = self.image.topic_by_name(topic) else {
            return PartitionLeader::UnknownTopic;
        };
        let p = usize::try_from(partition)
            .ok()
            .and_then(|i| t.partitions.get(i));
        match p {
            None => PartitionLeader::UnknownTopic,
            Some(p) if p.leader < 0 => PartitionLeader::NoLeader,
            Some(p) => PartitionLeader::Broker(p.leader),
        }
    }

    /// The endpoint other brokers reach broker `id` at (its first PLAINTEXT endpoint: brokers
    /// register their inter-broker listener first; else its first), when it is registered and
    /// not fenced.
    pub fn client_endpoint(&self, id: i32) -> Option<(String, u16)> {
        let b = self.image.broker(id).filter(|b| !b.fenced)?;
        let ep = b
            .endpoints
            .iter()
            .find(|e| e.security_protocol == "PLAINTEXT")
            .or_else(|| b.endpoints.first())?;
        Some((ep.host.clone(), ep.port))
    }

    /// The endpoint other brokers reach broker `id` at over the inter-broker listener
    /// `listener` (the endpoint of that name), else [`ClusterState::client_endpoint`]; only
    /// when it is registered and not fenced.
    pub fn endpoint_for_peers(&self, id: i32, listener: &str) -> Option<(String, u16)> {
        let b = self.image.broker(id).filter(|b| !b.fenced)?;
        match b.endpoints.iter().find(|e| e.name == listener) {
            Some(ep) => Some((ep.host.clone(), ep.port)),
            None => self.client_endpoint(id),
        }
    }

    /// The controller id to give clients that expect a broker there (Metadata, DescribeCluster
    /// for broker endpoints): the active controller when it is among `live`, else `me`.
    pub fn controller_among(&self, live: &[BrokerInfo], me: i32) -> i32 {
        match self.controller {
            Some(c) if live.iter().any(|b| b.id == c) => c,
            _ => me,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_controller::records::{
        Endpoint, MetadataRecord, RegisterBrokerRecord, UnfenceBrokerRecord,
    };
    use runnel_controller::RecordBatch;

    fn register(image: &MetadataImage, id: i32, port: u16, index: u64) -> MetadataImage {
        let rec = RegisterBrokerRecord {
            broker_id: id,
            incarnation_id: uuid::Uuid::new_v4(),
            endpoints: vec![Endpoint {
                name: CLIENT_LISTENER.into(),
                host: "127.0.0.1".into(),
                port,
                security_protocol: "PLAINTEXT".into(),
            }],
            rack: Some(format!("r{id}")),
        };
        image
            .apply(
                &RecordBatch::one(MetadataRecord::RegisterBroker(rec)),
                index,
            )
            .unwrap()
    }

    #[test]
    fn live_brokers_are_the_unfenced_ones_and_me() {
        let me = BrokerInfo {
            id: 1,
            host: "h1".into(),
            port: 1,
            rack: None,
        };
        let image = register(&MetadataImage::default(), 2, 2, 1);
        let image = register(&image, 3, 3, 2);
        let image = image
            .apply(
                &RecordBatch::one(MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
                    broker_id: 3,
                    broker_epoch: 2,
                })),
                3,
            )
            .unwrap();
        let state = ClusterState {
            image: Arc::new(image),
            controller: Some(2),
            voters: Vec::new(),
        };
        let live = state.live_brokers(&me, CLIENT_LISTENER);
        let ids: Vec<i32> = live.iter().map(|b| b.id).collect();
        // Broker 2 is registered but still fenced.
        assert_eq!(ids, vec![1, 3]);
        let fenced: Vec<i32> = state
            .fenced_brokers(1, CLIENT_LISTENER)
            .iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(fenced, vec![2]);
        assert_eq!(live[1].rack.as_deref(), Some("r3"));
        assert_eq!(live[1].port, 3);
        // The active controller is not live: clients are given this broker.
        assert_eq!(state.controller_among(&live, 1), 1);
        let state = ClusterState {
            controller: Some(3),
            ..state
        };
        assert_eq!(state.controller_among(&live, 1), 3);
    }

    #[test]
    fn each_listener_sees_the_endpoints_of_its_name() {
        let me = BrokerInfo {
            id: 1,
            host: "h1".into(),
            port: 9093,
            rack: None,
        };
        let ep = |name: &str, port: u16, proto: &str| Endpoint {
            name: name.into(),
            host: "10.0.0.2".into(),
            port,
            security_protocol: proto.into(),
        };
        let rec = RegisterBrokerRecord {
            broker_id: 2,
            incarnation_id: uuid::Uuid::new_v4(),
            endpoints: vec![
                ep("PLAINTEXT", 9092, "PLAINTEXT"),
                ep("SASL_PLAINTEXT", 9093, "SASL_PLAINTEXT"),
            ],
            rack: None,
        };
        let image = MetadataImage::default()
            .apply(&RecordBatch::one(MetadataRecord::RegisterBroker(rec)), 1)
            .and_then(|i| {
                i.apply(
                    &RecordBatch::one(MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
                        broker_id: 2,
                        broker_epoch: 1,
                    })),
                    2,
                )
            })
            .unwrap();
        // An older registration: one PLAINTEXT endpoint.
        let image = register(&image, 3, 9092, 3)
            .apply(
                &RecordBatch::one(MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
                    broker_id: 3,
                    broker_epoch: 3,
                })),
                4,
            )
            .unwrap();
        let state = ClusterState {
            image: Arc::new(image),
            controller: None,
            voters: Vec::new(),
        };
        let at = |listener: &str| -> Vec<(i32, u16)> {
            (state.live_brokers(&me, listener).iter())
                .map(|b| (b.id, b.port))
                .collect()
        };
        assert_eq!(at("SASL_PLAINTEXT"), vec![(1, 9093), (2, 9093)]);
        assert_eq!(at("PLAINTEXT"), vec![(1, 9093), (2, 9092), (3, 9092)]);
        // Other brokers reach broker 2 at its PLAINTEXT endpoint.
        assert_eq!(state.client_endpoint(2), Some(("10.0.0.2".into(), 9092)));
    }
}
