//! Cutting a partition log back to an offset: [`PartitionLog::truncate_to`] (a follower that
//! sees a new leader, KIP-101/279) and the cut-back to the high watermark after a failed write.
//!
//! Both go through [`PartitionLog::cut_back`]: the in-memory state is cut first (a new
//! generation, the log end offset, the durable offset, the cache, the read-ahead window, the
//! leader-epoch cache), then
//! the segments wholly at or above the cut are removed and the removal made durable, then the
//! tail segment is cut on disk (trimmed at the last kept batch, synced) and reopened, which
//! rebuilds its offset and time indexes, the directory is synced and the leader-epoch
//! checkpoint rewritten. The producer state
//! (sequences, open transactions, aborted-transaction list, hence the last stable offset) is
//! then rebuilt from what remains: the newest snapshot not past the cut, plus the batch headers
//! after it.
//!
//! Crash safety: the removals are durable before the tail is cut, so a power loss at any point
//! leaves a log whose segments form a prefix of the old one, at least as long as the cut; once
//! `truncate_to` returns, everything it removed is gone from disk for good.

use std::rc::Rc;

use super::log::{sync_dir, LogError, PartitionLog};
use super::log_write::no_segment;
use super::segment::{self, Segment};

use crate::error::IoFailure;

impl PartitionLog {
    /// Removes every batch at or above `offset`, durably, and returns the new log end offset.
    ///
    /// `offset` must lie in `[log start offset, log end offset]` (else
    /// [`LogError::OffsetOutOfRange`]). A cut inside a batch removes that whole batch (the log
    /// end offset becomes its base offset, as Kafka's `LogSegment.truncateTo` does); a cut that
    /// would then fall below the log start offset (DeleteRecords moved it inside that batch) is
    /// refused with [`LogError::OffsetOutOfRange`].
    ///
    /// Pending appends are written first; appends made while the truncation runs are refused
    /// ([`LogError::Discarded`]). Afterwards the producer state, open transactions, aborted
    /// transactions and last stable offset are those of the remaining batches, readers see
    /// nothing at or above the cut, and the next append gets the new log end offset. A failure
    /// of the disk while cutting takes the log offline (as a failed sync does): a restart
    /// recovers a prefix of the old log at least as long as the cut.
    pub async fn truncate_to(self: &Rc<Self>, offset: i64) -> Result<i64, LogError> {
        // No segment is deleted or compacted meanwhile. The semaphore is never closed.
        let _turn = self.segments_lock.acquire_permit(1).await.ok();
        // Let the flusher write what is pending, then hold it off (as a roll does).
        self.hold_flusher(|log_start, next| offset >= log_start && offset <= next)
            .await?;
        let r = self.truncate_held(offset).await;
        self.release_flusher();
        r
    }

    /// Waits until the flusher is idle and holds it off for a cut of the log (truncation or
    /// restart), once the log is usable and `offset_ok(log_start, next_offset)` holds (else
    /// [`LogError::OffsetOutOfRange`]). Pair with [`PartitionLog::release_flusher`].
    pub(crate) async fn hold_flusher(
        &self,
        offset_ok: impl Fn(i64, i64) -> bool,
    ) -> Result<(), LogError> {
        loop {
            {
                let mut st = self.st.borrow_mut();
                if let Some(e) = st.offline {
                    return Err(LogError::Offline(e));
                }
                if st.closed {
                    return Err(LogError::Closed);
                }
                if !st.flushing {
                    if let Some(e) = st.error {
                        return Err(LogError::Io(e));
                    }
                    if !offset_ok(st.log_start, st.next_offset) {
                        return Err(LogError::OffsetOutOfRange);
                    }
                    st.flushing = true;
                    st.truncating = true;
                    return Ok(());
                }
            }
            self.advanced.wait().await;
        }
    }

    /// Lets the flusher go on after [`PartitionLog::hold_flusher`].
    pub(crate) fn release_flusher(&self) {
        {
            let mut st = self.st.borrow_mut();
            st.flushing = false;
            st.truncating = false;
        }
        self.advanced.notify_all();
    }

    async fn truncate_held(&self, offset: i64) -> Result<i64, LogError> {
        let (end, log_start) = {
            let st = self.st.borrow();
            (st.next_offset, st.log_start)
        };
        if offset >= end {
            return Ok(end);
        }
        let cut = match self.batch_start_at(offset).await {
            Ok(cut) => cut,
            Err(e) => return Err(LogError::Io(IoFailure::from(&e))),
        };
        if cut < log_start {
            return Err(LogError::OffsetOutOfRange);
        }
        if let Err(e) = self.cut_back(cut).await {
            // Half cut: the files' state is not the memory's. Offline until a restart, which
            // recovers a prefix at least as long as the cut.
            self.go_offline(&e);
            return Err(LogError::Offline(IoFailure::from(&e)));
        }
        if let Err(e) = self.recover_producers().await {
            // The producer state still holds removed batches: taking appends now would answer
            // a retry of a removed batch as a duplicate.
            self.go_offline(&e);
            return Err(LogError::Offline(IoFailure::from(&e)));
        }
        tracing::info!(dir = %self.dir.display(), offset, cut, "log truncated");
        Ok(cut)
    }

