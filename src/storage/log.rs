//! The log of one partition: offset assignment, group-committed direct-I/O appends, reads from
//! the recent-batch cache or from disk, and timestamp lookups.
//!
//! A `PartitionLog` lives on the core that owns the partition and is only touched by that core's
//! executor, so its state sits in a `RefCell` that is never held across an `.await`.
//!
//! Produce path: [`PartitionLog::append`] copies each validated batch once, rewrites its base
//! offset in place, puts it in the cache and the pending list, and starts the flusher if idle.
//! The flusher writes everything pending in one aligned direct write, fdatasyncs once, and then
//! advances the durable offset (and with it, on a single node, the visible
//! offset: the high watermark), which wakes acknowledgements and long-polling fetches.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use super::batch::{self, BatchInfo};
use super::cache::{CacheBudget, CachedBatch};
use super::producers::{ProducerStates, Verdict};
use super::segment::{self, Segment};
use super::signal::Signal;

pub use super::log_config::LogConfig;
pub use crate::error::{IoFailure, LogError};

/// Generations remembered with the high watermark that ended them (see `LogState::cuts`).
pub(super) const CUTS_KEPT: usize = 16;

pub(super) struct LogState {
    pub(super) segments: Vec<Segment>,
    /// First offset readable; at or after the first segment's base (DeleteRecords moves it
    /// inside a segment).
    pub(super) log_start: i64,
    /// Offsets below this have been through a compaction pass (the cleaner's checkpoint).
    pub(super) clean_until: i64,
    /// When the oldest tombstone kept by the last compaction pass may be removed.
    pub(super) tombstones_due: Option<i64>,
    /// Bumped when appends that never reached the disk are discarded after a write failure, so
    /// that their waiters fail instead of being acknowledged by later data.
    pub(super) generation: u64,
    /// The high watermark at which each of the last [`CUTS_KEPT`] generations ended: a batch of
    /// a generation that ended is durable if it lies below it (it was written before the
    /// failure), and was discarded otherwise.
    pub(super) cuts: VecDeque<(u64, i64)>,
    /// A cut-back after a failed write removed the active segment, and the closed one before
    /// it has not yet been reopened as the tail (its partial last block read back): until it
    /// is, it may not be written.
    pub(super) reopen_tail: bool,
    /// Next offset to assign (log end offset, including batches not yet on disk).
    pub(super) next_offset: i64,
    /// The durable offset: data below it is written (and synced per the flush policy). The
    /// flusher advances it; acknowledgements wait for it.
    pub(super) durable_offset: i64,
    /// The visible offset (the high watermark consumers see) as set from above
    /// ([`PartitionLog::set_high_watermark`]); `None` while it follows the durable offset (a
    /// single node, replication factor 1). Never read above the durable offset.
    pub(super) visible_cap: Option<i64>,
    pub(super) pending: Vec<(i64, Bytes)>,
    pub(super) flushing: bool,
    /// Messages written to the active segment since its last sync (counted when written, not
    /// when appended: a batch appended while a round's write is in flight is not covered by
    /// that round's sync).
    pub(super) unsynced_messages: u64,
    pub(super) cache: VecDeque<CachedBatch>,
    pub(super) cache_bytes: usize,
    pub(super) error: Option<IoFailure>,
    /// Set when a sync failed: the data's state on disk is unknown, so the log refuses every
    /// read and write until the broker restarts and recovers it from disk.
    pub(super) offline: Option<IoFailure>,
    pub(super) closed: bool,
    /// A [`PartitionLog::truncate_to`] is running: appends are refused until it ends.
    pub(super) truncating: bool,
    /// What idempotent and transactional producers have written (as of `next_offset`).
    pub(super) producers: ProducerStates,
    /// The next window of the segment a consumer is reading from disk, being read ahead.
    pub(super) readahead: Option<super::log_read::ReadAhead>,
    /// When a corrupt stored batch was last logged, and the reports not logged since.
    pub(super) corrupt_logged: Option<(std::time::Instant, u64)>,
    /// The leader epoch stamped into appended batches (set from above; never goes back).
    pub(super) leader_epoch: i32,
    /// The epochs that wrote to the log and where each starts (`leader-epoch-checkpoint`).
    pub(super) epochs: super::epochs::EpochCache,
    /// `epochs` changed since the checkpoint was last written.
    pub(super) epochs_dirty: bool,
}

