//! Topic-table changes: creation and deletion on core 0 (the metadata owner), and every core
//! opening or closing the partition logs it owns when a new table is broadcast.
//!
//! Creation is checked against `runnel.topic.partitions.per.core` before anything is written,
//! and a topic whose partitions could not all be opened is taken out of the table again and
//! answered with KAFKA_STORAGE_ERROR: no OK, and no half-created topic left advertised.

use std::rc::Rc;
use std::sync::Arc;

use super::call::CoreCall;
use super::messages::NewTopic;
use super::{LocalTopic, Mesh, MetadataAdmin, PartitionStore, TopicView};
use crate::cluster::topics::{CreateError, TopicMeta};
use crate::cluster::TopicTable;
use crate::errors::{ErrorMessage, KafkaError};
use crate::storage::PartitionLog;

/// A partition whose log a core could not open.
#[derive(Debug, Clone)]
pub struct OpenFailure {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Why it could not be opened.
    pub error: String,
}

/// Installs `table` on this core: closes logs of topics that are gone (deleting their data)
/// and of partitions beyond a topic's count (a rolled-back CreatePartitions), opens logs of
/// partitions this core now owns. Returns the partitions that could not be opened.
pub async fn apply(store: &PartitionStore, table: Arc<TopicTable>) -> Vec<OpenFailure> {
    let mut failures = Vec::new();
    let view = store.view();
    view.set_topic_table(table.clone());
    // Topics removed or replaced by a new topic of the same name.
    let gone: Vec<(String, LocalTopic)> = {
        let mut logs = store.logs.borrow_mut();
        let names: Vec<String> = logs
            .iter()
            .filter(|(name, lt)| table.get(name).is_none_or(|t| t.id != lt.id))
            .map(|(n, _)| n.clone())
            .collect();
        names
            .into_iter()
            .filter_map(|n| logs.remove(&n).map(|lt| (n, lt)))
            .collect()
    };
    for (name, lt) in gone {
        for log in lt.partitions.iter().flatten() {
            log.close().await;
            let dir = log.dir().to_path_buf();
            crate::storage::fault::blocking(move || {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "removing deleted partition");
                }
            })
            .await;
        }
        tracing::info!(topic = %name, core = store.id(), "closed deleted topic");
    }
    close_removed_partitions(store, &table).await;
    // Partitions to open, and new configs for those already open.
    for meta in table.topics.values() {
        let cfg = view.log_config(&meta.configs);
        let open: Vec<Rc<PartitionLog>> = store
            .logs
            .borrow()
            .get(&meta.name)
            .map(|lt| lt.partitions.iter().flatten().cloned().collect())
            .unwrap_or_default();
        for log in open {
            if log.config() != cfg {
                log.set_config(cfg.clone());
            }
        }
        let owned: Vec<i32> = (0..meta.partitions.len() as i32)
            .filter(|&p| table.owner(&meta.name, p, view.cores()) == Some(store.id()))
            .filter(|&p| store.log(&meta.name, p).is_none())
            .collect();
        if owned.is_empty() {
            continue;
        }
        for p in owned {
            let dir = view.partition_dir(&meta.name, p);
            match PartitionLog::open(&dir, cfg.clone(), store.cache.clone()).await {
                Ok(log) => {
                    log.set_leader_epoch(store.leader_epoch(&meta.name, &meta.id, p));
                    store.open_high_watermark(&meta.name, &meta.id, p, &log);
                    {
                        let mut logs = store.logs.borrow_mut();
                        let lt = logs.entry(meta.name.clone()).or_insert_with(|| LocalTopic {
                            id: meta.id.clone(),
                            partitions: Vec::new(),
                        });
                        if lt.partitions.len() < meta.partitions.len() {
                            lt.partitions.resize(meta.partitions.len(), None);
                        }
                        lt.partitions[p as usize] = Some(log.clone());
                    }
                    for hooks in store.event_hooks() {
                        hooks.partition_opened(&meta.name, p, &log).await;
                    }
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot open partition log");
                    failures.push(OpenFailure {
                        topic: meta.name.clone(),
                        partition: p,
                        error: e.to_string(),
                    });
                }
            }
        }
    }
    store.sync_replication();
    failures
}

