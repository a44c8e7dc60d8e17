//! Topic-table changes: creation and deletion on core 0 (the metadata owner), and every core
//! opening or closing the partition logs it owns when a new table is broadcast.

use std::rc::Rc;
use std::sync::Arc;

use super::messages::{NewTopic, ShardRequest};
use super::{LocalTopic, Shard};
use crate::cluster::topic_config::{ProducePolicy, TopicConfig};
use crate::cluster::topics::{CreateError, TopicMeta};
use crate::cluster::TopicTable;
use crate::storage::PartitionLog;

/// Path of the persisted topic table.
pub fn table_path(shard: &Shard) -> std::path::PathBuf {
    shard.config.data_dir.join("topics.json")
}

/// Installs `table` on this core: closes logs of topics that are gone (deleting their data),
/// opens logs of partitions this core now owns.
pub async fn apply(shard: &Rc<Shard>, table: Arc<TopicTable>) {
    *shard.topics.borrow_mut() = table.clone();
    *shard.policies.borrow_mut() = table
        .topics
        .values()
        .map(|m| {
            let t = TopicConfig::resolve(&m.configs, &shard.config.topic_defaults);
            (m.name.clone(), ProducePolicy::from(&t))
        })
        .collect();
    // Topics removed or replaced by a new topic of the same name.
    let gone: Vec<(String, LocalTopic)> = {
        let mut logs = shard.logs.borrow_mut();
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
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "removing deleted partition");
            }
        }
        tracing::info!(topic = %name, core = shard.id, "closed deleted topic");
    }
    // Partitions to open, and new configs for those already open.
    for meta in table.topics.values() {
        let cfg = shard.log_config(&meta.configs);
        let open: Vec<Rc<PartitionLog>> = shard
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
            .filter(|&p| table.owner(&meta.name, p, shard.cores) == Some(shard.id))
            .filter(|&p| shard.log(&meta.name, p).is_none())
            .collect();
        if owned.is_empty() {
            continue;
        }
        for p in owned {
            let dir = shard.partition_dir(&meta.name, p);
            match PartitionLog::open(&dir, cfg.clone(), shard.cache.clone()).await {
                Ok(log) => {
                    {
                        let mut logs = shard.logs.borrow_mut();
                        let lt = logs.entry(meta.name.clone()).or_insert_with(|| LocalTopic {
                            id: meta.id.clone(),
                            partitions: Vec::new(),
                        });
                        if lt.partitions.len() < meta.partitions.len() {
                            lt.partitions.resize(meta.partitions.len(), None);
                        }
                        lt.partitions[p as usize] = Some(log.clone());
                    }
                    if meta.name == crate::group::OFFSETS_TOPIC {
                        crate::group::store::load(shard, p, &log).await;
                    }
                    if meta.name == crate::txn::TXN_TOPIC {
                        crate::txn::store::load(shard, p, &log).await;
                    }
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot open partition log");
                }
            }
        }
    }
}

/// Creates topics (core 0 only), persists the table and broadcasts it.
pub async fn create_topics(
    shard: &Rc<Shard>,
    topics: Vec<NewTopic>,
    validate_only: bool,
) -> Vec<Result<TopicMeta, CreateError>> {
    let _guard = shard.metadata_lock.acquire_permit(1).await;
    let mut table = (*shard.topic_table()).clone();
    let mut results = Vec::with_capacity(topics.len());
    for t in topics {
        let n = if t.partitions == -1 {
            shard.config.num_partitions
        } else {
            t.partitions
        };
        results.push(table.create(&t.name, n, t.configs, shard.cores));
    }
    if validate_only || results.iter().all(|r| r.is_err()) {
        return results;
    }
    if let Err(e) = table.store(&table_path(shard)) {
        tracing::error!(error = %e, "cannot persist topic table");
        return results
            .into_iter()
            .map(|r| r.and(Err(CreateError::InvalidName(format!("storage error: {e}")))))
            .collect();
    }
    let table = Arc::new(table);
    shard
        .broadcast(|| ShardRequest::ApplyTopics(table.clone()))
        .await;
    results
}

/// Deletes topics by name (core 0 only), persists the table and broadcasts it.
pub async fn delete_topics(shard: &Rc<Shard>, names: Vec<String>) -> Vec<Option<TopicMeta>> {
    let _guard = shard.metadata_lock.acquire_permit(1).await;
    let mut table = (*shard.topic_table()).clone();
    let results: Vec<Option<TopicMeta>> = names.iter().map(|n| table.delete(n)).collect();
    if results.iter().all(|r| r.is_none()) {
        return results;
    }
    if let Err(e) = table.store(&table_path(shard)) {
        tracing::error!(error = %e, "cannot persist topic table");
        return names.iter().map(|_| None).collect();
    }
    let table = Arc::new(table);
    shard
        .broadcast(|| ShardRequest::ApplyTopics(table.clone()))
        .await;
    results
}
