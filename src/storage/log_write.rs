//! The write side of a partition log: the group-commit flusher, segment rolls, preallocation,
//! clean shutdown, and recovery from a failed write (disk full, I/O error).
//!
//! The flusher takes every batch appended since its last round, writes them with one aligned
//! direct write per segment, fdatasyncs once, and then advances the durable offset. When a write
//! or roll fails, the batches that did not become durable are discarded: their producers get
//! KAFKA_STORAGE_ERROR, the log is cut back to the durable offset on disk and in memory, and
//! appends are accepted again, so the log recovers by itself once space is freed.
//!
//! When a sync fails (fdatasync of a segment, fsync of an index or of the directory), nothing
//! written since the last good sync may be trusted: the batches waiting on it fail and the log
//! goes offline until the broker restarts (see [`super::fault`]).

use std::rc::Rc;

use bytes::Bytes;

use super::batch;
use super::fault;
use super::log::{next_of, sync_dir, PartitionLog};
use super::segment::{self, Segment};

use crate::clock::now_ms;
use crate::error::IoFailure;

impl PartitionLog {
    pub(super) async fn flush_loop(self: Rc<Self>) {
        loop {
            let pending = {
                let mut st = self.st.borrow_mut();
                if st.pending.is_empty() {
                    st.flushing = false;
                    drop(st);
                    self.advanced.notify_all();
                    return;
                }
                std::mem::take(&mut st.pending)
            };
            let next = pending.last().map(|(b, d)| next_of(*b, d)).unwrap_or(0);
            match self.write_out(&pending).await {
                Ok(()) => {
                    let mut st = self.st.borrow_mut();
                    st.durable_offset = next;
                    st.producers.markers_durable(next);
                    self.evict(&mut st);
                }
                Err(e) if fault::is_sync_failure(&e) => {
                    let _ = self.offline_on_sync_failure::<()>(Err(e));
                    self.st.borrow_mut().flushing = false;
                    self.advanced.notify_all();
                    return;
                }
                Err(e) => {
                    crate::events::storage_error();
                    tracing::error!(dir = %self.dir.display(), error = %e, "log write failed; discarding unacknowledged appends");
                    {
                        let mut st = self.st.borrow_mut();
                        st.error = Some(IoFailure::from(&e));
                        st.pending.clear();
                    }
                    self.advanced.notify_all();
                    self.recover_from_failure().await;
                    self.st.borrow_mut().flushing = false;
                    self.advanced.notify_all();
                    return;
                }
            }
            self.advanced.notify_all();
        }
    }

