//! The log of one partition: offset assignment, group-committed direct-I/O appends, reads from
//! the recent-batch cache or from disk, and timestamp lookups.
//!
//! A `PartitionLog` lives on the core that owns the partition and is only touched by that core's
//! executor, so its state sits in a `RefCell` that is never held across an `.await`.
//!
//! Produce path: [`PartitionLog::append`] copies each validated batch once, rewrites its base
//! offset in place, puts it in the cache and the pending list, and starts the flusher if idle.
//! The flusher writes everything pending in one aligned direct write, fdatasyncs once, and then
//! advances the high watermark, which wakes acknowledgements and long-polling fetches.

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

/// Tunables of a partition log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Roll to a new segment once the active one reaches this size (`segment.bytes`).
    pub segment_bytes: u64,
    /// Bytes between two index entries (`index.interval.bytes`).
    pub index_interval_bytes: u64,
    /// fdatasync after this many messages (`flush.messages`); 1 means every group commit.
    pub flush_messages: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            index_interval_bytes: 4096,
            flush_messages: 1,
        }
    }
}

/// Errors surfaced to the protocol layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// The requested offset is outside `[log_start, high_watermark]`.
    OffsetOutOfRange,
    /// A disk write, sync or read failed (KAFKA_STORAGE_ERROR).
    Storage(String),
    /// The producer state refused the batch, with this Kafka error code (sequence gap, stale
    /// epoch, unknown producer).
    Producer(i16),
}

pub(super) struct LogState {
    pub(super) segments: Vec<Segment>,
    pub(super) log_start: i64,
    /// Next offset to assign (log end offset, including batches not yet on disk).
    pub(super) next_offset: i64,
    /// Offset up to which data is written (and synced per the flush policy).
    pub(super) high_watermark: i64,
    pending: Vec<(i64, Bytes)>,
    flushing: bool,
    unsynced_messages: u64,
    pub(super) cache: VecDeque<CachedBatch>,
    cache_bytes: usize,
    pub(super) error: Option<String>,
    pub(super) closed: bool,
    /// What idempotent and transactional producers have written (as of `next_offset`).
    pub(super) producers: ProducerStates,
}

impl LogState {
    /// The high watermark, held back to the first offset of the oldest open transaction.
    pub(super) fn last_stable_offset(&self) -> i64 {
        self.producers
            .first_unstable_offset()
            .map_or(self.high_watermark, |f| f.min(self.high_watermark))
    }
}

/// One partition's log.
pub struct PartitionLog {
    pub(super) dir: PathBuf,
    cfg: LogConfig,
    pub(super) st: RefCell<LogState>,
    pub(super) advanced: Signal,
    budget: Rc<CacheBudget>,
}

/// Outcome of an append.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset following the last record appended.
    pub next_offset: i64,
}

