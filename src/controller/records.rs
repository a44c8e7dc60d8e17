//! The metadata records: the typed entries of the replicated metadata log.
//!
//! Each record is one change to the cluster's metadata, named after the KRaft record type that
//! carries the same change in Apache Kafka (`RegisterBrokerRecord`, `TopicRecord`,
//! `PartitionRecord`, ...). A proposal is a [`RecordBatch`]: its records are applied together or
//! not at all, so "create a topic" is one batch of a [`TopicRecord`], one [`PartitionRecord`] per
//! partition and one [`ConfigRecord`] per config. How each record changes the image, and when it
//! is rejected, is in [`crate::image`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A broker's id (Kafka's `node.id`; `i32` on the wire of every Kafka API).
pub type BrokerId = i32;

/// The leader value of a partition that has no leader (Kafka's `-1`).
pub const NO_LEADER: BrokerId = -1;

/// One listener of a broker, as clients and other brokers reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The listener's name (`PLAINTEXT`, `CONTROLLER`, ...).
    pub name: String,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: u16,
    /// The security protocol (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
    pub security_protocol: String,
}

/// A broker announces itself. The broker epoch it gets is the log index of this record (as in
/// KRaft, where the epoch is the record's offset); a new registration starts fenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBrokerRecord {
    /// The broker's `node.id`.
    pub broker_id: BrokerId,
    /// A random id the broker picks at each start; a different incarnation under an id whose
    /// registration is still unfenced is a duplicate `node.id` and is rejected.
    pub incarnation_id: Uuid,
    /// The broker's listeners.
    pub endpoints: Vec<Endpoint>,
    /// `broker.rack`, when set.
    pub rack: Option<String>,
}

/// A broker leaves the cluster (controlled shutdown finished, or an operator removed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterBrokerRecord {
    /// The broker.
    pub broker_id: BrokerId,
    /// The epoch of the registration being removed.
    pub broker_epoch: u64,
}

/// A broker stopped heartbeating (or shut down): it leads nothing until unfenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceBrokerRecord {
    /// The broker.
    pub broker_id: BrokerId,
    /// The epoch of its current registration.
    pub broker_epoch: u64,
}

/// A fenced broker heartbeats again with its current epoch: it may lead partitions again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfenceBrokerRecord {
    /// The broker.
    pub broker_id: BrokerId,
    /// The epoch of its current registration.
    pub broker_epoch: u64,
}

/// A topic is created (its partitions follow as [`PartitionRecord`]s in the same batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// The topic's name.
    pub name: String,
    /// The topic's id, unique in the cluster's life.
    pub topic_id: Uuid,
}

/// A partition is created, with its replica assignment, leader and ISR: a new topic's partitions
/// and partitions added to an existing topic (CreatePartitions) alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// The topic.
    pub topic_id: Uuid,
    /// The partition's index: the next one of the topic, partitions are never sparse.
    pub partition: i32,
    /// The replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// The in-sync replicas (a subset of `replicas`).
    pub isr: Vec<BrokerId>,
    /// The leader (a member of the ISR), or [`NO_LEADER`].
    pub leader: BrokerId,
    /// The leader epoch the partition starts with (normally 0).
    pub leader_epoch: i32,
}

/// A partition's leader, ISR or replicas change. Fields left `None` keep their value; the leader
/// epoch is bumped when the leader changes, the partition epoch on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChangeRecord {
    /// The topic.
    pub topic_id: Uuid,
    /// The partition.
    pub partition: i32,
    /// The new leader (or [`NO_LEADER`]).
    pub leader: Option<BrokerId>,
    /// The new ISR.
    pub isr: Option<Vec<BrokerId>>,
    /// The new replica list.
    pub replicas: Option<Vec<BrokerId>>,
}

/// A topic is deleted, with its partitions and configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveTopicRecord {
    /// The topic.
    pub topic_id: Uuid,
}

/// What a [`ConfigRecord`] configures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// One broker (`Some(id)`) or the cluster-wide broker default (`None`).
    Broker(Option<BrokerId>),
}

/// One config of a topic or broker is set (`value: Some`) or removed (`value: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// The resource.
    pub resource: ConfigResource,
    /// The config's name (`retention.ms`, ...).
    pub name: String,
    /// The new value, or `None` to return to the default.
    pub value: Option<String>,
}

/// A block of producer ids is handed to a broker: ids below `next_producer_id` are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerIdsRecord {
    /// The broker that asked.
    pub broker_id: BrokerId,
    /// Its current epoch.
    pub broker_epoch: u64,
    /// The first id not yet handed out after this block; must grow.
    pub next_producer_id: i64,
}

/// The cluster's id (Kafka's `cluster.id`), set once by the first broker that finds the image
/// without one; every broker reports it and keeps it in its `meta.properties`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdRecord {
    /// The id: 1 to 64 of `[A-Za-z0-9_-]` (Kafka's are 22 characters of URL-safe base64).
    pub cluster_id: String,
}

