//! The local topic table follows the controller's metadata image (core 0): every new image is
//! turned into a table ([`crate::cluster::image_table::derive`]: the partitions this broker
//! hosts on its cores, configs from the image), persisted as topics.json and installed on every
//! core, which opens new partitions and closes and deletes the topics the image no longer has.
//!
//! Nothing is derived from an image that may be stale: after a restart the controller's image
//! is its snapshot's until it has applied the committed log again, so the table follows only
//! images that hold this run's registration ([`Quorum::caught_up`]). Before that, a topics.json
//! from before the quorum (an upgraded single node) is imported into the metadata log once
//! ([`import_once`]), with the same topic ids, partition counts and configs.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runnel_controller::elect;
use runnel_controller::{MetadataImage, RecordBatch, RejectReason};

use super::partitions::{self, OpenFailure};
use super::quorum::Quorum;
use super::MetadataAdmin;
use crate::cluster::image_table::derive;
use crate::errors::{ErrorMessage, KafkaError};

/// How often the follower looks at the stop flag while it waits for an image.
const STOP_POLL: Duration = Duration::from_millis(200);

/// First pause before a failed install of the topic table is tried again.
const MIN_RETRY: Duration = Duration::from_millis(200);
/// Longest pause between tries of a failed install.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The marker written once topics.json has been imported into the metadata log.
pub const IMPORTED_MARKER: &str = "topics-imported";

/// Derives the table from `image` and, when it differs from the installed one, persists it
/// and installs it on every core; returns the partitions that could not be opened. The caller
/// holds the admin's lock and knows `image` is caught up.
pub async fn install_from(
    admin: &MetadataAdmin,
    image: &MetadataImage,
    me: i32,
) -> Result<Vec<OpenFailure>, ErrorMessage> {
    let view = admin.view();
    let current = view.topic_table();
    let next = derive(image, me, &current, view.cores());
    if next == *current {
        return Ok(Vec::new());
    }
    next.store_async(&view.table_path()).await.map_err(|e| {
        tracing::error!(error = %e, "cannot persist topic table");
        ErrorMessage::new(
            KafkaError::KafkaStorageError,
            format!("cannot persist topic table: {e}"),
        )
    })?;
    Ok(partitions::install_everywhere(admin.mesh(), Arc::new(next)).await)
}

/// Waits (until `stop`) for an image that holds this run's registration.
async fn caught_up(quorum: &Quorum, stop: &AtomicBool) -> Option<Arc<MetadataImage>> {
    let mut updates = quorum.subscribe();
    while !stop.load(Ordering::Relaxed) {
        let image = updates.borrow_and_update().clone();
        if quorum.caught_up(&image) {
            return Some(image);
        }
        let changed = async {
            let _ = updates.changed().await;
        };
        futures_lite::future::or(changed, glommio::timer::sleep(STOP_POLL)).await;
    }
    None
}

