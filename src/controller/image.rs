//! The metadata image: an immutable picture of the cluster's metadata at one log index, built by
//! applying committed [`RecordBatch`]es (KRaft's `MetadataImage` / `MetadataDelta` idea).
//!
//! [`MetadataImage::apply`] is pure: it checks every record of a batch against the image and
//! returns a new image, or a [`RejectReason`] and leaves the image as it was. The same function
//! runs on the leader before it proposes a batch (so a batch that cannot apply is refused to the
//! caller) and on every node when the batch commits, where a batch that a racing proposal made
//! invalid is skipped the same way on every node. Nothing here panics on a bad record.
//!
//! Topics sit behind `Arc`s so that a new image shares every topic a batch does not touch.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::records::*;
use crate::scram_image::ScramCredentials;

#[path = "image_compat.rs"]
mod compat;

/// Most listeners one broker may register.
const MAX_ENDPOINTS: usize = 64;
/// Longest topic name (Kafka's limit).
const MAX_TOPIC_NAME: usize = 249;
/// Most partitions one topic may have.
pub const MAX_PARTITIONS: usize = 100_000;
/// Most ACL bindings the cluster may hold.
pub const MAX_ACLS: usize = 100_000;

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    /// The broker's id.
    pub id: BrokerId,
    /// Its epoch: the log index of its registration.
    pub epoch: u64,
    /// The incarnation that registered.
    pub incarnation_id: Uuid,
    /// Its listeners.
    pub endpoints: Vec<Endpoint>,
    /// Its rack.
    pub rack: Option<String>,
    /// Fenced brokers lead no partition and are not given new replicas.
    pub fenced: bool,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    /// Replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas.
    pub isr: Vec<BrokerId>,
    /// The leader or [`NO_LEADER`].
    pub leader: BrokerId,
    /// Bumped at every leader change.
    pub leader_epoch: i32,
    /// Bumped at every change of the partition.
    pub partition_epoch: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    /// Its name.
    pub name: String,
    /// Its id.
    pub topic_id: Uuid,
    /// Its partitions, by index.
    pub partitions: Vec<PartitionImage>,
    /// Its configs that differ from the defaults.
    pub configs: BTreeMap<String, String>,
}

/// The cluster's metadata after the batch at [`MetadataImage::applied_index`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    applied_index: u64,
    brokers: BTreeMap<BrokerId, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_names: BTreeMap<String, Uuid>,
    broker_configs: BTreeMap<Option<BrokerId>, BTreeMap<String, String>>,
    next_producer_id: i64,
    /// After `next_producer_id`, so that a snapshot written before it existed is the same
    /// bytes without it ([`MetadataImage::from_snapshot_bytes`] reads both).
    cluster_id: Option<String>,
    /// After `cluster_id`, for the same reason: snapshots written before SCRAM credentials
    /// existed load.
    scram: ScramCredentials,
    /// ACL bindings by id; one `Arc` shared by every image until an ACL changes, so that the
    /// brokers' authorizers rebuild their index only then. Last, for the same reason as
    /// `cluster_id`.
    acls: Arc<BTreeMap<Uuid, AccessControlEntryRecord>>,
    /// Partition reassignments in progress, by topic id and partition. Last, for the same
    /// reason as `cluster_id`.
    reassignments: BTreeMap<(Uuid, i32), Reassignment>,
}

/// A partition reassignment in progress (Kafka's `addingReplicas` / `removingReplicas` of a
/// partition registration): the partition's replicas are the target followed by `removing`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    /// Target replicas that were not replicas before (they are copying the log).
    pub adding: Vec<BrokerId>,
    /// Replicas that are not in the target (they leave once every target replica is in sync).
    pub removing: Vec<BrokerId>,
}