/// A user's SCRAM credential for one mechanism is created or replaced (Kafka's
/// `UserScramCredentialRecord`): the salted keys, never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserScramCredentialRecord {
    /// The user name (the `User:` principal's name once authenticated).
    pub name: String,
    /// Kafka's mechanism number: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
    pub mechanism: i8,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    /// PBKDF2 iterations (4096 to 16384).
    pub iterations: i32,
}

/// A user's SCRAM credential for one mechanism is removed (Kafka's
/// `RemoveUserScramCredentialRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveUserScramCredentialRecord {
    /// The user name.
    pub name: String,
    /// Kafka's mechanism number.
    pub mechanism: i8,
}

/// An ACL binding is created (Kafka's `AccessControlEntryRecord`). The enumerations carry
/// Kafka's wire codes (`ResourceType`, `PatternType`, `AclOperation`, `AclPermissionType`);
/// the broker's authorizer gives them meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessControlEntryRecord {
    /// The binding's id, unique in the cluster's life.
    pub id: Uuid,
    /// The resource type (2 topic ... 7 user).
    pub resource_type: i8,
    /// The resource name or prefix.
    pub resource_name: String,
    /// 3 literal, 4 prefixed.
    pub pattern_type: i8,
    /// `Type:name`.
    pub principal: String,
    /// A host address or `*`.
    pub host: String,
    /// The operation (2 ALL ... 14).
    pub operation: i8,
    /// 2 deny, 3 allow.
    pub permission_type: i8,
}

/// Longest ACL resource name, principal or host (bytes).
const MAX_ACL_FIELD: usize = 1024;

impl AccessControlEntryRecord {
    /// Whether `other` grants or denies exactly what this one does (every field but the id),
    /// compared in place: no copy of either record.
    pub fn same_binding(&self, other: &AccessControlEntryRecord) -> bool {
        self.resource_type == other.resource_type
            && self.pattern_type == other.pattern_type
            && self.operation == other.operation
            && self.permission_type == other.permission_type
            && self.resource_name == other.resource_name
            && self.principal == other.principal
            && self.host == other.host
    }

    /// Why the record cannot be an ACL: a nil id, a code out of Kafka's ranges for a binding
    /// (no ANY or MATCH values), an empty or overlong field. The broker checks the finer rules
    /// before it proposes one.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.id.is_nil() {
            return Err("nil id");
        }
        if !(2..=7).contains(&self.resource_type)
            || !(3..=4).contains(&self.pattern_type)
            || !(2..=14).contains(&self.operation)
            || !(2..=3).contains(&self.permission_type)
        {
            return Err("a code out of range");
        }
        for f in [&self.resource_name, &self.principal, &self.host] {
            if f.is_empty() || f.len() > MAX_ACL_FIELD {
                return Err("an empty or overlong field");
            }
        }
        Ok(())
    }
}

/// An ACL binding is deleted (Kafka's `RemoveAccessControlEntryRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveAccessControlEntryRecord {
    /// The binding's id.
    pub id: Uuid,
}

/// One change to the cluster's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// See [`RegisterBrokerRecord`].
    RegisterBroker(RegisterBrokerRecord),
    /// See [`UnregisterBrokerRecord`].
    UnregisterBroker(UnregisterBrokerRecord),
    /// See [`FenceBrokerRecord`].
    FenceBroker(FenceBrokerRecord),
    /// See [`UnfenceBrokerRecord`].
    UnfenceBroker(UnfenceBrokerRecord),
    /// See [`TopicRecord`].
    Topic(TopicRecord),
    /// See [`PartitionRecord`].
    Partition(PartitionRecord),
    /// See [`PartitionChangeRecord`].
    PartitionChange(PartitionChangeRecord),
    /// See [`RemoveTopicRecord`].
    RemoveTopic(RemoveTopicRecord),
    /// See [`ConfigRecord`].
    Config(ConfigRecord),
    /// See [`ProducerIdsRecord`].
    ProducerIds(ProducerIdsRecord),
    /// See [`ClusterIdRecord`]. Last, so that logs written before it still decode.
    ClusterId(ClusterIdRecord),
    /// See [`UserScramCredentialRecord`]. After `ClusterId`, so that older logs still decode.
    UserScramCredential(UserScramCredentialRecord),
    /// See [`RemoveUserScramCredentialRecord`].
    RemoveUserScramCredential(RemoveUserScramCredentialRecord),
    /// See [`AccessControlEntryRecord`]. Appended, so that logs written before it decode.
    AccessControlEntry(AccessControlEntryRecord),
    /// See [`RemoveAccessControlEntryRecord`].
    RemoveAccessControlEntry(RemoveAccessControlEntryRecord),
    /// See [`AlterPartitionRecord`]. Appended, so that logs written before it decode.
    AlterPartition(AlterPartitionRecord),
    /// See [`ReassignPartitionRecord`]. Appended, so that logs written before it decode.
    ReassignPartition(ReassignPartitionRecord),
    /// See [`ElectLeaderRecord`]. Appended, so that logs written before it decode.
    ElectLeader(ElectLeaderRecord),
}