/// Imports the local table's topics that the image lacks into the metadata log, once per
/// controller directory (the marker `controller/topics-imported`): same ids, partition counts
/// and configs, every partition on this broker. Retried until done or `stop`; a topic the log
/// refuses (its name taken by another topic id) is left out and logged.
pub async fn import_once(admin: &MetadataAdmin, quorum: &Quorum, stop: &AtomicBool) -> bool {
    let config = admin.view().config();
    let marker = config.data_dir.join("controller").join(IMPORTED_MARKER);
    if marker.exists() {
        return true;
    }
    let table = admin.view().topic_table();
    for meta in table.topics.values() {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            if quorum.image().topic_by_name(&meta.name).is_some() {
                break;
            }
            let here = vec![vec![quorum.me()]; meta.partitions.len()];
            let configs: Vec<(String, String)> = meta
                .configs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let batch = RecordBatch::create_topic(&meta.name, meta.uuid(), &here, &configs);
            match quorum.propose_raw(batch).await {
                Ok(()) => {
                    tracing::info!(topic = %meta.name, partitions = meta.partitions.len(), "imported topic into the metadata log");
                    break;
                }
                Err(runnel_controller::ControllerError::Rejected(
                    r @ (RejectReason::TopicExists(_) | RejectReason::Invalid(_)),
                )) => {
                    tracing::error!(topic = %meta.name, reason = %r, "topic not imported into the metadata log");
                    break;
                }
                Err(e) => {
                    tracing::warn!(topic = %meta.name, error = %e, "importing topic; retrying");
                    glommio::timer::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
    let marker_bytes = format!("topics.json imported, {} topic(s)\n", table.topics.len());
    if let Err(e) = crate::storage::durable::replace(marker, marker_bytes.into_bytes()).await {
        tracing::error!(error = %e, "cannot write the topic import marker");
    }
    true
}

/// Core 0's follower: waits for a caught-up image, agrees with it on the cluster id
/// ([`super::cluster_id::reconcile`]), imports topics.json once, then installs the table of
/// every new image until `stop`. Started at startup; cancelled at stop. Its output is why the
/// broker must stop (a data directory of another cluster), after it set `stop`.
pub fn follow(
    admin: Rc<MetadataAdmin>,
    quorum: Rc<Quorum>,
    stop: Arc<AtomicBool>,
) -> glommio::Task<Option<String>> {
    glommio::spawn_local(async move {
        // Stopped before the image caught up: nothing fatal (`None`).
        caught_up(&quorum, &stop).await?;
        if let Err(why) = super::cluster_id::reconcile(&quorum, admin.view(), &stop).await {
            tracing::error!("{why}");
            stop.store(true, Ordering::SeqCst);
            return Some(why);
        }
        {
            let _guard = admin.exclusive().await;
            if !import_once(&admin, &quorum, &stop).await {
                return None;
            }
        }
        let mut updates = quorum.subscribe();
        let mut installed: Option<u64> = None;
        // The image installed last, for the leader elections between it and the next.
        let mut last: Option<Arc<MetadataImage>> = None;
        // After a failed install (topics.json cannot be stored): when to try again, and the
        // pause after the next failure.
        let mut retry_at: Option<Instant> = None;
        let mut backoff = MIN_RETRY;
        while !stop.load(Ordering::Relaxed) {
            updates.borrow_and_update();
            let due = retry_at.is_none_or(|t| Instant::now() >= t);
            if due && installed != Some(quorum.image().applied_index()) {
                let _guard = admin.exclusive().await;
                // The newest image once the lock is held: a change made meanwhile has already
                // installed a newer one than the image that woke this task.
                let image = quorum.image();
                if quorum.caught_up(&image) && installed != Some(image.applied_index()) {
                    installed = Some(image.applied_index());
                    match install_from(&admin, &image, quorum.me()).await {
                        Ok(failures) => {
                            let elections = last
                                .as_ref()
                                .map_or(0, |old| elect::elections_between(old, &image));
                            crate::metrics::hooks::leadership(
                                elect::offline_partitions(&image),
                                elections,
                            );
                            last = Some(image.clone());
                            retry_at = None;
                            backoff = MIN_RETRY;
                            for f in failures {
                                tracing::error!(topic = %f.topic, partition = f.partition, error = %f.error, "cannot open partition");
                            }
                        }
                        Err(e) => {
                            // Not installed: the newest image is tried after a pause that
                            // doubles with each failure.
                            installed = None;
                            retry_at = Some(Instant::now() + backoff);
                            tracing::error!(error = %e.message, retry_in = ?backoff, "cannot install the topic table; will retry");
                            backoff = (backoff * 2).min(MAX_RETRY);
                        }
                    }
                    quorum.set_ready();
                }
            }
            let changed = async {
                let _ = updates.changed().await;
            };
            futures_lite::future::or(changed, glommio::timer::sleep(STOP_POLL)).await;
        }
        None
    })
}
