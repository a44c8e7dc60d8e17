//! [`PartitionStore`]: the partition logs this core owns, the recent-batch cache budget they
//! share, the long polls waiting on them, and the hooks told when partitions open or topics go.
//!
//! The store reads the [`TopicView`] (who owns what, storage settings) and installs new tables
//! and configurations in it ([`super::partitions::apply`]); it sends no calls itself. The data
//! calls (produce, fetch, offsets, DeleteRecords, producer state, long polls, partition sizes)
//! and the table and config installs run against it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use super::cluster_view::ClusterView;
use super::hw_checkpoint::Checkpointed;
use super::long_poll::LongPolls;
use super::replica_progress::{Led, Progress};
use super::topic_view::TopicView;
use crate::errors::KafkaError;
use crate::storage::{CacheBudget, PartitionLog};

/// Partition logs of one topic owned by this core, indexed by partition number.
pub struct LocalTopic {
    /// Topic id, to tell a re-created topic from the one it replaced.
    pub id: String,
    /// Logs by partition number; `None` for partitions owned by other cores.
    pub partitions: Vec<Option<Rc<PartitionLog>>>,
}

/// A future returned by a [`PartitionEvents`] hook.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// What the services above the store are told about this core's partitions. The composition
/// root registers them with [`PartitionStore::on_partition_events`]; the store calls them in
/// place, in registration order, while it applies a topic table.
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

/// One core's partition logs (see the module comment).
pub struct PartitionStore {
    /// Index of this core.
    id: usize,
    /// The topic table and configuration the logs follow.
    view: Rc<TopicView>,
    /// Logs this core owns, by topic name.
    pub(super) logs: RefCell<HashMap<String, LocalTopic>>,
    /// Recent-batch cache budget shared by this core's logs.
    pub(super) cache: Rc<CacheBudget>,
    /// Long-polling fetches waiting on this core's partitions.
    pub long_polls: LongPolls,
    /// Who is told about partitions opened and topics deleted.
    events: RefCell<Vec<Weak<dyn PartitionEvents>>>,
    /// The cluster snapshot the leader epochs stamped into appended batches come from.
    cluster: Rc<ClusterView>,
    /// The leader's record of its followers, for the replicated partitions this core leads.
    pub progress: Progress,
    /// Told after the replicated partitions of this core were synced with a new snapshot or
    /// table (the follower fetchers, registered at startup).
    replication_listeners: RefCell<Vec<Box<dyn Fn()>>>,
    /// The high watermarks of the checkpoint read at startup, taken by each partition's first
    /// open ([`super::hw_checkpoint`]).
    checkpointed: RefCell<Checkpointed>,
    /// Partitions opened with no checkpointed high watermark before the cluster snapshot said
    /// whether they are replicated: the first snapshot that says so starts them at their log
    /// start. Bounded by the partitions this core owns.
    unsettled: RefCell<HashSet<(String, i32)>>,
}

impl PartitionStore {
    /// The (empty) store of core `id`, following `view`, its logs stamping the leader epochs
    /// of `cluster`'s snapshots. Sets this thread's open-file budget from the configuration.
    pub fn new(id: usize, view: Rc<TopicView>, cluster: Rc<ClusterView>) -> Rc<PartitionStore> {
        let config = view.config();
        crate::storage::open_files::set_capacity(config.limits.open_segment_files_per_core);
        let store = Rc::new(PartitionStore {
            id,
            view,
            logs: RefCell::new(HashMap::new()),
            cache: CacheBudget::new(config.cache_bytes_per_core),
            long_polls: LongPolls::default(),
            events: RefCell::new(Vec::new()),
            cluster: cluster.clone(),
            progress: Progress::new(
                config.node_id,
                std::time::Duration::from_millis(config.replica_fetch.lag_time_max_ms),
            ),
            replication_listeners: RefCell::new(Vec::new()),
            checkpointed: RefCell::new(Checkpointed::new()),
            unsettled: RefCell::new(HashSet::new()),
        });
        let weak = Rc::downgrade(&store);
        cluster.on_change(Box::new(move || {
            if let Some(store) = weak.upgrade() {
                store.sync_leader_epochs();
                store.sync_replication();
            }
        }));
        store
    }

    /// The cluster snapshot this core follows.
    pub fn cluster(&self) -> &Rc<ClusterView> {
        &self.cluster
    }

