//! Topic changes through the controller quorum (core 0, under the [`MetadataAdmin`]'s lock,
//! after the request was checked against a copy of the local table): each change is proposed
//! as a record batch, and once committed the local table is derived again from the image
//! ([`super::image_sync::install_from`]), which opens and closes the partitions on the cores.
//! validate_only requests never get here: they propose nothing.

use std::sync::Arc;

use runnel_controller::{MetadataRecord, RecordBatch};

use super::image_sync::install_from;
use super::messages::{ChangeResult, TopicConfigChange};
use super::partitions::{
    install_everywhere, open_failure_message, remove_failed_dirs, unknown_topic,
};
use super::quorum::{self, config_changes, Quorum};
use super::MetadataAdmin;
use crate::cluster::topic_config::alter::apply_ops;
use crate::cluster::topics::{CreateError, TopicMeta, ELSEWHERE};
use crate::cluster::TopicTable;
use crate::errors::{ErrorMessage, KafkaError};

/// Installs the table of the controller's newest image (which has every change this node's
/// proposals committed); returns the partitions that could not be opened, or the error every
/// successful result becomes.
async fn sync(
    admin: &MetadataAdmin,
    q: &Quorum,
) -> Result<Vec<super::partitions::OpenFailure>, ErrorMessage> {
    install_from(admin, &q.image(), q.me()).await
}

/// Creates the topics of `results` that passed the local checks: proposes each, then installs
/// the new table; a topic whose partitions could not be opened is removed again and answered
/// with KAFKA_STORAGE_ERROR.
pub async fn create_topics(
    admin: &MetadataAdmin,
    q: &Quorum,
    mut results: Vec<Result<TopicMeta, CreateError>>,
    replication_factors: &[usize],
) -> Vec<Result<TopicMeta, CreateError>> {
    for (r, &rf) in results.iter_mut().zip(replication_factors) {
        let Ok(meta) = r else { continue };
        if let Err(e) = quorum::create_topic(q, meta, rf).await {
            tracing::warn!(topic = %meta.name, error = %e.message, "topic not created by the controller quorum");
            *r = Err(match e.error {
                KafkaError::TopicAlreadyExists => CreateError::Exists,
                _ => CreateError::Refused(e),
            });
        }
    }
    if results.iter().all(|r| r.is_err()) {
        return results;
    }
    let failures = match sync(admin, q).await {
        Ok(f) => f,
        Err(e) => {
            return results
                .into_iter()
                .map(|r| r.and(Err(CreateError::Refused(e.clone()))))
                .collect();
        }
    };
    let table = admin.view().topic_table();
    for r in results.iter_mut() {
        let Ok(meta) = r else { continue };
        let name = meta.name.clone();
        if let Some(msg) = open_failure_message(&name, &failures) {
            tracing::error!(topic = %name, "{msg}");
            if let Err(e) = q.propose(quorum::remove_topic(meta.uuid())).await {
                tracing::error!(topic = %name, error = %e.message, "cannot remove the topic whose partitions did not open");
            }
            *r = Err(CreateError::Refused(ErrorMessage::new(
                KafkaError::KafkaStorageError,
                msg,
            )));
        } else if let Some(installed) = table.get(&name) {
            *meta = installed.clone();
        }
    }
    if !failures.is_empty() {
        if let Err(e) = sync(admin, q).await {
            tracing::error!(error = %e.message, "cannot install the topic table");
        }
        remove_failed_dirs(admin.view(), &failures);
    }
    results
}

/// Deletes topics by name: `RemoveTopic` for each, then the new table (which closes and
/// deletes their partitions on every core).
pub async fn delete_topics(
    admin: &MetadataAdmin,
    q: &Quorum,
    names: Vec<String>,
) -> Vec<Result<TopicMeta, ErrorMessage>> {
    let table = admin.view().topic_table();
    let mut results = Vec::with_capacity(names.len());
    for n in &names {
        let r = match table.get(n) {
            None => Err(unknown_topic(n)),
            Some(meta) => q
                .propose(quorum::remove_topic(meta.uuid()))
                .await
                .map(|()| meta.clone()),
        };
        if let Err(e) = &r {
            tracing::info!(topic = %n, error = %e.message, "topic not deleted");
        }
        results.push(r);
    }
    if results.iter().any(|r| r.is_ok()) {
        if let Err(e) = sync(admin, q).await {
            return results.into_iter().map(|r| r.and(Err(e.clone()))).collect();
        }
    }
    results
}

