//! Snapshots written by older versions: the image as it was before each field appended to
//! [`MetadataImage`] since (the cluster id, SCRAM credentials, ACLs, reassignments). postcard writes fields in
//! order without names, so an older snapshot is the same bytes without the last fields; each
//! layout below reads one such prefix, newest first.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use uuid::Uuid;

use super::{BrokerRegistration, MetadataImage, TopicImage};
use crate::records::{AccessControlEntryRecord, BrokerId};
use crate::scram_image::ScramCredentials;

/// The image of a snapshot written before one of the newer fields existed, if `bytes` is
/// exactly one such snapshot.
pub(super) fn decode_older(bytes: &[u8]) -> Option<MetadataImage> {
    if let Ok((old, [])) = postcard::take_from_bytes::<ImageBeforeReassignments>(bytes) {
        return Some(old.into());
    }
    if let Ok((old, [])) = postcard::take_from_bytes::<ImageBeforeAcls>(bytes) {
        return Some(old.into());
    }
    if let Ok((old, [])) = postcard::take_from_bytes::<ImageBeforeScram>(bytes) {
        return Some(old.into());
    }
    match postcard::take_from_bytes::<ImageBeforeClusterId>(bytes) {
        Ok((old, [])) => Some(old.into()),
        _ => None,
    }
}

/// The image as snapshots before reassignments wrote it (every field of [`MetadataImage`] up
/// to `acls`).
#[derive(Deserialize)]
struct ImageBeforeReassignments {
    applied_index: u64,
    brokers: BTreeMap<BrokerId, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_names: BTreeMap<String, Uuid>,
    broker_configs: BTreeMap<Option<BrokerId>, BTreeMap<String, String>>,
    next_producer_id: i64,
    cluster_id: Option<String>,
    scram: ScramCredentials,
    acls: Arc<BTreeMap<Uuid, AccessControlEntryRecord>>,
}

impl From<ImageBeforeReassignments> for MetadataImage {
    fn from(old: ImageBeforeReassignments) -> MetadataImage {
        MetadataImage {
            applied_index: old.applied_index,
            brokers: old.brokers,
            topics: old.topics,
            topic_names: old.topic_names,
            broker_configs: old.broker_configs,
            next_producer_id: old.next_producer_id,
            cluster_id: old.cluster_id,
            scram: old.scram,
            acls: old.acls,
            reassignments: BTreeMap::new(),
        }
    }
}

/// The image as snapshots before ACLs wrote it (every field of [`MetadataImage`] up to
/// `scram`).
#[derive(Deserialize)]
struct ImageBeforeAcls {
    applied_index: u64,
    brokers: BTreeMap<BrokerId, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_names: BTreeMap<String, Uuid>,
    broker_configs: BTreeMap<Option<BrokerId>, BTreeMap<String, String>>,
    next_producer_id: i64,
    cluster_id: Option<String>,
    scram: ScramCredentials,
}

impl From<ImageBeforeAcls> for MetadataImage {
    fn from(old: ImageBeforeAcls) -> MetadataImage {
        MetadataImage {
            applied_index: old.applied_index,
            brokers: old.brokers,
            topics: old.topics,
            topic_names: old.topic_names,
            broker_configs: old.broker_configs,
            next_producer_id: old.next_producer_id,
            cluster_id: old.cluster_id,
            scram: old.scram,
            acls: Arc::default(),
            reassignments: BTreeMap::new(),
        }
    }
}

/// The image as snapshots before SCRAM credentials wrote it (every field of [`MetadataImage`]
/// up to `cluster_id`).
#[derive(Deserialize)]
struct ImageBeforeScram {
    applied_index: u64,
    brokers: BTreeMap<BrokerId, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_names: BTreeMap<String, Uuid>,
    broker_configs: BTreeMap<Option<BrokerId>, BTreeMap<String, String>>,
    next_producer_id: i64,
    cluster_id: Option<String>,
}

impl From<ImageBeforeScram> for MetadataImage {
    fn from(old: ImageBeforeScram) -> MetadataImage {
        MetadataImage {
            applied_index: old.applied_index,
            brokers: old.brokers,
            topics: old.topics,
            topic_names: old.topic_names,
            broker_configs: old.broker_configs,
            next_producer_id: old.next_producer_id,
            cluster_id: old.cluster_id,
            scram: ScramCredentials::default(),
            acls: Arc::default(),
            reassignments: BTreeMap::new(),
        }
    }
}

/// The image as snapshots before the cluster id wrote it (every field of [`MetadataImage`] up
/// to `next_producer_id`).
#[derive(Deserialize)]
struct ImageBeforeClusterId {
    applied_index: u64,
    brokers: BTreeMap<BrokerId, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_names: BTreeMap<String, Uuid>,
    broker_configs: BTreeMap<Option<BrokerId>, BTreeMap<String, String>>,
    next_producer_id: i64,
}

impl From<ImageBeforeClusterId> for MetadataImage {
    fn from(old: ImageBeforeClusterId) -> MetadataImage {
        MetadataImage {
            applied_index: old.applied_index,
            brokers: old.brokers,
            topics: old.topics,
            topic_names: old.topic_names,
            broker_configs: old.broker_configs,
            next_producer_id: old.next_producer_id,
            cluster_id: None,
            scram: ScramCredentials::default(),
            acls: Arc::default(),
            reassignments: BTreeMap::new(),
        }
    }
}