    /// The base offset of the batch holding `offset`, or `offset` if none does (it is a segment
    /// end). Read from disk: the flusher is idle, so everything below the log end is written.
    async fn batch_start_at(&self, offset: i64) -> std::io::Result<i64> {
        let (file, from, size) = {
            let st = self.st.borrow();
            let Some(seg) = st.segments.iter().rev().find(|s| s.base_offset <= offset) else {
                return Ok(offset);
            };
            (seg.file.clone(), seg.index_lookup(offset), seg.size)
        };
        let mut found = None;
        segment::scan(&file, from, size, |info, _| {
            if info.next_offset() > offset {
                found = Some(info.base_offset.min(offset));
                return false;
            }
            true
        })
        .await?;
        Ok(found.unwrap_or(offset))
    }

    /// Cuts the log back to `cut`, a batch boundary at or above the log start, on disk and in
    /// memory (everything but the producer state). Waiters on appends at or above the cut fail
    /// with [`LogError::Discarded`]. The caller holds `segments_lock` and keeps the flusher off.
    pub(super) async fn cut_back(&self, cut: i64) -> std::io::Result<()> {
        {
            let mut st = self.st.borrow_mut();
            let kept = st.durable_offset.min(cut);
            let ended = st.generation;
            st.cuts.push_back((ended, kept));
            if st.cuts.len() > super::log::CUTS_KEPT {
                st.cuts.pop_front();
            }
            st.generation += 1;
            st.next_offset = cut;
            st.durable_offset = kept;
            st.clean_until = st.clean_until.min(cut);
            if st.epochs.truncate_from_end(cut) {
                st.epochs_dirty = true;
            }
            st.unsynced_messages = 0;
            st.pending.clear();
            self.release_readahead(&mut st);
            while st.cache.back().is_some_and(|b| b.next > cut) {
                if let Some(b) = st.cache.pop_back() {
                    st.cache_bytes -= b.data.len();
                    self.budget.remove(b.data.len());
                }
            }
        }
        // Segments that start at or after the cut hold nothing kept.
        let mut removed = false;
        loop {
            let doomed = {
                let mut st = self.st.borrow_mut();
                if st.segments.len() > 1 && st.segments.last().is_some_and(|s| s.base_offset >= cut)
                {
                    st.segments.pop()
                } else {
                    None
                }
            };
            match doomed {
                Some(seg) => {
                    // Remembered in the log, not here: if reopening the new tail fails below,
                    // the retry must still reopen it.
                    self.st.borrow_mut().reopen_tail = true;
                    seg.remove_files(&self.dir).await;
                    removed = true;
                }
                None => break,
            }
        }
        if removed {
            // Durable before the tail is cut: a power loss must not bring back a later segment
            // after a cut tail (a hole in the offsets).
            sync_dir(&self.dir).await?;
        }
        // The first segment may start past the cut (compaction emptied the offsets between
        // the log start and it): the log starts over with an empty segment at the cut, as
        // Kafka's truncateFullyAndStartAt. The new file is durable before the old one goes:
        // a power loss in between leaves an empty closed segment, which recovery removes.
        let first_past_cut = {
            let st = self.st.borrow();
            st.segments.last().is_some_and(|s| s.base_offset > cut)
        };
        if first_past_cut {
            let seg = Segment::create(&self.dir, cut).await?;
            sync_dir(&self.dir).await?;
            let old = {
                let mut st = self.st.borrow_mut();
                st.reopen_tail = false;
                std::mem::replace(&mut st.segments, vec![seg])
            };
            for seg in old {
                seg.remove_files(&self.dir).await;
            }
            sync_dir(&self.dir).await?;
            return self.save_epochs().await;
        }
        // A closed segment that becomes the active one again must be reopened as a tail: its
        // partial last block was not kept, and writes resume at that block's aligned start.
        let (base, needs_cut) = {
            let st = self.st.borrow();
            let seg = st.segments.last().ok_or_else(no_segment)?;
            (
                seg.base_offset,
                st.reopen_tail || seg.next_offset > cut || seg.size == 0,
            )
        };
        if needs_cut {
            let interval = self.cfg.borrow().index_interval_bytes;
            let seg = Segment::open_truncated(&self.dir, base, cut, interval).await?;
            let mut st = self.st.borrow_mut();
            if let Some(last) = st.segments.last_mut() {
                *last = seg;
            }
            st.reopen_tail = false;
        }
        sync_dir(&self.dir).await?;
        // After the cut is durable: a file that still names epochs past the cut is cut again
        // when the log opens.
        self.save_epochs().await
    }
}

#[cfg(test)]
mod tests;
