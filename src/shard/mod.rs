//! Core/shard routing: each core's state, and calls from one core to another.
//!
//! A [`Shard`] is one pinned executor's view of the broker: the partition logs it owns, its
//! snapshot of the topic table, and its end of the channel mesh. [`Shard::call`] runs a typed
//! [`call::CoreCall`] on the core that owns the data (in place when that is this core) and
//! returns its reply.

pub mod call;
pub mod dynamic_admin;
pub mod handlers;
pub mod housekeeping;
pub mod internal;
pub mod long_poll;
pub mod messages;
pub mod oneshot;
pub mod partitions;
pub mod topic_admin;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use glommio::channels::channel_mesh::Senders;

use crate::cluster::topic_config::{ProducePolicy, TopicConfig};
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::storage::{CacheBudget, LogConfig, PartitionLog};
use messages::MeshMessage;

/// Partition logs of one topic owned by this core, indexed by partition number.
pub struct LocalTopic {
    /// Topic id, to tell a re-created topic from the one it replaced.
    pub id: String,
    /// Logs by partition number; `None` for partitions owned by other cores.
    pub partitions: Vec<Option<Rc<PartitionLog>>>,
}

/// One core's state.
pub struct Shard {
    /// Index of this core among the executors (0-based).
    pub id: usize,
    /// Number of executors.
    pub cores: usize,
    /// Broker configuration: the static one with the dynamic configs applied; replaced as a
    /// whole when a dynamic config changes (read it with [`Shard::config`]).
    config: RefCell<Arc<Config>>,
    /// Cluster id reported in Metadata.
    pub cluster_id: Arc<str>,
    /// This core's snapshot of the topic table.
    pub topics: RefCell<Arc<TopicTable>>,
    /// Logs this core owns.
    pub logs: RefCell<HashMap<String, LocalTopic>>,
    /// Recent-batch cache budget shared by this core's logs.
    pub cache: Rc<CacheBudget>,
    senders: Senders<MeshMessage>,
    pending: RefCell<HashMap<u64, oneshot::Sender<call::Envelope>>>,
    next_id: Cell<u64>,
    /// Groups this core coordinates.
    pub groups: crate::group::Coordinator,
    /// Transactional ids this core coordinates.
    pub txns: crate::txn::Coordinator,
    /// This core's producer id allocator.
    pub producer_ids: crate::cluster::producer_ids::ProducerIds,
    /// Serialises topic-table changes on core 0.
    pub metadata_lock: glommio::sync::Semaphore,
    /// Produce-path settings of every topic, rebuilt with each topic-table change.
    pub policies: RefCell<HashMap<String, ProducePolicy>>,
    /// Long-polling fetches waiting on this core's partitions.
    pub long_polls: long_poll::LongPolls,
    /// Request bytes being read or processed on this core (`queued.max.request.bytes`).
    pub read_budget: Rc<crate::kafka::read_budget::ReadBudget>,
}

impl Shard {
    /// Creates the shard state for core `id`.
    pub fn new(
        id: usize,
        config: Arc<Config>,
        cluster_id: Arc<str>,
        topics: Arc<TopicTable>,
        senders: Senders<MeshMessage>,
    ) -> Rc<Shard> {
        crate::storage::open_files::set_capacity(config.limits.open_segment_files_per_core);
        Rc::new(Shard {
            id,
            cores: config.cores.len(),
            cache: CacheBudget::new(config.cache_bytes_per_core),
            cluster_id,
            topics: RefCell::new(topics),
            logs: RefCell::new(HashMap::new()),
            senders,
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            groups: Default::default(),
            txns: Default::default(),
            producer_ids: crate::cluster::producer_ids::ProducerIds::new(&config.data_dir, id),
            metadata_lock: glommio::sync::Semaphore::new(1),
            policies: RefCell::new(HashMap::new()),
            long_polls: long_poll::LongPolls::default(),
            read_budget: crate::kafka::read_budget::ReadBudget::new(
                config.limits.queued_max_request_bytes,
            ),
            config: RefCell::new(config),
        })
    }

    /// The current broker configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Installs a new broker configuration on this core (after a dynamic config change).
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.borrow_mut() = config;
    }

    /// The current topic table snapshot.
    pub fn topic_table(&self) -> Arc<TopicTable> {
        self.topics.borrow().clone()
    }

    /// Core owning `topic`/`partition`, if the partition exists.
    pub fn owner_of(&self, topic: &str, partition: i32) -> Option<usize> {
        self.topics.borrow().owner(topic, partition, self.cores)
    }

    /// The log of a partition owned by this core.
    pub fn log(&self, topic: &str, partition: i32) -> Option<Rc<PartitionLog>> {
        let logs = self.logs.borrow();
        let t = logs.get(topic)?;
        t.partitions.get(usize::try_from(partition).ok()?)?.clone()
    }

    /// The error for a partition whose log this core does not have: KAFKA_STORAGE_ERROR when
    /// this core owns it (its log failed to open, e.g. on a damaged or full disk),
    /// UNKNOWN_TOPIC_OR_PARTITION otherwise.
    pub fn missing_log_code(&self, topic: &str, partition: i32) -> i16 {
        if self.owner_of(topic, partition) == Some(self.id) {
            crate::errors::KAFKA_STORAGE_ERROR
        } else {
            crate::errors::UNKNOWN_TOPIC_OR_PARTITION
        }
    }

    /// Directory of a partition's log.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.config().data_dir.join(format!("{topic}-{partition}"))
    }

    /// Storage settings for the logs of a topic with config overrides `overrides`.
    pub fn log_config(&self, overrides: &std::collections::BTreeMap<String, String>) -> LogConfig {
        let t = TopicConfig::resolve(overrides, &self.config().topic_defaults);
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
                self.config().log.preallocate_step_bytes
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

    /// Closes every log this core owns (pending writes finished and synced).
    pub async fn close_all(&self) {
        let logs: Vec<Rc<PartitionLog>> = self
            .logs
            .borrow()
            .values()
            .flat_map(|t| t.partitions.iter().flatten().cloned())
            .collect();
        // Closing is mostly waiting on syncs: overlap them, a bounded number at a time.
        for chunk in logs.chunks(64) {
            let closing: Vec<_> = chunk
                .iter()
                .map(|log| {
                    let log = log.clone();
                    glommio::spawn_local(async move { log.close().await }).detach()
                })
                .collect();
            for c in closing {
                c.await;
            }
        }
    }
}