/// Closes (and deletes) the logs of partitions past their topic's partition count in `table`
/// (a rolled-back CreatePartitions) and of partitions no longer hosted by this broker (a
/// reassignment moved its replica away: Kafka's `StopReplica` with `deletePartition`). The
/// follower sessions and the leader's progress table let go of them before they are closed.
async fn close_removed_partitions(store: &PartitionStore, table: &TopicTable) {
    let cores = store.view().cores();
    let (extra, moved) = {
        let mut logs = store.logs.borrow_mut();
        let mut extra = Vec::new();
        let mut moved = Vec::new();
        for (name, lt) in logs.iter_mut() {
            let keep = table.get(name).map_or(0, |m| m.partitions.len());
            if lt.partitions.len() > keep {
                extra.extend(lt.partitions.drain(keep..).flatten());
            }
            for (p, slot) in lt.partitions.iter_mut().enumerate() {
                if slot.is_some() && table.owner(name, p as i32, cores).is_none() {
                    moved.extend(slot.take().map(|log| (name.clone(), p, log)));
                }
            }
        }
        (extra, moved)
    };
    if !moved.is_empty() {
        store.sync_replication();
    }
    for (name, p, log) in moved {
        tracing::info!(topic = %name, partition = p, core = store.id(), "replica moved away: closing and deleting the partition");
        log.close().await;
        let dir = log.dir().to_path_buf();
        crate::storage::fault::blocking(move || {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "removing a moved partition");
            }
        })
        .await;
    }
    for log in extra {
        log.close().await;
        let dir = log.dir().to_path_buf();
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "removing rolled-back partition");
        }
    }
}

/// Installs `table` on every core; returns the partitions that could not be opened.
pub async fn install_everywhere(mesh: &Mesh, table: Arc<TopicTable>) -> Vec<OpenFailure> {
    let calls: Vec<_> = (0..mesh.cores())
        .map(|c| mesh.call(c, ApplyTopicsCall(table.clone())))
        .collect();
    let mut failures = Vec::new();
    for c in calls {
        if let Ok(f) = c.await {
            failures.extend(f);
        }
    }
    failures
}

/// The message for a topic some of whose partitions could not be opened.
pub fn open_failure_message(topic: &str, failures: &[OpenFailure]) -> Option<String> {
    let mine: Vec<&OpenFailure> = failures.iter().filter(|f| f.topic == topic).collect();
    let first = mine.first()?;
    Some(format!(
        "{} partition(s) of topic '{topic}' could not be opened (partition {}: {}); the change \
         was rolled back.",
        mine.len(),
        first.partition,
        first.error
    ))
}

/// Removes what failed partition opens left on disk (only called for partitions that were
/// being created, which hold no data).
pub fn remove_failed_dirs(view: &TopicView, failures: &[OpenFailure]) {
    for f in failures {
        let dir = view.partition_dir(&f.topic, f.partition);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %e, "removing partition that failed to open");
            }
        }
    }
}

/// Stores `table` and installs it everywhere (after a rollback), logging failures.
async fn store_and_install(admin: &MetadataAdmin, table: TopicTable) {
    if let Err(e) = table.store_async(&admin.view().table_path()).await {
        tracing::error!(error = %e, "cannot persist topic table after a rollback");
    }
    install_everywhere(admin.mesh(), Arc::new(table)).await;
}

/// Undoes the topics of `results` that have partitions in `failures`: each becomes a
/// KAFKA_STORAGE_ERROR and leaves the table (`table` is the table that was installed).
pub async fn roll_back_created(
    admin: &MetadataAdmin,
    mut table: TopicTable,
    results: &mut [Result<TopicMeta, CreateError>],
    failures: &[OpenFailure],
) {
    for r in results.iter_mut() {
        let Ok(meta) = r else { continue };
        if let Some(msg) = open_failure_message(&meta.name, failures) {
            tracing::error!(topic = %meta.name, "{msg}");
            table.delete(&meta.name);
            *r = Err(CreateError::Refused(ErrorMessage::new(
                KafkaError::KafkaStorageError,
                msg,
            )));
        }
    }
    store_and_install(admin, table).await;
    remove_failed_dirs(admin.view(), failures);
}