/// Why a batch does not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// No topic with that name or id.
    UnknownTopic(String),
    /// A topic with that name or id exists.
    TopicExists(String),
    /// No such partition.
    UnknownPartition(String),
    /// No broker registered with that id.
    UnknownBroker(BrokerId),
    /// The broker epoch given is not the broker's current one.
    StaleBrokerEpoch(BrokerId),
    /// Another incarnation of this `node.id` is registered and unfenced.
    DuplicateBrokerId(BrokerId),
    /// A replica assignment, ISR or leader that cannot be.
    InvalidReplicaAssignment(String),
    /// A producer-id block that does not move forward.
    InvalidProducerIds(i64),
    /// Any other invalid record.
    Invalid(String),
    /// An AlterPartition from a broker that does not lead the partition (Kafka's
    /// NOT_LEADER_OR_FOLLOWER).
    NotLeader(String),
    /// An AlterPartition made in an older leader epoch (FENCED_LEADER_EPOCH).
    FencedLeaderEpoch(String),
    /// An AlterPartition made against an older partition epoch (INVALID_UPDATE_VERSION).
    InvalidUpdateVersion(String),
    /// An ISR that would add a fenced or unregistered replica (INELIGIBLE_REPLICA).
    IneligibleReplica(String),
    /// A reassignment cancelled where none is in progress (NO_REASSIGNMENT_IN_PROGRESS).
    NoReassignmentInProgress(String),
    /// A reassignment that changes the replication factor when the request forbids it
    /// (INVALID_REPLICATION_FACTOR, KIP-860).
    InvalidReplicationFactor(String),
    /// An election of the leader the partition already has, or an unclean election of a
    /// partition that has a leader (ELECTION_NOT_NEEDED).
    ElectionNotNeeded(String),
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::UnknownTopic(t) => write!(f, "unknown topic {t}"),
            RejectReason::TopicExists(t) => write!(f, "topic {t} already exists"),
            RejectReason::UnknownPartition(p) => write!(f, "unknown partition {p}"),
            RejectReason::UnknownBroker(b) => write!(f, "broker {b} is not registered"),
            RejectReason::StaleBrokerEpoch(b) => write!(f, "stale epoch for broker {b}"),
            RejectReason::DuplicateBrokerId(b) => {
                write!(f, "node.id {b} is registered by another live broker")
            }
            RejectReason::InvalidReplicaAssignment(m) => write!(f, "invalid replicas: {m}"),
            RejectReason::InvalidProducerIds(n) => {
                write!(f, "producer id block ending at {n} does not move forward")
            }
            RejectReason::Invalid(m) => write!(f, "invalid record: {m}"),
            RejectReason::NotLeader(p) => write!(f, "not the leader of {p}"),
            RejectReason::FencedLeaderEpoch(p) => write!(f, "stale leader epoch for {p}"),
            RejectReason::InvalidUpdateVersion(p) => write!(f, "stale partition epoch for {p}"),
            RejectReason::IneligibleReplica(m) => write!(f, "ineligible replica: {m}"),
            RejectReason::NoReassignmentInProgress(p) => {
                write!(f, "no partition reassignment is in progress for {p}")
            }
            RejectReason::InvalidReplicationFactor(m) => write!(f, "{m}"),
            RejectReason::ElectionNotNeeded(m) => write!(f, "election not needed: {m}"),
        }
    }
}

impl std::error::Error for RejectReason {}

