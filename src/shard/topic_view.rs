//! [`TopicView`]: what this core knows of the cluster's metadata: the broker configuration (the
//! static one with the dynamic configs applied), the cluster id, its snapshot of the topic
//! table, the produce-path policies derived from it, and what follows from them (which core
//! owns a partition, a topic's storage settings, where a partition's log lives).
//!
//! The view holds no logs and sends no calls; the partition store installs new tables and
//! configurations in it ([`super::partition_store::PartitionStore::apply`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::cluster::topic_config::{ProducePolicy, TopicConfig};
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::storage::LogConfig;

/// One core's view of the configuration and topic table (see the module comment).
pub struct TopicView {
    /// Number of executors (partitions are spread over them).
    cores: usize,
    /// Broker configuration; replaced as a whole when a dynamic config changes.
    config: RefCell<Arc<Config>>,
    /// Cluster id reported in Metadata.
    cluster_id: Arc<str>,
    /// This core's snapshot of the topic table.
    topics: RefCell<Arc<TopicTable>>,
    /// Produce-path settings of every topic, rebuilt with each topic-table change.
    policies: RefCell<HashMap<String, ProducePolicy>>,
    /// Replicated partitions this broker holds a replica of but does not lead (from the
    /// cluster snapshot, see [`TopicView::set_followed`]): clients get NOT_LEADER_OR_FOLLOWER
    /// for them. Empty while every partition has one replica.
    followed: RefCell<HashSet<(String, i32)>>,
}

impl TopicView {
    /// The view of a broker of `cores` cores, starting from `config` and `topics`.
    pub fn new(
        cores: usize,
        config: Arc<Config>,
        cluster_id: Arc<str>,
        topics: Arc<TopicTable>,
    ) -> Rc<TopicView> {
        Rc::new(TopicView {
            cores,
            config: RefCell::new(config),
            cluster_id,
            topics: RefCell::new(topics),
            policies: RefCell::new(HashMap::new()),
            followed: RefCell::new(HashSet::new()),
        })
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &Arc<str> {
        &self.cluster_id
    }

    /// The current broker configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Installs a new broker configuration (after a dynamic config change).
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.borrow_mut() = config;
    }

    /// The current topic table snapshot.
    pub fn topic_table(&self) -> Arc<TopicTable> {
        self.topics.borrow().clone()
    }

    /// Installs `table` as this core's snapshot and rebuilds the produce policies from it.
    pub fn set_topic_table(&self, table: Arc<TopicTable>) {
        let defaults = &self.config().topic_defaults;
        *self.policies.borrow_mut() = table
            .topics
            .values()
            .map(|m| {
                let t = TopicConfig::resolve(&m.configs, defaults);
                (m.name.clone(), ProducePolicy::from(&t))
            })
            .collect();
        *self.topics.borrow_mut() = table;
    }

    /// Core owning `topic`/`partition`, if the partition exists.
    pub fn owner_of(&self, topic: &str, partition: i32) -> Option<usize> {
        self.topics.borrow().owner(topic, partition, self.cores)
    }

    /// The core owning `topic`/`partition` when this broker may serve clients for it: it
    /// hosts the partition and, for a replicated partition, leads it (see
    /// [`TopicView::not_here`] for the error otherwise).
    pub fn leader_owner(&self, topic: &str, partition: i32) -> Option<usize> {
        let owner = self.owner_of(topic, partition)?;
        if self.follows(topic, partition) {
            return None;
        }
        Some(owner)
    }

    /// Whether this broker holds a follower replica of `topic`/`partition`.
    pub fn follows(&self, topic: &str, partition: i32) -> bool {
        let followed = self.followed.borrow();
        !followed.is_empty() && followed.contains(&(topic.to_string(), partition))
    }

    /// Installs the replicated partitions this broker follows (after a new cluster snapshot).
    pub fn set_followed(&self, followed: HashSet<(String, i32)>) {
        *self.followed.borrow_mut() = followed;
    }

    /// Whether `topic` has partition `partition` hosted by another broker (its requests answer
    /// NOT_LEADER_OR_FOLLOWER, or NOT_COORDINATOR for an internal topic's coordinator).
    pub fn hosted_elsewhere(&self, topic: &str, partition: i32) -> bool {
        let table = self.topics.borrow();
        table.has_partition(topic, partition) && table.owner(topic, partition, self.cores).is_none()
    }

    /// The error for a partition this broker does not serve clients for: NOT_LEADER_OR_FOLLOWER
    /// when another broker hosts or leads it, UNKNOWN_TOPIC_OR_PARTITION otherwise.
    pub fn not_here(&self, topic: &str, partition: i32) -> crate::errors::KafkaError {
        if self.hosted_elsewhere(topic, partition) || self.follows(topic, partition) {
            crate::errors::KafkaError::NotLeaderOrFollower
        } else {
            crate::errors::KafkaError::UnknownTopicOrPartition
        }
    }

    /// Path of the persisted topic table.
    pub fn table_path(&self) -> PathBuf {
        self.config().data_dir.join("topics.json")
    }

    /// Directory of a partition's log.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.config().data_dir.join(format!("{topic}-{partition}"))
    }

    /// Storage settings for the logs of a topic with config overrides `overrides`.
    pub fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let config = self.config();
        let t = TopicConfig::resolve(overrides, &config.topic_defaults);
        LogConfig {
            segment_bytes: t.segment_bytes,
            segment_ms: t.segment_ms,
            index_interval_bytes: t.index_interval_bytes,
            flush_messages: t.flush_messages,
            retention_ms: t.retention_ms,
            retention_bytes: t.retention_bytes,
            delete: t.delete,
            compact: t.compact,
            delete_retention_ms: t.delete_retention_ms,
            min_compaction_lag_ms: t.min_compaction_lag_ms,
            max_compaction_lag_ms: t.max_compaction_lag_ms,
            min_cleanable_ratio: t.min_cleanable_ratio,
            preallocate_bytes: if t.preallocate {
                config.log.preallocate_step_bytes
            } else {
                0
            },
        }
    }

    /// The produce-path settings of `topic` (the broker defaults for an unknown topic).
    pub fn produce_policy(&self, topic: &str) -> ProducePolicy {
        if let Some(p) = self.policies.borrow().get(topic) {
            return *p;
        }
        let t = TopicConfig::resolve(&Default::default(), &self.config().topic_defaults);
        ProducePolicy::from(&t)
    }
}