/// Undoes partition growth of the topics in `failures`: each goes back to its partition count
/// in `before` (`table` is the table that was installed). Returns the messages per topic.
pub async fn roll_back_grown(
    admin: &MetadataAdmin,
    mut table: TopicTable,
    before: &TopicTable,
    failures: &[OpenFailure],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&str> =
        failures.iter().map(|f| f.topic.as_str()).collect();
    for name in names {
        let (Some(old), Some(meta)) = (before.get(name), table.topics.get_mut(name)) else {
            continue;
        };
        meta.partitions.truncate(old.partitions.len());
        if let Some(msg) = open_failure_message(name, failures) {
            tracing::error!(topic = %name, "{msg}");
            out.push((name.to_string(), msg));
        }
    }
    store_and_install(admin, table).await;
    remove_failed_dirs(admin.view(), failures);
    out
}

/// Creates topics (core 0 only), persists the table and broadcasts it.
pub async fn create_topics(
    admin: &MetadataAdmin,
    topics: Vec<NewTopic>,
    validate_only: bool,
) -> Vec<Result<TopicMeta, CreateError>> {
    let quorum = admin.quorum();
    if let Some(q) = &quorum {
        if let Err(e) = q.wait_ready().await {
            return topics
                .iter()
                .map(|_| Err(CreateError::Refused(e.clone())))
                .collect();
        }
    }
    let _guard = admin.exclusive().await;
    let view = admin.view();
    let mut table = (*view.topic_table()).clone();
    let mut results = Vec::with_capacity(topics.len());
    let limit = view.config().limits.partitions_per_core;
    let rfs: Vec<usize> = topics.iter().map(|t| t.replication_factor.max(1)).collect();
    for t in topics {
        if quorum.is_none() && t.replication_factor > 1 {
            // Without a controller quorum this broker is the only one.
            let rf = t.replication_factor;
            results.push(Err(CreateError::Refused(ErrorMessage::new(
                KafkaError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication \
                     factor of {rf} cannot be reached because only 1 broker(s) are registered."
                ),
            ))));
            continue;
        }
        if let (Some(q), true) = (&quorum, validate_only && t.replication_factor > 1) {
            // Nothing is proposed: the placement alone says whether the factor can be met.
            if let Err(e) = q.place(0, 1, t.replication_factor).await {
                results.push(Err(CreateError::Refused(e)));
                continue;
            }
        }
        let n = if t.partitions == -1 {
            view.config().num_partitions
        } else {
            t.partitions
        };
        let r = table.create(&t.name, n, t.configs, view.cores());
        let r = match (r, table.check_partitions_per_core(view.cores(), limit)) {
            (Ok(meta), Err(e)) => {
                table.delete(&meta.name);
                Err(CreateError::Refused(e))
            }
            (r, _) => r,
        };
        results.push(r);
    }
    if validate_only || results.iter().all(|r| r.is_err()) {
        return results;
    }
    if let Some(q) = quorum {
        return super::quorum_admin::create_topics(admin, &q, results, &rfs).await;
    }
    if let Err(e) = table.store_async(&view.table_path()).await {
        tracing::error!(error = %e, "cannot persist topic table");
        return results
            .into_iter()
            .map(|r| {
                r.and(Err(CreateError::Refused(ErrorMessage::new(
                    KafkaError::KafkaStorageError,
                    format!("cannot persist topic table: {e}"),
                ))))
            })
            .collect();
    }
    let installed = Arc::new(table);
    let failures = install_everywhere(admin.mesh(), installed.clone()).await;
    if !failures.is_empty() {
        roll_back_created(admin, (*installed).clone(), &mut results, &failures).await;
    }
    results
}

