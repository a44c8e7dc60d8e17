//! Log housekeeping, one task per core over the partitions that core owns: rolling segments
//! past `segment.ms`, retention (`retention.ms`, `retention.bytes`, the log start offset) and
//! compaction.
//!
//! The task runs in its own low-share task queue and yields between partitions and inside long
//! passes, so request handling on the core comes first and never waits long behind it.

use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::{Latency, Shares};

use super::PartitionStore;
use crate::clock::now_ms;

/// How often the task wakes to see whether a retention or cleaner round is due.
const TICK: Duration = Duration::from_millis(200);

/// Starts this core's housekeeping task.
pub fn start(store: &Rc<PartitionStore>) {
    let queue = glommio::executor().create_task_queue(
        Shares::Static(100),
        Latency::NotImportant,
        "housekeeping",
    );
    let store = store.clone();
    let task = glommio::spawn_local_into(
        async move {
            let mut last_retention = Instant::now();
            let mut last_clean = Instant::now();
            loop {
                // Read each turn: the cleaner settings are dynamic broker configs.
                let settings = store.view().config().log.clone();
                let retention_every = Duration::from_millis(settings.retention_check_interval_ms);
                let cleaner_every = Duration::from_millis(settings.cleaner_backoff_ms);
                let every = TICK.min(retention_every).min(cleaner_every);
                crate::periodic::tick(crate::periodic::Loop::Housekeeping, every).await;
                if last_retention.elapsed() >= retention_every {
                    last_retention = Instant::now();
                    retention_round(&store).await;
                }
                if last_clean.elapsed() >= cleaner_every {
                    last_clean = Instant::now();
                    cleaner_round(&store, settings.cleaner_dedupe_buffer_bytes).await;
                }
            }
        },
        queue,
    );
    match task {
        Ok(t) => {
            t.detach();
        }
        Err(e) => tracing::error!(error = %e, "cannot start log housekeeping"),
    };
}

async fn retention_round(store: &PartitionStore) {
    let now = now_ms();
    for (topic, log) in store.owned_logs() {
        if let Err(e) = log.roll_if_old().await {
            tracing::warn!(%topic, dir = %log.dir().display(), error = %e, "time-based roll failed");
        }
        match log.apply_retention(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(%topic, dir = %log.dir().display(), segments = n, log_start = log.log_start_offset(), "retention deleted segments")
            }
            Err(e) => {
                tracing::warn!(%topic, dir = %log.dir().display(), error = %e, "retention failed")
            }
        }
        glommio::yield_if_needed().await;
    }
}

async fn cleaner_round(store: &PartitionStore, memory: usize) {
    for (topic, log) in store.owned_logs() {
        if !log.config().compact {
            continue;
        }
        match log.compact(now_ms(), memory).await {
            Ok(Some(s)) => tracing::info!(
                %topic,
                dir = %log.dir().display(),
                segments = s.segments_cleaned,
                bytes_before = s.bytes_before,
                bytes_after = s.bytes_after,
                keys = s.keys,
                "compacted"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%topic, dir = %log.dir().display(), error = %e, "compaction failed")
            }
        }
        glommio::yield_if_needed().await;
    }
}
