//! Retention of a partition log: deleting whole closed segments that are past `retention.ms`,
//! beyond `retention.bytes`, or entirely below the log start offset, and moving the log start
//! offset on request (DeleteRecords).
//!
//! Only a prefix of closed segments is ever deleted; the active segment stays. The new log start
//! offset is checkpointed before any file goes, so a crash mid-deletion leaves segments that the
//! next pass deletes, never a log that shows records it had already given up.

use std::rc::Rc;

use super::checkpoint;
use super::log::{LogError, PartitionLog};

impl PartitionLog {
    /// Deletes the closed segments that retention no longer keeps, at time `now_ms`.
    /// Returns how many segments were deleted.
    pub async fn apply_retention(self: &Rc<Self>, now_ms: i64) -> std::io::Result<usize> {
        let cfg = self.config();
        let target = {
            let st = self.st.borrow();
            if st.closed || st.offline.is_some() {
                return Ok(0);
            }
            let mut total: u64 = st.segments.iter().map(|s| s.size).sum();
            let closed = st.segments.len().saturating_sub(1);
            let mut n = 0;
            for seg in &st.segments[..closed] {
                let below_start = seg.next_offset <= st.log_start;
                let expired = cfg.delete
                    && cfg.retention_ms >= 0
                    && seg
                        .max_timestamp
                        .is_some_and(|(t, _)| now_ms.saturating_sub(t) > cfg.retention_ms);
                let oversize = cfg.delete
                    && cfg.retention_bytes >= 0
                    && total.saturating_sub(seg.size) >= cfg.retention_bytes as u64;
                if !(below_start || expired || oversize) {
                    break;
                }
                total -= seg.size;
                n += 1;
            }
            if n == 0 {
                return Ok(0);
            }
            // The first segment kept: what this pass decided, as an offset (a count would go
            // stale if another deletion ran first).
            st.segments[n].base_offset
        };
        let r = self.delete_below(target).await;
        self.offline_on_sync_failure(r)
    }

    /// Moves the log start offset to `offset` (-1: the high watermark), deleting the segments
    /// entirely below it. Returns the new log start offset (the partition's low watermark).
    pub async fn delete_records(self: &Rc<Self>, offset: i64) -> Result<i64, LogError> {
        let (start, target) = {
            let st = self.st.borrow();
            if let Some(e) = st.offline {
                return Err(LogError::Offline(e));
            }
            let target = if offset == -1 { st.visible() } else { offset };
            if target < 0 || target > st.visible() {
                return Err(LogError::OffsetOutOfRange);
            }
            (st.log_start, target)
        };
        if target <= start {
            return Ok(start);
        }
        let moved = self.move_log_start(target).await;
        self.offline_on_sync_failure(moved)
            .map_err(super::log::io_err)?;
        let deleted = self.delete_below(target).await;
        self.offline_on_sync_failure(deleted)
            .map_err(super::log::io_err)?;
        Ok(self.log_start_offset())
    }

    /// Checkpoints and applies a new log start offset (never moving it back).
    async fn move_log_start(&self, offset: i64) -> std::io::Result<()> {
        let _turn = self
            .start_lock
            .acquire_permit(1)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if offset <= self.st.borrow().log_start {
            return Ok(());
        }
        checkpoint::write(&self.dir, checkpoint::LOG_START, offset).await?;
        {
            let mut st = self.st.borrow_mut();
            if offset <= st.log_start {
                return Ok(());
            }
            st.log_start = offset;
            st.clean_until = st.clean_until.max(offset);
            st.producers.trim_aborted(offset);
            if st.epochs.truncate_from_start(offset) {
                st.epochs_dirty = true;
            }
            self.drop_cached_below(&mut st, offset);
        }
        // After the log start checkpoint: a file with entries before the log start is cut
        // again when the log opens.
        self.save_epochs().await
    }

    /// Deletes the closed segments that end at or below `offset` (never the active one),
    /// moving the log start offset up to `offset` first when it is behind. Returns how many
    /// segments went.
    ///
    /// Takes an offset, not a count: retention and DeleteRecords decide what to delete before
    /// they wait for this lock, and a count decided before another deletion finished would
    /// name segments past what was meant (records still visible would be deleted).
    async fn delete_below(&self, offset: i64) -> std::io::Result<usize> {
        let _turn = self
            .segments_lock
            .acquire_permit(1)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let below = |st: &super::log::LogState| {
            let closed = st.segments.len().saturating_sub(1);
            st.segments[..closed]
                .iter()
                .take_while(|s| s.next_offset <= offset)
                .count()
        };
        if below(&self.st.borrow()) == 0 {
            return Ok(0);
        }
        self.move_log_start(offset).await?;
        let gone: Vec<_> = {
            let mut st = self.st.borrow_mut();
            let n = below(&st);
            st.segments.drain(..n).collect()
        };
        for seg in &gone {
            seg.remove_files(&self.dir).await;
        }
        super::log::sync_dir(&self.dir).await?;
        tracing::debug!(dir = %self.dir.display(), segments = gone.len(), log_start = offset, "retention deleted segments");
        Ok(gone.len())
    }
}