impl LogState {
    /// Why the log takes no append now: offline, recovering from a failed write, or closed.
    pub(super) fn refuses_appends(&self) -> Result<(), LogError> {
        if let Some(e) = self.offline {
            return Err(LogError::Offline(e));
        }
        if let Some(e) = self.error {
            return Err(LogError::Io(e));
        }
        if self.closed {
            return Err(LogError::Closed);
        }
        if self.truncating {
            return Err(LogError::Discarded);
        }
        Ok(())
    }

    /// The visible offset (the high watermark): the durable offset, capped by what was set from
    /// above.
    pub(super) fn visible(&self) -> i64 {
        self.visible_cap
            .map_or(self.durable_offset, |cap| cap.min(self.durable_offset))
    }

    /// The high watermark, held back to the first offset of the oldest open transaction, but
    /// never below the log start (as Kafka: a transaction that began in records since deleted
    /// holds nothing back that a consumer could still read).
    pub(super) fn last_stable_offset(&self) -> i64 {
        self.producers
            .first_unstable_offset(self.visible())
            .map_or(self.visible(), |f| f.min(self.visible()))
            .max(self.log_start)
    }
}

/// One partition's log.
pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) cfg: RefCell<LogConfig>,
    pub(super) st: RefCell<LogState>,
    pub(super) advanced: Signal,
    pub(super) budget: Rc<CacheBudget>,
    /// Held while the log start checkpoint is written, so that two moves (retention and
    /// DeleteRecords) reach the disk in the order they reach memory.
    pub(super) start_lock: glommio::sync::Semaphore,
    /// Held while segments are deleted from the front of the log (retention, DeleteRecords),
    /// and while the log is cut back and its producer state replayed after a failed write: a
    /// replay that read a segment as it was deleted would miss its batches.
    pub(super) segments_lock: glommio::sync::Semaphore,
    /// Held while the leader-epoch checkpoint is written, so that writes reach the disk in the
    /// order their snapshots were taken.
    pub(super) epochs_lock: glommio::sync::Semaphore,
}

/// Outcome of an append.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset following the last record appended.
    pub next_offset: i64,
    /// The log's generation when the batches were appended (see [`PartitionLog::wait_durable`]).
    pub generation: u64,
}

impl Drop for PartitionLog {
    /// A deleted or closed log gives its cached bytes back to the core's budget; otherwise the
    /// core would count them forever and keep every other log's cache at one batch.
    fn drop(&mut self) {
        let st = self.st.get_mut();
        if st.offline.is_some() {
            crate::events::partition_offline(-1);
        }
        self.budget.remove(st.cache_bytes);
        if let Some(ra) = &st.readahead {
            self.budget.release_ahead(ra.len());
        }
    }
}

/// The offset after the last batch of a closed segment opened from its index: a scan from its
/// last index entry (at most about `index.interval.bytes` of batches) to its end.
async fn prev_end(seg: &Segment) -> std::io::Result<i64> {
    let mut end = seg.base_offset;
    segment::scan(
        &seg.file,
        seg.index_lookup(i64::MAX),
        seg.size,
        |info, _| {
            end = info.next_offset();
            true
        },
    )
    .await?;
    Ok(end)
}

