//! Core/shard routing: each core's state, and calls from one core to another.
//!
//! A [`Shard`] is one pinned executor's core services below the coordinators: the partition
//! logs it owns (the partition store), its snapshot of the topic table (the topic view), and its
//! end of the channel mesh. [`Shard::call`] runs a typed [`call::CoreCall`] on the core that
//! owns the data (in place when that is this core) and returns its reply.
//!
//! This layer imports nothing above it: the group and transaction coordinators reach it through
//! [`internal::InternalTopics`] and [`Mesh`], and learn what they must about partitions (an
//! internal partition opened, topics deleted) through the [`PartitionEvents`] hooks the
//! composition root (`services::Core`) installs.

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
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use glommio::channels::channel_mesh::Senders;

use crate::cluster::topic_config::{ProducePolicy, TopicConfig};
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::errors::KafkaError;
use crate::storage::{CacheBudget, LogConfig, PartitionLog};
use messages::MeshMessage;

/// Partition logs of one topic owned by this core, indexed by partition number.
pub struct LocalTopic {
    /// Topic id, to tell a re-created topic from the one it replaced.
    pub id: String,
    /// Logs by partition number; `None` for partitions owned by other cores.
    pub partitions: Vec<Option<Rc<PartitionLog>>>,
}

/// A future returned by a [`PartitionEvents`] hook.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// What the services above the shard are told about this core's partitions. The composition
/// root registers them with [`Shard::on_partition_events`]; the shard calls them in place, in
/// registration order, while it applies a topic table.
pub trait PartitionEvents {
    /// This core opened partition `partition` of `topic` (at startup or when it was created);
    /// the topic table showing it is already installed. Called for every partition opened,
    /// before the next one is opened: a coordinator loads its internal topic's partition here.
    fn partition_opened<'a>(
        &'a self,
        topic: &'a str,
        partition: i32,
        log: &'a Rc<PartitionLog>,
    ) -> EventFuture<'a>;

    /// `topics` were deleted (or replaced by a new topic of the same name), once the new table
    /// is installed on this core and their logs are closed. Nothing by default.
    fn topics_deleted<'a>(&'a self, topics: &'a [String]) -> EventFuture<'a> {
        let _ = topics;
        Box::pin(async {})
    }
}

/// The mesh as the coordinators see it: this core's id, the number of cores, and typed calls
/// to other cores.
#[derive(Clone)]
pub struct Mesh(Rc<Shard>);

impl Mesh {
    /// The mesh of `shard`'s core.
    pub fn new(shard: &Rc<Shard>) -> Mesh {
        Mesh(shard.clone())
    }

    /// Index of this core.
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// Runs `call` on core `core` (see [`Shard::call`]).
    pub async fn call<C: call::CoreCall>(
        &self,
        core: usize,
        call: C,
    ) -> Result<C::Reply, call::Unavailable> {
        self.0.call(core, call).await
    }
}

/// One core's partition store, topic view and end of the mesh (see the module comment).
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
    /// Services above this layer that calls run against ([`Shard::provide`]).
    services: call::Services,
    /// Who is told about partitions opened and topics deleted ([`Shard::on_partition_events`]).
    events: RefCell<Vec<Weak<dyn PartitionEvents>>>,
    /// This core's producer id allocator (shared with the transaction coordinator).
    pub producer_ids: Rc<crate::cluster::producer_ids::ProducerIds>,
    /// Serialises topic-table changes on core 0.
    pub metadata_lock: glommio::sync::Semaphore,
    /// Produce-path settings of every topic, rebuilt with each topic-table change.
    pub policies: RefCell<HashMap<String, ProducePolicy>>,
    /// Long-polling fetches waiting on this core's partitions.
    pub long_polls: long_poll::LongPolls,
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
            services: Default::default(),
            events: RefCell::new(Vec::new()),
            producer_ids: Rc::new(crate::cluster::producer_ids::ProducerIds::new(
                &config.data_dir,
                id,
            )),
            metadata_lock: glommio::sync::Semaphore::new(1),
            policies: RefCell::new(HashMap::new()),
            long_polls: long_poll::LongPolls::default(),
            config: RefCell::new(config),
        })
    }

    /// Registers `events` to be told about partitions opened and topics deleted on this core.
    /// Held weakly: the caller keeps it alive.
    pub fn on_partition_events(&self, events: Weak<dyn PartitionEvents>) {
        self.events.borrow_mut().push(events);
    }

    /// The registered event hooks that are still alive.
    fn event_hooks(&self) -> Vec<Rc<dyn PartitionEvents>> {
        self.events
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
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
    pub fn missing_log_error(&self, topic: &str, partition: i32) -> KafkaError {
        if self.owner_of(topic, partition) == Some(self.id) {
            KafkaError::KafkaStorageError
        } else {
            KafkaError::UnknownTopicOrPartition
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

    /// The partitions this core owns as they are now, for the metrics snapshot.
    pub fn partition_gauges(&self) -> Vec<crate::metrics::core::PartitionGauge> {
        let mut out = Vec::new();
        for (name, topic) in self.logs.borrow().iter() {
            let name: Arc<str> = Arc::from(name.as_str());
            for (p, log) in topic.partitions.iter().enumerate() {
                let Some(log) = log else { continue };
                out.push(crate::metrics::core::PartitionGauge {
                    topic: name.clone(),
                    partition: p as i32,
                    log_start: log.log_start_offset(),
                    high_watermark: log.high_watermark(),
                    log_end: log.log_end_offset(),
                    size_bytes: log.size_bytes(),
                });
            }
        }
        out
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