    /// Registers `listener`, called after each [`PartitionStore::sync_replication`].
    pub fn on_replication_change(&self, listener: Box<dyn Fn()>) {
        self.replication_listeners.borrow_mut().push(listener);
    }

    /// Follows the cluster snapshot's replicated partitions (more than one replica) that this
    /// broker holds: the ones another broker leads are installed in the topic view as followed
    /// (clients get NOT_LEADER_OR_FOLLOWER), the ones this core leads get their progress
    /// entries ([`Progress::sync`]); then the listeners are told. Partitions with one replica
    /// behave as before replication (their visible offset uncapped when led here); a log this
    /// core still has of a partition whose replica a reassignment moved away counts as
    /// followed until it is closed.
    pub fn sync_replication(&self) {
        let state = self.cluster.state();
        let me = self.view.config().node_id;
        let mut followed = std::collections::HashSet::new();
        let mut led = Vec::new();
        for t in state.image.topics() {
            for (i, p) in t.partitions.iter().enumerate() {
                let partition = i as i32;
                let log = self.local_log(&t.name, t.topic_id, i);
                if !p.replicas.contains(&me) {
                    // A replica moved away whose log is not closed yet (the table install
                    // follows the image): clients are sent to the leader, never served here.
                    if log.is_some() {
                        followed.insert((t.name.clone(), partition));
                    }
                    continue;
                }
                if let Some(log) = &log {
                    // One replica (also after a reassignment made it so): the visible offset
                    // follows the durable offset again.
                    self.settle_high_watermark(&t.name, partition, log, p.replicas.len() > 1);
                }
                if p.replicas.len() < 2 {
                    continue;
                }
                if p.leader != me {
                    followed.insert((t.name.clone(), partition));
                    continue;
                }
                if let Some(log) = log {
                    led.push(Led {
                        topic: t.name.clone(),
                        partition,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                        eligible: p
                            .replicas
                            .iter()
                            .copied()
                            .filter(|id| state.image.broker(*id).is_some_and(|b| !b.fenced))
                            .collect(),
                        topic_id: t.topic_id,
                        partition_epoch: p.partition_epoch,
                        log,
                    });
                }
            }
        }
        self.view.set_followed(followed);
        self.progress.sync(led);
        crate::metrics::hooks::under_replicated(self.progress.under_replicated());
        let view = self.view();
        crate::metrics::hooks::under_min_isr(
            self.progress
                .under_min_isr(|topic| view.produce_policy(topic).min_insync_replicas),
        );
        for listener in self.replication_listeners.borrow().iter() {
            listener();
        }
    }

    /// Gives this core the high watermarks checkpointed before the restart (startup, before
    /// the first table is applied).
    pub fn set_checkpointed(&self, checkpointed: Checkpointed) {
        *self.checkpointed.borrow_mut() = checkpointed;
    }

    /// Starts the visible offset of `log` (`topic`/`partition`, id `id`), just opened, as
    /// Kafka's `Partition.createLog`: at its checkpointed high watermark (within the log start
    /// and end) when the checkpoint has one; at its log start when the cluster snapshot says it
    /// is replicated; following its durable offset when it has one replica; and, when the
    /// snapshot does not know it yet, following its durable offset until the snapshot says
    /// ([`PartitionStore::sync_replication`]; no client is served before this broker saw the
    /// snapshot that unfenced it).
    pub fn open_high_watermark(&self, topic: &str, id: &str, partition: i32, log: &PartitionLog) {
        let key = (topic.to_string(), partition);
        if let Some(hw) = self.checkpointed.borrow_mut().remove(&key) {
            let hw = hw.clamp(log.log_start_offset(), log.log_end_offset());
            log.set_high_watermark(Some(hw));
            tracing::debug!(%topic, partition, hw, "high watermark from the checkpoint");
            return;
        }
        let id = uuid::Uuid::parse_str(id).unwrap_or_default();
        let state = self.cluster.state();
        let replicas = state
            .image
            .topic_by_name(topic)
            .filter(|t| t.topic_id == id)
            .and_then(|t| t.partitions.get(partition as usize))
            .map(|p| p.replicas.len());
        match replicas {
            Some(n) if n > 1 => self.start_at_log_start(topic, partition, log),
            Some(_) => {}
            None => {
                self.unsettled.borrow_mut().insert(key);
            }
        }
    }