pub(super) fn io_err(e: std::io::Error) -> LogError {
    LogError::Io(IoFailure::from(&e))
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering the tail segment.
    pub async fn open(
        dir: &Path,
        cfg: LogConfig,
        budget: Rc<CacheBudget>,
    ) -> std::io::Result<Rc<PartitionLog>> {
        let disk = crate::disk::current();
        disk.create_dir_all(dir).await?;
        super::compaction::remove_leftovers(dir).await;
        let mut bases: Vec<i64> = disk
            .list(dir)
            .await?
            .iter()
            .filter_map(|name| segment::parse_log_name(name))
            .collect();
        bases.sort_unstable();
        let log_start = super::checkpoint::read(dir, super::checkpoint::LOG_START).await;
        let clean_until = super::checkpoint::read(dir, super::checkpoint::CLEANER).await;
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let last = i + 1 == bases.len();
            let seg = Segment::open(dir, base, last, cfg.index_interval_bytes).await?;
            if seg.size == 0 && !last && seg.next_offset == seg.base_offset {
                // An empty closed segment (left by a crash mid-roll or mid-cleaning) holds nothing.
                tracing::info!(segment = %seg.path.display(), "removing empty closed segment");
                seg.remove_files(dir).await;
                continue;
            }
            segments.push(seg);
        }
        // An empty tail after other segments holds nothing, and its base may lie past the end of
        // the segment before it (a roll whose first write failed, the removal of the new file
        // lost with a failed directory sync): the offsets in between would lie below the high
        // watermark and never be served. The segment before it becomes the tail again, checked
        // as a tail.
        while segments.len() > 1 && segments.last().is_some_and(|s| s.size == 0) {
            let (prev, tail) = (&segments[segments.len() - 2], &segments[segments.len() - 1]);
            if prev_end(prev).await? == tail.base_offset {
                // A roll with nothing written yet: the empty tail follows on.
                break;
            }
            if let Some(empty) = segments.pop() {
                tracing::info!(segment = %empty.path.display(), "removing empty tail segment");
                empty.remove_files(dir).await;
            }
            if let Some(prev) = segments.pop() {
                let base = prev.base_offset;
                drop(prev);
                segments.push(Segment::open(dir, base, true, cfg.index_interval_bytes).await?);
            }
        }
        // Older segments opened from their index do not know where they end: the next one's base.
        for i in 0..segments.len().saturating_sub(1) {
            if segments[i].next_offset == segments[i].base_offset && segments[i].size > 0 {
                segments[i].next_offset = segments[i + 1].base_offset;
            }
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0).await?);
        }
        // What recovery keeps must be durable before anything is acknowledged on top of it: a
        // previous process may have died after a failed sync, leaving file names and data that
        // are visible but not on disk. Sync the tail segment and the directory once.
        // (Not through `fault::fdatasync_segment`: its test-only fault injection counts the
        // group-commit syncs.)
        if let Some(tail) = segments.last() {
            tail.file
                .fdatasync()
                .await
                .map_err(|e| super::fault::sync_failed(dir, e))?;
        }
        sync_dir(dir).await?;
        let end = segments.last().map(|s| s.next_offset).unwrap_or(0);
        let log_start = log_start
            .unwrap_or(i64::MIN)
            .clamp(segments[0].base_offset, end.max(segments[0].base_offset));
        let clean_until = clean_until
            .unwrap_or(log_start)
            .clamp(log_start, end.max(log_start));
        let log = Rc::new(PartitionLog {
            dir: dir.to_path_buf(),
            cfg: RefCell::new(cfg),
            st: RefCell::new(LogState {
                segments,
                log_start,
                clean_until,
                tombstones_due: None,
                generation: 0,
                cuts: VecDeque::new(),
                reopen_tail: false,
                next_offset: end,
                durable_offset: end,
                visible_cap: None,
                pending: Vec::new(),
                flushing: false,
                unsynced_messages: 0,
                cache: VecDeque::new(),
                cache_bytes: 0,
                error: None,
                offline: None,
                closed: false,
                truncating: false,
                producers: ProducerStates::default(),
                readahead: None,
                corrupt_logged: None,
                leader_epoch: 0,
                epochs: Default::default(),
                epochs_dirty: false,
            }),
            advanced: Signal::new(),
            budget,
            start_lock: glommio::sync::Semaphore::new(1),
            segments_lock: glommio::sync::Semaphore::new(1),
            epochs_lock: glommio::sync::Semaphore::new(1),
        });
        log.recover_producers().await?;
        log.load_epochs().await?;
        Ok(log)
    }

    /// The failed sync that took the log offline, if one did.
    pub fn offline(&self) -> Option<IoFailure> {
        self.st.borrow().offline
    }

    /// Takes the log offline after a failed sync of its files: pending appends fail, and every
    /// later append and read answers KAFKA_STORAGE_ERROR until the broker restarts. A restart
    /// recovers the log from what is on disk; nothing acknowledged depended on the failed sync.
    pub(super) fn go_offline(&self, e: &std::io::Error) {
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        {
            let mut st = self.st.borrow_mut();
            if st.offline.is_some() {
                return;
            }
            st.offline = Some(IoFailure::from(e));
            st.pending.clear();
        }
        tracing::error!(
            partition = name.as_deref().unwrap_or("?"),
            path = %self.dir.display(),
            error = %e,
            "fsync failed: partition is OFFLINE (KAFKA_STORAGE_ERROR) until the broker restarts"
        );
        crate::events::partition_offline(1);
        self.advanced.notify_all();
    }

    /// Passes `r` through, taking the log offline first when it is a failed sync.
    pub(super) fn offline_on_sync_failure<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            crate::events::storage_error();
            if super::fault::is_sync_failure(e) {
                self.go_offline(e);
            }
        }
        r
    }

    /// Directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The visible offset (the high watermark): offset below which everything is visible to
    /// consumers. Equal to [`PartitionLog::durable_offset`] unless set from above.
    pub fn high_watermark(&self) -> i64 {
        self.st.borrow().visible()
    }

    /// The durable offset: everything below it is written (and synced per the flush policy).
    pub fn durable_offset(&self) -> i64 {
        self.st.borrow().durable_offset
    }

    /// Sets the visible offset from above (a replicated partition's high watermark); `None`
    /// makes it follow the durable offset again (replication factor 1). It never exceeds the
    /// durable offset, and readers and long polls waiting on it are woken.
    pub fn set_high_watermark(&self, offset: Option<i64>) {
        self.st.borrow_mut().visible_cap = offset;
        self.advanced.notify_all();
    }

    /// Whether a high watermark set from above caps the visible offset
    /// ([`PartitionLog::set_high_watermark`] with `Some`).
    pub fn high_watermark_capped(&self) -> bool {
        self.st.borrow().visible_cap.is_some()
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.st.borrow().log_start
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.st.borrow().next_offset
    }

    /// The log's current settings.
    pub fn config(&self) -> LogConfig {
        self.cfg.borrow().clone()
    }

    /// Applies new settings (an altered topic config); they take effect at the next write,
    /// roll, retention check or compaction pass.
    pub fn set_config(&self, cfg: LogConfig) {
        *self.cfg.borrow_mut() = cfg;
    }

    /// Total bytes on disk (logical segment sizes).
    pub fn size_bytes(&self) -> u64 {
        self.st.borrow().segments.iter().map(|s| s.size).sum()
    }

    /// Appends validated batches taken from `payload`, assigning offsets.
    ///
    /// Each batch is copied once into its own buffer, where its base offset is rewritten; the
    /// record bytes are not otherwise touched. The write to disk happens in the background;
    /// await [`PartitionLog::wait_durable`] for acknowledgement.
    ///
    /// Batches from idempotent producers are checked first: a retried batch already in the log
    /// returns its original offsets without writing anything, and a sequence gap or a stale
    /// epoch refuses the append ([`LogError::Producer`]).
    pub fn append(
        self: &Rc<Self>,
        batches: &[BatchInfo],
        payload: &[u8],
    ) -> Result<Appended, LogError> {
        {
            let st = self.st.borrow();
            // A log that cannot take the append refuses it before the producer state is asked:
            // while a failed write is being recovered from, that state is being rebuilt, and
            // its verdict (a duplicate, an unknown producer) would not hold.
            st.refuses_appends()?;
            if let Some(dup) = check_producers(&st.producers, st.generation, batches)? {
                return Ok(dup);
            }
        }
        self.append_unchecked(batches, payload)
    }

    /// Appends without the producer-state checks (transaction markers, internal writes).
    pub(super) fn append_unchecked(
        self: &Rc<Self>,
        batches: &[BatchInfo],
        payload: &[u8],
    ) -> Result<Appended, LogError> {
        let mut st = self.st.borrow_mut();
        st.refuses_appends()?;
        let first = st.next_offset;
        let epoch = st.leader_epoch;
        if !batches.is_empty() && st.epochs.assign(epoch, first) {
            st.epochs_dirty = true;
        }
        for info in batches {
            let base = st.next_offset;
            st.producers.apply(info, base);
            let mut buf = BytesMut::from(&payload[info.pos..info.pos + info.len]);
            batch::set_base_offset(&mut buf, base);
            batch::set_leader_epoch(&mut buf, epoch);
            self.push_batch(&mut st, base, info, buf.freeze());
        }
        Ok(self.appended_from(st, first))
    }

    /// Adds one batch (its offsets and epoch final) at the log end: pending for the flusher,
    /// and in the cache.
    pub(super) fn push_batch(&self, st: &mut LogState, base: i64, info: &BatchInfo, data: Bytes) {
        let next = base + info.last_offset_delta as i64 + 1;
        st.next_offset = next;
        st.pending.push((base, data.clone()));
        st.cache_bytes += data.len();
        self.budget.add(data.len());
        st.cache.push_back(CachedBatch { base, next, data });
    }

    /// Ends an append that started at `first`: evicts from the cache, starts the flusher if
    /// idle, and describes what was appended.
    pub(super) fn appended_from(
        self: &Rc<Self>,
        mut st: std::cell::RefMut<'_, LogState>,
        first: i64,
    ) -> Appended {
        self.evict(&mut st);
        let next_offset = st.next_offset;
        let st_generation = st.generation;
        let start_flusher = !st.flushing;
        st.flushing = true;
        drop(st);
        if start_flusher {
            let me = self.clone();
            glommio::spawn_local(async move { me.flush_loop().await }).detach();
        }
        Appended {
            base_offset: first,
            next_offset,
            generation: st_generation,
        }
    }

    /// Drops cached batches that end at or below `offset` (their disk copy was rewritten by
    /// compaction or deleted by retention).
    pub(super) fn drop_cached_below(&self, st: &mut LogState, offset: i64) {
        while st.cache.front().is_some_and(|b| b.next <= offset) {
            if let Some(b) = st.cache.pop_front() {
                st.cache_bytes -= b.data.len();
                self.budget.remove(b.data.len());
            }
        }
    }

    pub(super) fn evict(&self, st: &mut LogState) {
        // Keep at least the newest batch; drop the oldest while over budget, but never a batch
        // that is not yet on disk (readers fall back to disk only below the high watermark).
        while st.cache.len() > 1 && self.budget.over() {
            let front = st.cache.front().expect("non-empty");
            if front.next > st.durable_offset {
                break;
            }
            let b = st.cache.pop_front().expect("non-empty");
            st.cache_bytes -= b.data.len();
            self.budget.remove(b.data.len());
        }
    }
}

