//! Emptying a partition log and starting it over at an offset:
//! [`PartitionLog::truncate_fully_and_start_at`] (Kafka's `UnifiedLog.truncateFullyAndStartAt`),
//! for a follower whose log ends below its leader's log start (the leader deleted, by
//! retention or DeleteRecords, everything the follower would fetch next).
//!
//! Order on disk, each step durable before the next: a new empty segment at the offset, then
//! the old segments and producer snapshots removed, then the log start and cleaner checkpoints
//! at the offset, then an empty leader-epoch checkpoint. A power loss at any point leaves what
//! recovery reads as either a suffix of the old log (the empty segment past its end is removed
//! at open as a tail that does not follow on) or the empty log at the offset (the log start is
//! clamped to the segments that remain), never a log with a hole.

use std::rc::Rc;

use super::log::{sync_dir, LogError, PartitionLog};
use super::producers::ProducerStates;
use super::segment::Segment;
use crate::error::IoFailure;

impl PartitionLog {
    /// Removes every batch, durably, and restarts the log empty at `offset`: the log start, log
    /// end, durable and visible offsets all become `offset`; the producer state, open and
    /// aborted transactions and the leader-epoch cache are emptied (see the module comment).
    ///
    /// Any offset >= 0 is taken (else [`LogError::OffsetOutOfRange`]), also one inside or
    /// below the current log, as Kafka's (its follower calls this with the leader's log start
    /// past its own end). Pending appends are written first;
    /// waiters on appends not yet durable fail with [`LogError::Discarded`]. A disk failure
    /// takes the log offline; a restart recovers one of the two states above.
    pub async fn truncate_fully_and_start_at(self: &Rc<Self>, offset: i64) -> Result<(), LogError> {
        let _turn = self.segments_lock.acquire_permit(1).await.ok();
        let _start = self.start_lock.acquire_permit(1).await.ok();
        self.hold_flusher(|_, _| offset >= 0).await?;
        let r = self.restart_held(offset).await;
        self.release_flusher();
        if let Err(e) = &r {
            self.go_offline(e);
            return Err(LogError::Offline(IoFailure::from(e)));
        }
        tracing::info!(dir = %self.dir.display(), offset, "log emptied and restarted");
        Ok(())
    }

    async fn restart_held(&self, offset: i64) -> std::io::Result<()> {
        // Memory first: readers and appends see the empty log from now on.
        {
            let mut st = self.st.borrow_mut();
            let ended = st.generation;
            let kept = st.durable_offset;
            st.cuts.push_back((ended, kept));
            if st.cuts.len() > super::log::CUTS_KEPT {
                st.cuts.pop_front();
            }
            st.generation += 1;
            st.next_offset = offset;
            st.durable_offset = offset;
            st.visible_cap = None;
            st.log_start = offset;
            st.clean_until = offset;
            st.unsynced_messages = 0;
            st.pending.clear();
            self.release_readahead(&mut st);
            while let Some(b) = st.cache.pop_back() {
                st.cache_bytes -= b.data.len();
                self.budget.remove(b.data.len());
            }
            st.producers = ProducerStates::default();
            st.epochs = Default::default();
            st.epochs_dirty = true;
        }
        // The new segment is durable before the old ones go: the directory never lacks a tail.
        let existing = self
            .st
            .borrow()
            .segments
            .iter()
            .position(|s| s.base_offset == offset);
        let fresh = match existing {
            // A segment already starts at the offset (a restart at the log start of a log
            // with one segment): reused, cut to nothing.
            Some(_) => {
                let interval = self.cfg.borrow().index_interval_bytes;
                Segment::open_truncated(&self.dir, offset, offset, interval).await?
            }
            None => Segment::create(&self.dir, offset).await?,
        };
        sync_dir(&self.dir).await?;
        let old = {
            let mut st = self.st.borrow_mut();
            st.reopen_tail = false;
            std::mem::replace(&mut st.segments, vec![fresh])
        };
        for seg in old.iter().filter(|s| s.base_offset != offset) {
            seg.remove_files(&self.dir).await;
        }
        drop(old);
        let snapshots: Vec<_> = super::log_txn::snapshots(&self.dir)
            .await
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if !snapshots.is_empty() {
            super::fault::remove_files(snapshots).await;
        }
        sync_dir(&self.dir).await?;
        super::checkpoint::write(&self.dir, super::checkpoint::LOG_START, offset).await?;
        super::checkpoint::write(&self.dir, super::checkpoint::CLEANER, offset).await?;
        self.save_epochs().await
    }
}

// Tested with truncation (log_truncate/tests.rs): they share the helpers.