/// Deletes topics by name (core 0 only), through the controller quorum when there is one
/// ([`super::quorum_admin::delete_topics`]); otherwise persists the table and broadcasts it.
pub async fn delete_topics(
    admin: &MetadataAdmin,
    names: Vec<String>,
) -> Vec<Result<TopicMeta, ErrorMessage>> {
    if let Some(q) = admin.quorum() {
        if let Err(e) = q.wait_ready().await {
            return names.iter().map(|_| Err(e.clone())).collect();
        }
        let _guard = admin.exclusive().await;
        return super::quorum_admin::delete_topics(admin, &q, names).await;
    }
    let _guard = admin.exclusive().await;
    let mut table = (*admin.view().topic_table()).clone();
    let results: Vec<Result<TopicMeta, ErrorMessage>> = names
        .iter()
        .map(|n| table.delete(n).ok_or_else(|| unknown_topic(n)))
        .collect();
    if results.iter().all(|r| r.is_err()) {
        return results;
    }
    if let Err(e) = table.store_async(&admin.view().table_path()).await {
        tracing::error!(error = %e, "cannot persist topic table");
        let err = ErrorMessage::new(
            KafkaError::KafkaStorageError,
            format!("cannot persist topic table: {e}"),
        );
        return names.iter().map(|_| Err(err.clone())).collect();
    }
    let table = Arc::new(table);
    admin
        .mesh()
        .broadcast(|| ApplyTopicsCall(table.clone()))
        .await;
    results
}

/// UNKNOWN_TOPIC_OR_PARTITION for topic `name`.
pub fn unknown_topic(name: &str) -> ErrorMessage {
    ErrorMessage::new(
        KafkaError::UnknownTopicOrPartition,
        format!("The topic '{name}' does not exist."),
    )
}

/// Topics of `before` that `after` no longer has (or has again under another topic id).
pub fn deleted(before: &TopicTable, after: &TopicTable) -> Vec<String> {
    before
        .topics
        .values()
        .filter(|t| after.get(&t.name).is_none_or(|now| now.id != t.id))
        .map(|t| t.name.clone())
        .collect()
}

/// Installs a new topic table on the receiving core (broadcast by core 0 after every change);
/// answered with the partitions whose logs could not be opened.
#[derive(Debug)]
pub struct ApplyTopicsCall(pub Arc<TopicTable>);

impl CoreCall for ApplyTopicsCall {
    type Reply = Vec<OpenFailure>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<OpenFailure> {
        let before = store.view().topic_table();
        let failures = apply(store, self.0).await;
        let gone = deleted(&before, &store.view().topic_table());
        if !gone.is_empty() {
            for hooks in store.event_hooks() {
                hooks.topics_deleted(&gone).await;
            }
        }
        failures
    }
}

/// Creates topics (sent to core 0, the metadata owner); answered per topic, in order.
#[derive(Debug)]
pub struct CreateTopicsCall {
    /// Topics to create.
    pub topics: Vec<NewTopic>,
    /// Check only, create nothing.
    pub validate_only: bool,
}

impl CoreCall for CreateTopicsCall {
    type Reply = Vec<Result<TopicMeta, CreateError>>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        create_topics(admin, self.topics, self.validate_only).await
    }
}

/// Deletes topics by name (sent to core 0); answered per topic with the deleted topic, or
/// why not (UNKNOWN_TOPIC_OR_PARTITION when it was unknown).
#[derive(Debug)]
pub struct DeleteTopicsCall(pub Vec<String>);

impl CoreCall for DeleteTopicsCall {
    type Reply = Vec<Result<TopicMeta, ErrorMessage>>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        delete_topics(admin, self.0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(topics: &[(&str, &str)]) -> TopicTable {
        let mut t = TopicTable::default();
        for (name, id) in topics {
            t.topics.insert(
                name.to_string(),
                TopicMeta {
                    name: name.to_string(),
                    id: id.to_string(),
                    partitions: vec![0],
                    configs: Default::default(),
                },
            );
        }
        t
    }

    #[test]
    fn deleted_and_recreated_topics_count_as_deleted() {
        let before = table(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let after = table(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(
            deleted(&before, &after),
            vec!["b".to_string(), "c".to_string()]
        );
    }
}
