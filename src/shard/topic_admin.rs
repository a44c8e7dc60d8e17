//! Topic-table changes other than create and delete, on core 0 (the metadata owner): config
//! overrides (AlterConfigs, IncrementalAlterConfigs) and partition growth (CreatePartitions).
//! Each change is made on a copy of the table under the [`MetadataAdmin`]'s lock, persisted, and broadcast to
//! every core, which applies new configs to open logs and opens new partitions
//! ([`super::partitions::apply`]).

use std::rc::Rc;
use std::sync::Arc;

use super::call::CoreCall;
use super::messages::{ChangeResult, TopicConfigChange};
use super::partitions;
use super::{MetadataAdmin, PartitionStore};
use crate::cluster::topic_config::alter::apply_ops;
use crate::cluster::TopicTable;
use crate::errors::{ErrorMessage, KafkaError};

/// Persists `table` and installs it on every core; on a storage failure every successful
/// result becomes a KAFKA_STORAGE_ERROR. Returns the partitions that could not be opened.
async fn commit(
    admin: &MetadataAdmin,
    table: TopicTable,
    results: &mut [ChangeResult],
) -> Vec<partitions::OpenFailure> {
    if let Err(e) = table.store_async(&admin.view().table_path()).await {
        tracing::error!(error = %e, "cannot persist topic table");
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(ErrorMessage::new(
                KafkaError::KafkaStorageError,
                format!("cannot persist topic table: {e}"),
            ));
        }
        return Vec::new();
    }
    partitions::install_everywhere(admin.mesh(), Arc::new(table)).await
}

/// Changes topic config overrides (core 0 only).
pub async fn alter_configs(
    admin: &MetadataAdmin,
    changes: Vec<TopicConfigChange>,
    validate_only: bool,
) -> Vec<ChangeResult> {
    if let Some(q) = admin.quorum() {
        if let Err(e) = q.wait_ready().await {
            return changes.iter().map(|_| Err(e.clone())).collect();
        }
        let _guard = admin.exclusive().await;
        return super::quorum_admin::alter_configs(admin, &q, changes, validate_only).await;
    }
    let _guard = admin.exclusive().await;
    let mut table = (*admin.view().topic_table()).clone();
    let defaults = &admin.view().config().topic_defaults;
    let mut changed = false;
    let mut results = Vec::with_capacity(changes.len());
    for c in changes {
        let Some(meta) = table.topics.get_mut(&c.topic) else {
            results.push(Err(ErrorMessage::new(
                KafkaError::UnknownTopicOrPartition,
                format!("The topic '{}' does not exist.", c.topic),
            )));
            continue;
        };
        match apply_ops(&meta.configs, &c.ops, c.replace, defaults) {
            Ok(configs) => {
                if configs != meta.configs {
                    tracing::info!(topic = %c.topic, ?configs, validate_only, "topic configs altered");
                    meta.configs = configs;
                    changed = true;
                }
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if changed && !validate_only {
        commit(admin, table, &mut results).await;
    }
    results
}

/// Grows topics to the partition counts asked for (core 0 only). Growth beyond
/// `runnel.topic.partitions.per.core` is refused before anything changes; growth whose new
/// partitions cannot all be opened is rolled back and answered with KAFKA_STORAGE_ERROR.
pub async fn create_partitions(
    admin: &MetadataAdmin,
    topics: Vec<(String, i32)>,
    validate_only: bool,
) -> Vec<ChangeResult> {
    let quorum = admin.quorum();
    if let Some(q) = &quorum {
        if let Err(e) = q.wait_ready().await {
            return topics.iter().map(|_| Err(e.clone())).collect();
        }
    }
    let _guard = admin.exclusive().await;
    let cores = admin.view().cores();
    let before = (*admin.view().topic_table()).clone();
    let mut table = before.clone();
    let limit = admin.view().config().limits.partitions_per_core;
    let mut results: Vec<ChangeResult> = Vec::with_capacity(topics.len());
    for (name, total) in &topics {
        let previous = table.get(name).cloned();
        let r = table
            .add_partitions(name, *total, cores)
            .and_then(|meta| match table.check_partitions_per_core(cores, limit) {
                Ok(()) => Ok(meta),
                Err(e) => {
                    if let Some(p) = previous {
                        table.topics.insert(name.clone(), p);
                    }
                    Err(e)
                }
            })
            .map(|meta| {
                tracing::info!(topic = %name, partitions = meta.partitions.len(), validate_only, "partitions added");
            });
        results.push(r);
    }
    if let (Some(q), false) = (&quorum, validate_only) {
        super::quorum_admin::create_partitions(admin, q, &before, &topics, &mut results).await;
        return results;
    }
    if !validate_only && results.iter().any(|r| r.is_ok()) {
        let failures = commit(admin, table.clone(), &mut results).await;
        if !failures.is_empty() {
            let msgs = partitions::roll_back_grown(admin, table, &before, &failures).await;
            for ((name, _), r) in topics.iter().zip(results.iter_mut()) {
                if let Some((_, m)) = msgs.iter().find(|(n, _)| n == name) {
                    *r = Err(ErrorMessage::new(KafkaError::KafkaStorageError, m.clone()));
                }
            }
        }
    }
    results
}

/// Changes topic config overrides (sent to core 0); answered per change, in order.
#[derive(Debug)]
pub struct AlterTopicConfigsCall {
    /// One change per topic.
    pub changes: Vec<TopicConfigChange>,
    /// Check only, change nothing.
    pub validate_only: bool,
}

impl CoreCall for AlterTopicConfigsCall {
    type Reply = Vec<ChangeResult>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Vec<ChangeResult> {
        alter_configs(admin, self.changes, self.validate_only).await
    }
}

/// Grows topics to a number of partitions (sent to core 0); answered per topic, in order.
#[derive(Debug)]
pub struct CreatePartitionsCall {
    /// (topic, new total partition count).
    pub topics: Vec<(String, i32)>,
    /// Check only, change nothing.
    pub validate_only: bool,
}

impl CoreCall for CreatePartitionsCall {
    type Reply = Vec<ChangeResult>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Vec<ChangeResult> {
        create_partitions(admin, self.topics, self.validate_only).await
    }
}

/// Sizes of the partitions the receiving core owns (DescribeLogDirs): (topic, partition, bytes
/// on disk).
#[derive(Debug)]
pub struct PartitionSizesCall;

impl CoreCall for PartitionSizesCall {
    type Reply = Vec<(String, i32, u64)>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<(String, i32, u64)> {
        store.sizes()
    }
}