pub(super) fn io_err(e: std::io::Error) -> LogError {
    LogError::Storage(e.to_string())
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering the tail segment.
    pub async fn open(
        dir: &Path,
        cfg: LogConfig,
        budget: Rc<CacheBudget>,
    ) -> std::io::Result<Rc<PartitionLog>> {
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<i64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| segment::parse_log_name(&e.file_name().to_string_lossy()))
            .collect();
        bases.sort_unstable();
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let last = i + 1 == bases.len();
            let seg = Segment::open(dir, base, last, cfg.index_interval_bytes).await?;
            segments.push(seg);
        }
        // Older segments opened from their index do not know where they end: the next one's base.
        for i in 0..segments.len().saturating_sub(1) {
            if segments[i].next_offset == segments[i].base_offset && segments[i].size > 0 {
                segments[i].next_offset = segments[i + 1].base_offset;
            }
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0).await?);
            sync_dir(dir);
        }
        let log_start = segments[0].base_offset;
        let end = segments.last().map(|s| s.next_offset).unwrap_or(0);
        let log = Rc::new(PartitionLog {
            dir: dir.to_path_buf(),
            cfg,
            st: RefCell::new(LogState {
                segments,
                log_start,
                next_offset: end,
                high_watermark: end,
                pending: Vec::new(),
                flushing: false,
                unsynced_messages: 0,
                cache: VecDeque::new(),
                cache_bytes: 0,
                error: None,
                closed: false,
                producers: ProducerStates::default(),
            }),
            advanced: Signal::new(),
            budget,
        });
        log.recover_producers().await?;
        Ok(log)
    }

    /// Directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Offset below which everything is visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.st.borrow().high_watermark
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.st.borrow().log_start
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.st.borrow().next_offset
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
            if let Some(dup) = check_producers(&st.producers, batches)? {
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
        if let Some(e) = &st.error {
            return Err(LogError::Storage(e.clone()));
        }
        if st.closed {
            return Err(LogError::Storage("log is closed".into()));
        }
        let first = st.next_offset;
        for info in batches {
            let base = st.next_offset;
            st.producers.apply(info, base);
            let mut buf = BytesMut::from(&payload[info.pos..info.pos + info.len]);
            batch::set_base_offset(&mut buf, base);
            batch::set_leader_epoch(&mut buf, 0);
            let data = buf.freeze();
            let next = base + info.last_offset_delta as i64 + 1;
            st.next_offset = next;
            st.unsynced_messages += info.records_count.max(1) as u64;
            st.pending.push((base, data.clone()));
            st.cache_bytes += data.len();
            self.budget.add(data.len());
            st.cache.push_back(CachedBatch { base, next, data });
        }
        self.evict(&mut st);
        let next_offset = st.next_offset;
        let start_flusher = !st.flushing;
        st.flushing = true;
        drop(st);
        if start_flusher {
            let me = self.clone();
            glommio::spawn_local(async move { me.flush_loop().await }).detach();
        }
        Ok(Appended {
            base_offset: first,
            next_offset,
        })
    }

    fn evict(&self, st: &mut LogState) {
        // Keep at least the newest batch; drop the oldest while over budget, but never a batch
        // that is not yet on disk (readers fall back to disk only below the high watermark).
        while st.cache.len() > 1 && self.budget.over() {
            let front = st.cache.front().expect("non-empty");
            if front.next > st.high_watermark {
                break;
            }
            let b = st.cache.pop_front().expect("non-empty");
            st.cache_bytes -= b.data.len();
            self.budget.remove(b.data.len());
        }
    }

    /// Waits until everything before `next_offset` is durable (or a storage error occurs).
    pub async fn wait_durable(&self, next_offset: i64) -> Result<(), LogError> {
        loop {
            {
                let st = self.st.borrow();
                if st.high_watermark >= next_offset {
                    return Ok(());
                }
                if let Some(e) = &st.error {
                    return Err(LogError::Storage(e.clone()));
                }
            }
            self.advanced.wait().await;
        }
    }

    /// Waits until the high watermark (the last stable offset with `committed`) moves past
    /// `offset`, the log fails, or `deadline` passes.
    pub async fn wait_for_data(&self, offset: i64, committed: bool, deadline: std::time::Instant) {
        loop {
            {
                let st = self.st.borrow();
                let limit = if committed {
                    st.last_stable_offset()
                } else {
                    st.high_watermark
                };
                if limit > offset || st.error.is_some() || st.closed {
                    return;
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return;
            }
            let wait = self.advanced.wait();
            let timer = glommio::timer::sleep(deadline - now);
            futures_lite::future::or(wait, timer).await;
        }
    }

    async fn flush_loop(self: Rc<Self>) {
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
                    st.high_watermark = next;
                    self.evict(&mut st);
                }
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %e, "log write failed");
                    let mut st = self.st.borrow_mut();
                    st.error = Some(e.to_string());
                    st.pending.clear();
                    st.flushing = false;
                    drop(st);
                    self.advanced.notify_all();
                    return;
                }
            }
            self.advanced.notify_all();
        }
    }

    async fn write_out(&self, pending: &[(i64, Bytes)]) -> std::io::Result<()> {
        let mut i = 0;
        while i < pending.len() {
            let (file, start, tail, size) = {
                let st = self.st.borrow();
                let seg = st.segments.last().expect("active segment");
                (
                    seg.file.clone(),
                    seg.write_start(),
                    seg.tail.clone(),
                    seg.size,
                )
            };
            let limit = self.cfg.segment_bytes.max(1);
            if size > 0 && size + pending[i].1.len() as u64 > limit {
                self.roll(pending[i].0).await?;
                continue;
            }
            let mut j = i;
            let mut sz = size;
            while j < pending.len() && (j == i || sz + pending[j].1.len() as u64 <= limit) {
                sz += pending[j].1.len() as u64;
                j += 1;
            }
            segment::write_batches(&file, start, &tail, &pending[i..j]).await?;
            self.st
                .borrow_mut()
                .segments
                .last_mut()
                .expect("active segment")
                .note_written(&pending[i..j], self.cfg.index_interval_bytes);
            i = j;
        }
        let sync = {
            let mut st = self.st.borrow_mut();
            if st.unsynced_messages >= self.cfg.flush_messages || st.closed {
                st.unsynced_messages = 0;
                Some(st.segments.last().expect("active").file.clone())
            } else {
                None
            }
        };
        if let Some(file) = sync {
            let started = std::time::Instant::now();
            file.fdatasync().await.map_err(std::io::Error::from)?;
            crate::metrics::hooks::fsync(started.elapsed());
        }
        Ok(())
    }

    /// Closes the active segment (synced, index stored) and starts a new one at `base`.
    async fn roll(&self, base: i64) -> std::io::Result<()> {
        let (file, index, index_path) = {
            let st = self.st.borrow();
            let seg = st.segments.last().expect("active");
            (
                seg.file.clone(),
                seg.index.clone(),
                self.dir.join(segment::file_name(seg.base_offset, "index")),
            )
        };
        file.fdatasync().await.map_err(std::io::Error::from)?;
        index.store(&index_path)?;
        let seg = Segment::create(&self.dir, base).await?;
        sync_dir(&self.dir);
        self.st.borrow_mut().segments.push(seg);
        self.write_snapshot();
        Ok(())
    }

    /// Finishes pending writes, syncs, stores the active segment's index and refuses new appends.
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
        let (file, index, path) = {
            let mut st = self.st.borrow_mut();
            st.closed = true;
            let seg = st.segments.last().expect("active");
            (
                seg.file.clone(),
                seg.index.clone(),
                self.dir.join(segment::file_name(seg.base_offset, "index")),
            )
        };
        let _ = file.fdatasync().await;
        let _ = index.store(&path);
        self.write_snapshot();
        self.advanced.notify_all();
    }
}

/// Runs the producer-state checks on every batch of one append. A duplicate (a retried batch
/// already in the log) is answered with its original offsets and nothing is written; a refused
/// batch refuses the whole append.
fn check_producers(
    producers: &ProducerStates,
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

/// fsyncs a directory so that new or renamed entries survive a crash.
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}