    /// A replicated partition with no checkpointed high watermark starts at its log start.
    fn start_at_log_start(&self, topic: &str, partition: i32, log: &PartitionLog) {
        let start = log.log_start_offset();
        if log.log_end_offset() > start {
            tracing::info!(%topic, partition, start, "no checkpointed high watermark; starting it at the log start");
        } else {
            tracing::debug!(%topic, partition, start, "an empty replicated log starts its high watermark at its start");
        }
        log.set_high_watermark(Some(start));
    }

    /// Follows the snapshot's replica count of a log this core holds: a partition opened
    /// before the snapshot knew it settles now ([`PartitionStore::open_high_watermark`]); a
    /// partition with one replica follows its durable offset (its high watermark came from a
    /// checkpoint or a follower role of a larger replica set).
    fn settle_high_watermark(
        &self,
        topic: &str,
        partition: i32,
        log: &PartitionLog,
        replicated: bool,
    ) {
        let key = (topic.to_string(), partition);
        let unsettled = self.unsettled.borrow_mut().remove(&key);
        if replicated {
            if unsettled {
                self.start_at_log_start(topic, partition, log);
            }
        } else if log.high_watermark_is_set() {
            log.set_high_watermark(None);
        }
    }

    /// This core's log of partition `i` of topic `name` when it is the topic of id `id`.
    fn local_log(&self, name: &str, id: uuid::Uuid, i: usize) -> Option<Rc<PartitionLog>> {
        self.logs
            .borrow()
            .get(name)
            .filter(|lt| uuid::Uuid::parse_str(&lt.id).ok() == Some(id))
            .and_then(|lt| lt.partitions.get(i).cloned().flatten())
    }

    /// The current leader epoch of `partition` of topic `topic` (id `id`), from the cluster
    /// snapshot: what its log stamps into appended batches.
    pub fn leader_epoch(&self, topic: &str, id: &str, partition: i32) -> i32 {
        let id = uuid::Uuid::parse_str(id).unwrap_or_default();
        self.cluster.state().leader_epoch(topic, id, partition)
    }

    /// Gives every log of this core its partition's current leader epoch (after a new
    /// cluster snapshot).
    pub fn sync_leader_epochs(&self) {
        let state = self.cluster.state();
        for (name, lt) in self.logs.borrow().iter() {
            let id = uuid::Uuid::parse_str(&lt.id).unwrap_or_default();
            for (p, log) in lt.partitions.iter().enumerate() {
                if let Some(log) = log {
                    log.set_leader_epoch(state.leader_epoch(name, id, p as i32));
                }
            }
        }
    }

    /// Index of this core.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The topic view the store follows.
    pub fn view(&self) -> &Rc<TopicView> {
        &self.view
    }

    /// Registers `events` to be told about partitions opened and topics deleted on this core.
    /// Held weakly: the caller keeps it alive.
    pub fn on_partition_events(&self, events: Weak<dyn PartitionEvents>) {
        self.events.borrow_mut().push(events);
    }

    /// The registered event hooks that are still alive.
    pub(super) fn event_hooks(&self) -> Vec<Rc<dyn PartitionEvents>> {
        self.events
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
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
        if self.view.owner_of(topic, partition) == Some(self.id) {
            KafkaError::KafkaStorageError
        } else {
            KafkaError::UnknownTopicOrPartition
        }
    }

    /// The logs this core owns, with their topic names.
    pub fn owned_logs(&self) -> Vec<(String, Rc<PartitionLog>)> {
        self.logs
            .borrow()
            .iter()
            .flat_map(|(name, lt)| {
                lt.partitions
                    .iter()
                    .flatten()
                    .map(move |l| (name.clone(), l.clone()))
            })
            .collect()
    }

    /// (topic, partition, bytes on disk) of every partition this core owns.
    pub fn sizes(&self) -> Vec<(String, i32, u64)> {
        let logs = self.logs.borrow();
        let mut out = Vec::new();
        for (name, lt) in logs.iter() {
            for (p, log) in lt.partitions.iter().enumerate() {
                if let Some(log) = log {
                    out.push((name.clone(), p as i32, log.size_bytes()));
                }
            }
        }
        out
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
        // The high watermarks as they are at the stop (Kafka checkpoints them at shutdown).
        super::hw_checkpoint::write(self, None).await;
    }
}