/// Runs the producer-state checks on every batch of one append. A duplicate (a retried batch
/// already in the log) is answered with its original offsets and nothing is written; a refused
/// batch refuses the whole append.
fn check_producers(
    producers: &ProducerStates,
    producers_generation: u64,
    batches: &[BatchInfo],
) -> Result<Option<Appended>, LogError> {
    let mut overlay: Option<ProducerStates> = None;
    for (i, info) in batches.iter().enumerate() {
        if !info.has_producer() {
            continue;
        }
        match overlay.as_ref().unwrap_or(producers).check(info) {
            Verdict::Append => {
                if batches.len() > 1 {
                    // Later batches of the same request follow this one's sequence.
                    let o = overlay.get_or_insert_with(|| producers.clone());
                    o.apply(info, i64::MAX / 2 + i as i64);
                }
            }
            Verdict::Duplicate(m) => {
                return Ok(Some(Appended {
                    base_offset: m.base_offset,
                    next_offset: m.next_offset,
                    generation: producers_generation,
                }))
            }
            Verdict::Reject(code) => return Err(LogError::Producer(code)),
        }
    }
    Ok(None)
}

pub(super) fn next_of(base: i64, data: &Bytes) -> i64 {
    batch::peek_header(data, 0)
        .map(|i| base + i.last_offset_delta as i64 + 1)
        .unwrap_or(base + 1)
}

pub use super::fault::sync_dir;