/// An operator moves a partition's replicas or cancels such a move (Kafka's
/// AlterPartitionReassignments, KIP-455). The record carries the request, and the image works
/// out the change when it applies it (so that requests racing through the log are each checked
/// against the partition as it then is): the replicas become the target followed by the
/// current replicas leaving, with the replicas being added and removed noted until every
/// target replica is in the ISR (see `crate::reassign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassignPartitionRecord {
    /// The topic.
    pub topic_id: Uuid,
    /// The partition.
    pub partition: i32,
    /// The target replicas, preferred leader first; `None` cancels the reassignment in
    /// progress.
    pub target: Option<Vec<BrokerId>>,
    /// KIP-860's `allow_replication_factor_change`: when `false`, a target whose size differs
    /// from the partition's replication factor (before any reassignment in progress) is
    /// refused.
    pub allow_replication_factor_change: bool,
}

/// A leader election (Kafka's ElectLeaders, preferred or unclean, and the controller's
/// automatic preferred-leader rebalance and unclean elections): `leader` becomes the
/// partition's leader with a new leader epoch. Applied only against the partition epoch it was
/// decided on (a stale election changes nothing), and only when the new leader is a registered,
/// unfenced replica: in the ISR for a clean election, anywhere in the replicas for an unclean
/// one, which is allowed only while the partition has no leader and makes the new leader the
/// whole ISR. How it is checked is in `crate::elect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectLeaderRecord {
    /// The topic.
    pub topic_id: Uuid,
    /// The partition.
    pub partition: i32,
    /// The partition epoch the election was decided on.
    pub partition_epoch: i32,
    /// The new leader.
    pub leader: BrokerId,
    /// Whether a replica outside the ISR may be elected (unclean election).
    pub unclean: bool,
}

/// A partition's leader asks to change its ISR (Kafka's AlterPartition, KIP-497/KIP-841): a
/// follower that fell behind leaves it, one that caught up joins it. Applied only when the
/// request was made against the partition as it still is (the leader, its broker epoch, the
/// leader epoch and the partition epoch all current), so a stale or deposed leader cannot
/// change anything; the partition epoch is bumped as by a [`PartitionChangeRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterPartitionRecord {
    /// The topic.
    pub topic_id: Uuid,
    /// The partition.
    pub partition: i32,
    /// The leader making the request.
    pub leader: BrokerId,
    /// Its broker epoch.
    pub broker_epoch: u64,
    /// The leader epoch it leads in.
    pub leader_epoch: i32,
    /// The partition epoch it saw.
    pub partition_epoch: i32,
    /// The ISR it asks for (the leader among them).
    pub isr: Vec<BrokerId>,
}

/// The records of one proposal, applied atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    /// The records, in order.
    pub records: Vec<MetadataRecord>,
}

impl RecordBatch {
    /// A batch of one record.
    pub fn one(record: MetadataRecord) -> RecordBatch {
        RecordBatch {
            records: vec![record],
        }
    }

    /// The batch that creates a topic: its [`TopicRecord`], one [`PartitionRecord`] per entry of
    /// `assignments` (replicas, preferred leader first; all in sync, the first one leading) and
    /// one [`ConfigRecord`] per config.
    pub fn create_topic(
        name: &str,
        topic_id: Uuid,
        assignments: &[Vec<BrokerId>],
        configs: &[(String, String)],
    ) -> RecordBatch {
        let mut records = vec![MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id,
        })];
        records.extend(Self::partitions(topic_id, 0, assignments).records);
        records.extend(configs.iter().map(|(k, v)| {
            MetadataRecord::Config(ConfigRecord {
                resource: ConfigResource::Topic(name.to_string()),
                name: k.clone(),
                value: Some(v.clone()),
            })
        }));
        RecordBatch { records }
    }

    /// The batch that adds partitions `first..` to a topic (CreatePartitions).
    pub fn partitions(topic_id: Uuid, first: i32, assignments: &[Vec<BrokerId>]) -> RecordBatch {
        let records = assignments
            .iter()
            .enumerate()
            .map(|(i, replicas)| {
                MetadataRecord::Partition(PartitionRecord {
                    topic_id,
                    partition: first + i as i32,
                    replicas: replicas.clone(),
                    isr: replicas.clone(),
                    leader: replicas.first().copied().unwrap_or(NO_LEADER),
                    leader_epoch: 0,
                })
            })
            .collect();
        RecordBatch { records }
    }
}