/// Changes topic config overrides: the `Config` records of each topic's changes, one batch
/// per topic; validate_only checks only.
pub async fn alter_configs(
    admin: &MetadataAdmin,
    q: &Quorum,
    changes: Vec<TopicConfigChange>,
    validate_only: bool,
) -> Vec<ChangeResult> {
    let table = admin.view().topic_table();
    let defaults = &admin.view().config().topic_defaults;
    let mut proposed = false;
    let mut results = Vec::with_capacity(changes.len());
    for c in changes {
        let Some(meta) = table.get(&c.topic) else {
            results.push(Err(unknown_topic(&c.topic)));
            continue;
        };
        let r = match apply_ops(&meta.configs, &c.ops, c.replace, defaults) {
            Ok(configs) if configs != meta.configs && !validate_only => {
                let records: Vec<MetadataRecord> =
                    config_changes(&c.topic, &meta.configs, &configs);
                proposed = true;
                tracing::info!(topic = %c.topic, ?configs, "topic configs altered");
                q.propose(RecordBatch { records }).await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        results.push(r);
    }
    if proposed {
        if let Err(e) = sync(admin, q).await {
            return results.into_iter().map(|r| r.and(Err(e.clone()))).collect();
        }
    }
    results
}

/// Grows the topics whose checks passed (`results[i]` Ok for `topics[i]`): each topic's new
/// partitions are placed on the live brokers and proposed ([`grow`]), then the new table is
/// installed.
pub async fn create_partitions(
    admin: &MetadataAdmin,
    q: &Quorum,
    before: &TopicTable,
    topics: &[(String, i32)],
    results: &mut [ChangeResult],
) {
    let mut proposed = false;
    for ((name, total), r) in topics.iter().zip(results.iter_mut()) {
        let Some(meta) = before.get(name).filter(|_| r.is_ok()) else {
            continue;
        };
        *r = grow(admin, q, meta, *total).await;
        proposed |= r.is_ok();
    }
    if !proposed {
        return;
    }
    if let Err(e) = sync(admin, q).await {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(e.clone());
        }
    }
}

/// Adds partitions up to `total` to `meta`'s topic. A partition cannot be taken out of the
/// metadata log once committed, so the new partitions this broker hosts are opened first, on
/// a trial table installed on every core: if one cannot be opened, the trial is undone (the
/// opened ones closed and removed) and nothing is proposed (KAFKA_STORAGE_ERROR).
async fn grow(admin: &MetadataAdmin, q: &Quorum, meta: &TopicMeta, total: i32) -> ChangeResult {
    let first = meta.partitions.len() as i32;
    // New partitions get the topic's replication factor (its first partition's replicas).
    let rf = q
        .image()
        .topic_by_name(&meta.name)
        .and_then(|t| t.partitions.first().map(|p| p.replicas.len()))
        .unwrap_or(1)
        .max(1);
    let assignments = q.place(first, total - first, rf).await?;
    let view = admin.view();
    let current = view.topic_table();
    let mut trial = (*current).clone();
    trial.add_partitions(&meta.name, total, view.cores())?;
    if let Some(m) = trial.topics.get_mut(&meta.name) {
        for (i, replicas) in assignments.iter().enumerate() {
            if !replicas.contains(&q.me()) {
                m.partitions[first as usize + i] = ELSEWHERE;
            }
        }
    }
    let failures = install_everywhere(admin.mesh(), Arc::new(trial)).await;
    if let Some(msg) = open_failure_message(&meta.name, &failures) {
        tracing::error!(topic = %meta.name, "{msg}");
        install_everywhere(admin.mesh(), current).await;
        remove_failed_dirs(view, &failures);
        return Err(ErrorMessage::new(KafkaError::KafkaStorageError, msg));
    }
    let batch = RecordBatch::partitions(meta.uuid(), first, &assignments);
    if let Err(e) = q.propose(batch).await {
        install_everywhere(admin.mesh(), current).await;
        return Err(e);
    }
    tracing::info!(topic = %meta.name, partitions = total, "partitions added");
    Ok(())
}