/// Whether `name` is a legal topic name (Kafka's rules: 1 to 249 of `[a-zA-Z0-9._-]`, not `.`
/// or `..`).
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl MetadataImage {
    /// The log index of the last batch applied (0: nothing yet).
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Registered brokers, by id.
    pub fn brokers(&self) -> &BTreeMap<BrokerId, BrokerRegistration> {
        &self.brokers
    }

    /// One broker's registration.
    pub fn broker(&self, id: BrokerId) -> Option<&BrokerRegistration> {
        self.brokers.get(&id)
    }

    /// Registered, unfenced brokers with their racks, by id: where new replicas may go.
    pub fn unfenced_brokers(&self) -> Vec<(BrokerId, Option<String>)> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| (b.id, b.rack.clone()))
            .collect()
    }

    /// Topics, by id.
    pub fn topics(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.topics.values()
    }

    /// A topic by id.
    pub fn topic(&self, id: &Uuid) -> Option<&Arc<TopicImage>> {
        self.topics.get(id)
    }

    /// A topic by name.
    pub fn topic_by_name(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.topic_names
            .get(name)
            .and_then(|id| self.topics.get(id))
    }

    /// Configs of one broker (`Some(id)`) or the cluster-wide broker default (`None`).
    pub fn broker_configs(&self, broker: Option<BrokerId>) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(&broker)
    }

    /// The first producer id not yet handed out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// The cluster's id, once a [`ClusterIdRecord`](crate::records::ClusterIdRecord) set it.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// Every user's SCRAM credentials.
    pub fn scram(&self) -> &ScramCredentials {
        &self.scram
    }

    /// The ACL bindings, by id (the same `Arc` until an ACL changes).
    pub fn acls(&self) -> &Arc<BTreeMap<Uuid, AccessControlEntryRecord>> {
        &self.acls
    }

    /// The reassignment in progress of `partition` of topic `topic_id`, if any.
    pub fn reassignment(&self, topic_id: &Uuid, partition: i32) -> Option<&Reassignment> {
        self.reassignments.get(&(*topic_id, partition))
    }

    /// Every reassignment in progress, by topic id and partition.
    pub fn reassignments(&self) -> &BTreeMap<(Uuid, i32), Reassignment> {
        &self.reassignments
    }

    /// The reassignments in progress, to change them (`crate::reassign`).
    pub(crate) fn reassignments_mut(&mut self) -> &mut BTreeMap<(Uuid, i32), Reassignment> {
        &mut self.reassignments
    }

    /// The image as a snapshot's bytes.
    pub fn to_snapshot_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// The image of a snapshot's bytes, also of a snapshot written before ACLs, SCRAM
    /// credentials or the cluster id existed (the same bytes without the last fields).
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<MetadataImage, postcard::Error> {
        let e = match postcard::from_bytes::<MetadataImage>(bytes) {
            Ok(image) => return Ok(image),
            Err(e) => e,
        };
        compat::decode_older(bytes).ok_or(e)
    }

    /// This image at `index` with nothing else changed: what a log entry that carries no batch
    /// (a leader's blank entry, a membership change) does to the image.
    pub fn advanced_to(&self, index: u64) -> MetadataImage {
        let mut next = self.clone();
        next.applied_index = index;
        next
    }

    /// Moves this image to `index` in place (entries without a batch, batches skipped).
    pub(crate) fn set_applied_index(&mut self, index: u64) {
        self.applied_index = index;
    }

    /// Checks the batch and applies it as of log `index`: a new image, or why the batch does not
    /// apply (then nothing of it does).
    pub fn apply(&self, batch: &RecordBatch, index: u64) -> Result<MetadataImage, RejectReason> {
        let mut next = self.clone();
        for record in &batch.records {
            next.apply_one(record, index)?;
        }
        next.applied_index = index;
        Ok(next)
    }

    pub(crate) fn registered(
        &self,
        id: BrokerId,
        epoch: u64,
    ) -> Result<&BrokerRegistration, RejectReason> {
        let b = self
            .brokers
            .get(&id)
            .ok_or(RejectReason::UnknownBroker(id))?;
        if b.epoch != epoch {
            return Err(RejectReason::StaleBrokerEpoch(id));
        }
        Ok(b)
    }

    pub(crate) fn topic_mut(&mut self, id: &Uuid) -> Result<&mut TopicImage, RejectReason> {
        self.topics
            .get_mut(id)
            .map(Arc::make_mut)
            .ok_or_else(|| RejectReason::UnknownTopic(id.to_string()))
    }

    /// Checks a replica list and ISR against the registered brokers.
    pub(crate) fn check_replicas(
        &self,
        replicas: &[BrokerId],
        isr: &[BrokerId],
        leader: BrokerId,
    ) -> Result<(), RejectReason> {
        let bad = |m: String| Err(RejectReason::InvalidReplicaAssignment(m));
        if replicas.is_empty() || replicas.len() > self.brokers.len().max(1) {
            return bad(format!("{} replicas", replicas.len()));
        }
        for (i, r) in replicas.iter().enumerate() {
            if replicas[..i].contains(r) {
                return bad(format!("broker {r} twice"));
            }
            if !self.brokers.contains_key(r) {
                return bad(format!("broker {r} is not registered"));
            }
        }
        for (i, r) in isr.iter().enumerate() {
            if !replicas.contains(r) || isr[..i].contains(r) {
                return bad(format!("ISR member {r} is not a distinct replica"));
            }
        }
        if leader != NO_LEADER && !isr.contains(&leader) {
            return bad(format!("leader {leader} is not in the ISR"));
        }
        Ok(())
    }

    fn apply_one(&mut self, record: &MetadataRecord, index: u64) -> Result<(), RejectReason> {
        match record {
            MetadataRecord::RegisterBroker(r) => {
                if r.broker_id < 0 {
                    return Err(RejectReason::Invalid(format!("broker id {}", r.broker_id)));
                }
                if r.endpoints.is_empty() || r.endpoints.len() > MAX_ENDPOINTS {
                    return Err(RejectReason::Invalid(format!(
                        "{} endpoints",
                        r.endpoints.len()
                    )));
                }
                if let Some(old) = self.brokers.get(&r.broker_id) {
                    if !old.fenced && old.incarnation_id != r.incarnation_id {
                        return Err(RejectReason::DuplicateBrokerId(r.broker_id));
                    }
                }
                self.brokers.insert(
                    r.broker_id,
                    BrokerRegistration {
                        id: r.broker_id,
                        epoch: index,
                        incarnation_id: r.incarnation_id,
                        endpoints: r.endpoints.clone(),
                        rack: r.rack.clone(),
                        fenced: true,
                    },
                );
            }
            MetadataRecord::UnregisterBroker(r) => {
                self.registered(r.broker_id, r.broker_epoch)?;
                self.brokers.remove(&r.broker_id);
            }
            MetadataRecord::FenceBroker(r) => {
                if self.registered(r.broker_id, r.broker_epoch)?.fenced {
                    return Err(RejectReason::Invalid(format!(
                        "broker {} is already fenced",
                        r.broker_id
                    )));
                }
                if let Some(b) = self.brokers.get_mut(&r.broker_id) {
                    b.fenced = true;
                }
            }
            MetadataRecord::UnfenceBroker(r) => {
                if !self.registered(r.broker_id, r.broker_epoch)?.fenced {
                    return Err(RejectReason::Invalid(format!(
                        "broker {} is not fenced",
                        r.broker_id
                    )));
                }
                if let Some(b) = self.brokers.get_mut(&r.broker_id) {
                    b.fenced = false;
                }
            }
            MetadataRecord::Topic(r) => {
                if !valid_topic_name(&r.name) {
                    return Err(RejectReason::Invalid(format!("topic name {:?}", r.name)));
                }
                if r.topic_id.is_nil() {
                    return Err(RejectReason::Invalid("nil topic id".into()));
                }
                if self.topic_names.contains_key(&r.name) {
                    return Err(RejectReason::TopicExists(r.name.clone()));
                }
                if self.topics.contains_key(&r.topic_id) {
                    return Err(RejectReason::TopicExists(r.topic_id.to_string()));
                }
                self.topic_names.insert(r.name.clone(), r.topic_id);
                self.topics.insert(
                    r.topic_id,
                    Arc::new(TopicImage {
                        name: r.name.clone(),
                        topic_id: r.topic_id,
                        partitions: Vec::new(),
                        configs: BTreeMap::new(),
                    }),
                );
            }
            MetadataRecord::Partition(r) => {
                self.check_replicas(&r.replicas, &r.isr, r.leader)?;
                if r.leader_epoch < 0 {
                    return Err(RejectReason::Invalid(format!(
                        "leader epoch {}",
                        r.leader_epoch
                    )));
                }
                let topic = self.topic_mut(&r.topic_id)?;
                if r.partition < 0 || r.partition as usize != topic.partitions.len() {
                    return Err(RejectReason::Invalid(format!(
                        "partition {} of {} (has {})",
                        r.partition,
                        topic.name,
                        topic.partitions.len()
                    )));
                }
                if topic.partitions.len() >= MAX_PARTITIONS {
                    return Err(RejectReason::Invalid("too many partitions".into()));
                }
                topic.partitions.push(PartitionImage {
                    replicas: r.replicas.clone(),
                    isr: r.isr.clone(),
                    leader: r.leader,
                    leader_epoch: r.leader_epoch,
                    partition_epoch: 0,
                });
            }
            MetadataRecord::PartitionChange(r) => {
                let current = self
                    .topics
                    .get(&r.topic_id)
                    .ok_or_else(|| RejectReason::UnknownTopic(r.topic_id.to_string()))?
                    .partitions
                    .get(usize::try_from(r.partition).unwrap_or(usize::MAX))
                    .ok_or_else(|| {
                        RejectReason::UnknownPartition(format!("{}-{}", r.topic_id, r.partition))
                    })?;
                let mut p = current.clone();
                if let Some(replicas) = &r.replicas {
                    p.replicas = replicas.clone();
                }
                if let Some(isr) = &r.isr {
                    p.isr = isr.clone();
                }
                if let Some(leader) = r.leader {
                    if leader != p.leader {
                        p.leader = leader;
                        p.leader_epoch = p.leader_epoch.saturating_add(1);
                    }
                }
                p.partition_epoch = p.partition_epoch.saturating_add(1);
                self.check_replicas(&p.replicas, &p.isr, p.leader)?;
                let topic = self.topic_mut(&r.topic_id)?;
                topic.partitions[r.partition as usize] = p;
                self.complete_reassignment_if_needed(&r.topic_id, r.partition)?;
            }
            MetadataRecord::RemoveTopic(r) => {
                let topic = self
                    .topics
                    .remove(&r.topic_id)
                    .ok_or_else(|| RejectReason::UnknownTopic(r.topic_id.to_string()))?;
                self.topic_names.remove(&topic.name);
                self.reassignments.retain(|(id, _), _| *id != r.topic_id);
            }
            MetadataRecord::Config(r) => {
                if r.name.is_empty() {
                    return Err(RejectReason::Invalid("empty config name".into()));
                }
                let configs = match &r.resource {
                    ConfigResource::Topic(name) => {
                        let id = *self
                            .topic_names
                            .get(name)
                            .ok_or_else(|| RejectReason::UnknownTopic(name.clone()))?;
                        &mut self.topic_mut(&id)?.configs
                    }
                    ConfigResource::Broker(b) => self.broker_configs.entry(*b).or_default(),
                };
                match &r.value {
                    Some(v) => {
                        configs.insert(r.name.clone(), v.clone());
                    }
                    None => {
                        configs.remove(&r.name);
                    }
                }
                if let ConfigResource::Broker(b) = &r.resource {
                    if self.broker_configs.get(b).is_some_and(|c| c.is_empty()) {
                        self.broker_configs.remove(b);
                    }
                }
            }
            MetadataRecord::ProducerIds(r) => {
                self.registered(r.broker_id, r.broker_epoch)?;
                if r.next_producer_id <= self.next_producer_id {
                    return Err(RejectReason::InvalidProducerIds(r.next_producer_id));
                }
                self.next_producer_id = r.next_producer_id;
            }
            MetadataRecord::ClusterId(r) => {
                let legal = !r.cluster_id.is_empty()
                    && r.cluster_id.len() <= 64
                    && r.cluster_id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !legal {
                    return Err(RejectReason::Invalid(format!(
                        "illegal cluster id {:?}",
                        r.cluster_id
                    )));
                }
                match &self.cluster_id {
                    Some(id) if *id != r.cluster_id => {
                        return Err(RejectReason::Invalid(format!(
                            "the cluster id is already {id}"
                        )));
                    }
                    _ => self.cluster_id = Some(r.cluster_id.clone()),
                }
            }
            MetadataRecord::UserScramCredential(r) => self.scram.apply_upsert(r)?,
            MetadataRecord::RemoveUserScramCredential(r) => self.scram.apply_remove(r)?,
            MetadataRecord::AccessControlEntry(r) => {
                r.check()
                    .map_err(|m| RejectReason::Invalid(format!("ACL {}: {m}", r.id)))?;
                if self.acls.len() >= MAX_ACLS {
                    return Err(RejectReason::Invalid(format!("more than {MAX_ACLS} ACLs")));
                }
                if self.acls.contains_key(&r.id) {
                    return Err(RejectReason::Invalid(format!("ACL {} exists", r.id)));
                }
                if self.acls.values().any(|a| a.same_binding(r)) {
                    return Err(RejectReason::Invalid("the same ACL binding exists".into()));
                }
                Arc::make_mut(&mut self.acls).insert(r.id, r.clone());
            }
            MetadataRecord::RemoveAccessControlEntry(r) => {
                if Arc::make_mut(&mut self.acls).remove(&r.id).is_none() {
                    return Err(RejectReason::Invalid(format!("no ACL {}", r.id)));
                }
            }
            MetadataRecord::AlterPartition(r) => self.alter_partition(r)?,
            MetadataRecord::ReassignPartition(r) => self.reassign(r)?,
            MetadataRecord::ElectLeader(r) => self.elect_leader(r)?,
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