    async fn write_out(&self, pending: &[(i64, Bytes)]) -> std::io::Result<()> {
        // A batch of a new epoch reaches the disk only once its epoch is in the checkpoint.
        self.save_epochs().await?;
        let (limit, max_age, interval, prealloc) = {
            let c = self.cfg.borrow();
            (
                c.segment_bytes.max(1),
                c.segment_ms,
                c.index_interval_bytes,
                c.preallocate_bytes,
            )
        };
        let mut i = 0;
        while i < pending.len() {
            let (file, start, tail, size, too_old, reserved) = {
                let st = self.st.borrow();
                let seg = st.segments.last().ok_or_else(no_segment)?;
                (
                    seg.file.clone(),
                    seg.write_start(),
                    seg.tail.clone(),
                    seg.size,
                    seg.older_than(max_age, now_ms()),
                    seg.reserved,
                )
            };
            if size > 0 && (size + pending[i].1.len() as u64 > limit || too_old) {
                self.roll(pending[i].0).await?;
                continue;
            }
            let mut j = i;
            let mut sz = size;
            while j < pending.len() && (j == i || sz + pending[j].1.len() as u64 <= limit) {
                sz += pending[j].1.len() as u64;
                j += 1;
            }
            if prealloc > 0 && sz > reserved {
                // Best effort: without the reservation the write still extends the file. The
                // reservation grows with the segment (at least 64 KiB, at most one step ahead),
                // so that thousands of quiet partitions do not each reserve a whole step.
                let ahead = prealloc.min(sz.max(64 << 10));
                let want = (sz + ahead).min(limit.max(sz));
                let want = want.div_ceil(4096) * 4096;
                match file.pre_allocate(want, false).await {
                    Ok(()) => {
                        if let Some(seg) = self.st.borrow_mut().segments.last_mut() {
                            seg.reserved = want;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "preallocation failed"),
                }
            }
            segment::write_batches(&file, start, &tail, &pending[i..j]).await?;
            let mut st = self.st.borrow_mut();
            st.segments
                .last_mut()
                .ok_or_else(no_segment)?
                .note_written(&pending[i..j], interval);
            // Counted as written, so that the sync below covers exactly what this round wrote
            // (and what earlier rounds left unsynced under `flush.messages`).
            st.unsynced_messages += pending[i..j]
                .iter()
                .map(|(_, d)| batch::peek_header(d, 0).map_or(1, |h| h.records_count.max(1) as u64))
                .sum::<u64>();
            drop(st);
            i = j;
        }
        let sync = {
            let mut st = self.st.borrow_mut();
            let every = self.cfg.borrow().flush_messages;
            if st.unsynced_messages >= every || st.closed {
                st.unsynced_messages = 0;
                Some(st.segments.last().ok_or_else(no_segment)?.file.clone())
            } else {
                None
            }
        };
        if let Some(file) = sync {
            let started = std::time::Instant::now();
            fault::fdatasync_segment(&self.dir, &file).await?;
            crate::events::fsync(started.elapsed());
        }
        Ok(())
    }

    /// Closes the active segment (synced, trimmed to its data, indexes stored) and starts a new
    /// one at `base`.
    pub(super) async fn roll(&self, base: i64) -> std::io::Result<()> {
        let (file, size) = {
            let st = self.st.borrow();
            let seg = st.segments.last().ok_or_else(no_segment)?;
            (seg.file.clone(), seg.size)
        };
        // Give back the preallocated space and the padding past the data; reads of a closed
        // segment stop there. Trimmed before the sync, so that the trim is durable too: after a
        // power loss the closed segment must not end in zeros that read as a corrupt batch.
        file.truncate(size).await?;
        fault::fdatasync_segment(&self.dir, &file).await?;
        let indexes = {
            let mut st = self.st.borrow_mut();
            let seg = st.segments.last_mut().ok_or_else(no_segment)?;
            seg.reserved = size;
            seg.index_files(&self.dir)
        };
        crate::durable::replace_all(indexes).await?;
        let seg = Segment::create(&self.dir, base).await?;
        sync_dir(&self.dir).await?;
        self.st.borrow_mut().segments.push(seg);
        self.write_snapshot().await;
        Ok(())
    }

    /// Rolls the active segment if it is older than `segment.ms`, so that retention can delete
    /// it even when no more records arrive. Called by the housekeeping task.
    pub async fn roll_if_old(self: &Rc<Self>) -> std::io::Result<()> {
        let max_age = self.cfg.borrow().segment_ms;
        let next = {
            let st = self.st.borrow();
            let Some(seg) = st.segments.last() else {
                return Ok(());
            };
            if !seg.older_than(max_age, now_ms())
                || seg.size == 0
                || st.flushing
                || st.error.is_some()
                || st.offline.is_some()
                || st.closed
            {
                return Ok(());
            }
            st.next_offset
        };
        // The flusher is idle, so nothing is pending: mark it busy while rolling.
        self.st.borrow_mut().flushing = true;
        let r = self.roll(next).await;
        let r = self.offline_on_sync_failure(r);
        let restart = {
            let mut st = self.st.borrow_mut();
            st.flushing = false;
            !st.pending.is_empty()
        };
        if restart && self.st.borrow().offline.is_none() {
            self.st.borrow_mut().flushing = true;
            let me = self.clone();
            glommio::spawn_local(async move { me.flush_loop().await }).detach();
        }
        r
    }

    /// After a failed write: cut the log back to the high watermark on disk and in memory,
    /// rebuild the producer state, and accept appends again.
    async fn recover_from_failure(&self) {
        // No segment is deleted meanwhile (see `segments_lock`). The semaphore is never
        // closed, so the permit always comes.
        let _turn = self.segments_lock.acquire_permit(1).await.ok();
        loop {
            let hwm = self.st.borrow().durable_offset;
            match self.cut_back(hwm).await {
                Ok(()) => break,
                Err(e) if fault::is_sync_failure(&e) => {
                    // Not even the cut-back could be made durable: stay offline.
                    let mut st = self.st.borrow_mut();
                    st.error = None;
                    drop(st);
                    let _ = self.offline_on_sync_failure::<()>(Err(e));
                    return;
                }
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %e, "cannot cut the log back after a failed write; retrying");
                    crate::clock::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
        // The producer state still holds the discarded batches: appends may not resume before it
        // is rebuilt, or a retried batch would be answered as a duplicate of one never written.
        let mut tries = 0;
        while let Err(e) = self.recover_producers().await {
            tries += 1;
            tracing::error!(dir = %self.dir.display(), error = %e, tries, "cannot rebuild producer state after a failed write");
            // A failed sync (of the directory, after removing snapshots past the cut) is not
            // retried: the removal may not be durable, and a snapshot of discarded batches that
            // came back after a power loss would be taken for the state of the new ones.
            if tries >= PRODUCER_REBUILD_TRIES || fault::is_sync_failure(&e) {
                self.st.borrow_mut().error = None;
                self.go_offline(&e);
                return;
            }
            crate::clock::sleep(std::time::Duration::from_millis(500)).await;
        }
        let mut st = self.st.borrow_mut();
        st.error = None;
        tracing::info!(dir = %self.dir.display(), durable_offset = st.durable_offset, "log accepts writes again");
    }

    /// Finishes pending writes, trims and syncs the active segment, writes a producer-state
    /// snapshot and refuses new appends.
    pub async fn close(&self) {
        loop {
            let busy = {
                let st = self.st.borrow();
                st.flushing
            };
            if !busy {
                break;
            }
            self.advanced.wait().await;
        }
        // The active segment's indexes are not stored: the tail segment is always rescanned
        // at startup, which rebuilds them.
        let file = {
            let mut st = self.st.borrow_mut();
            st.closed = true;
            st.segments.last().map(|seg| (seg.file.clone(), seg.size))
        };
        let offline = self.st.borrow().offline.is_some();
        if let (Some((file, size)), false) = (file, offline) {
            // Give back the preallocated space; the next start scans the tail segment anyway.
            if let Err(e) = file.truncate(size).await {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot trim the active segment at close");
            }
            let synced = fault::fdatasync_segment(&self.dir, &file).await;
            if self.offline_on_sync_failure(synced).is_err() {
                // Whatever the failed sync covered is in an unknown state; the next start
                // recovers the log from what is on disk. No snapshot of the live state.
                self.advanced.notify_all();
                return;
            }
        }
        if !offline {
            self.write_snapshot().await;
        }
        self.advanced.notify_all();
    }
}

/// Tries at rebuilding the producer state after a failed write before the log goes offline.
const PRODUCER_REBUILD_TRIES: u32 = 3;

pub(super) fn no_segment() -> std::io::Error {
    std::io::Error::other("partition log has no active segment")
}
