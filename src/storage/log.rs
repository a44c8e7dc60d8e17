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
use super::cache::{read_cache, CacheBudget, CachedBatch};
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
}

struct LogState {
    segments: Vec<Segment>,
    log_start: i64,
    /// Next offset to assign (log end offset, including batches not yet on disk).
    next_offset: i64,
    /// Offset up to which data is written (and synced per the flush policy).
    high_watermark: i64,
    pending: Vec<(i64, Bytes)>,
    flushing: bool,
    unsynced_messages: u64,
    cache: VecDeque<CachedBatch>,
    cache_bytes: usize,
    error: Option<String>,
    closed: bool,
}

/// One partition's log.
pub struct PartitionLog {
    dir: PathBuf,
    cfg: LogConfig,
    st: RefCell<LogState>,
    advanced: Signal,
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

fn io_err(e: std::io::Error) -> LogError {
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
        Ok(Rc::new(PartitionLog {
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
            }),
            advanced: Signal::new(),
            budget,
        }))
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
    pub fn append(
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

    /// Waits until the high watermark moves past `offset`, the log fails, or `deadline` passes.
    pub async fn wait_for_data(&self, offset: i64, deadline: std::time::Instant) {
        loop {
            {
                let st = self.st.borrow();
                if st.high_watermark > offset || st.error.is_some() || st.closed {
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
            file.fdatasync().await.map_err(std::io::Error::from)?;
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
        Ok(())
    }

    /// Reads whole batches starting with the one that contains `offset`.
    ///
    /// At most `max_bytes` are returned, except that the first batch is always returned whole.
    /// Only data below the high watermark is returned. An empty result means no data yet.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> Result<Vec<Bytes>, LogError> {
        let hwm = {
            let st = self.st.borrow();
            if offset < st.log_start || offset > st.high_watermark {
                return Err(LogError::OffsetOutOfRange);
            }
            if offset == st.high_watermark {
                return Ok(Vec::new());
            }
            if let Some(front) = st.cache.front() {
                if front.base <= offset {
                    return Ok(read_cache(&st.cache, offset, max_bytes, st.high_watermark));
                }
            }
            st.high_watermark
        };
        self.read_disk(offset, max_bytes, hwm).await
    }

    async fn read_disk(
        &self,
        offset: i64,
        max_bytes: usize,
        hwm: i64,
    ) -> Result<Vec<Bytes>, LogError> {
        // Segments that may hold `offset`: the last one starting at or before it, then later ones.
        let candidates: Vec<(Rc<glommio::io::DmaFile>, u64, u64)> = {
            let st = self.st.borrow();
            let first = st
                .segments
                .partition_point(|s| s.base_offset <= offset)
                .saturating_sub(1);
            st.segments[first..]
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let pos = if k == 0 { s.index_lookup(offset) } else { 0 };
                    (s.file.clone(), pos, s.size)
                })
                .collect()
        };
        for (file, pos, size) in candidates {
            if pos >= size {
                continue;
            }
            let window = ((size - pos) as usize).min(max_bytes.max(64 * 1024));
            let mut buf = segment::read(&file, pos, window).await.map_err(io_err)?;
            let mut at = 0usize;
            let mut start = None;
            let mut end = 0usize;
            loop {
                let info = match batch::peek_header(&buf, at) {
                    Some(i) => i,
                    None => {
                        // The first needed batch may be larger than the window: read it whole.
                        if start.is_none() {
                            if let Some(len) = batch::claimed_len(&buf, at) {
                                let whole_end = pos + (at + len) as u64;
                                if len >= batch::HEADER_LEN && whole_end <= size {
                                    buf = segment::read(&file, pos, at + len)
                                        .await
                                        .map_err(io_err)?;
                                    continue;
                                }
                            }
                        }
                        break;
                    }
                };
                if info.base_offset >= hwm {
                    break;
                }
                if info.next_offset() <= offset {
                    at += info.len;
                    continue;
                }
                if start.is_some() && end - start.unwrap_or(0) + info.len > max_bytes {
                    break;
                }
                start.get_or_insert(at);
                at += info.len;
                end = at;
            }
            if let Some(s) = start {
                return Ok(vec![buf.slice(s..end)]);
            }
        }
        Ok(Vec::new())
    }

    /// First offset whose record timestamp is >= `ts`, with that record's timestamp.
    pub async fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let mut found: Option<Bytes> = None;
        self.for_each_batch(|info, data| {
            if info.max_timestamp >= ts {
                found = Some(data.clone());
                false
            } else {
                true
            }
        })
        .await?;
        Ok(found.and_then(|b| first_record_at_or_after(b, ts)))
    }

    /// Offset and timestamp of the record with the largest timestamp (first one on ties).
    pub async fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<(i64, Bytes)> = None;
        self.for_each_batch(|info, data| {
            if best.as_ref().is_none_or(|(t, _)| info.max_timestamp > *t) {
                best = Some((info.max_timestamp, data.clone()));
            }
            true
        })
        .await?;
        Ok(best.and_then(|(t, b)| first_record_at_or_after(b, t)))
    }

    /// Visits every batch below the high watermark, oldest first, until `visit` returns false.
    async fn for_each_batch<F>(&self, mut visit: F) -> Result<(), LogError>
    where
        F: FnMut(&BatchInfo, &Bytes) -> bool,
    {
        let (segs, hwm) = {
            let st = self.st.borrow();
            let segs: Vec<_> = st
                .segments
                .iter()
                .map(|s| (s.file.clone(), s.size))
                .collect();
            (segs, st.high_watermark)
        };
        for (file, size) in segs {
            let mut pos = 0u64;
            while pos < size {
                let window = ((size - pos) as usize).min(1 << 20);
                let mut buf = segment::read(&file, pos, window).await.map_err(io_err)?;
                if batch::peek_header(&buf, 0).is_none() {
                    match batch::claimed_len(&buf, 0) {
                        Some(len) if len >= batch::HEADER_LEN && pos + len as u64 <= size => {
                            buf = segment::read(&file, pos, len).await.map_err(io_err)?;
                        }
                        _ => break,
                    }
                }
                let mut at = 0;
                while let Some(info) = batch::peek_header(&buf, at) {
                    if info.base_offset >= hwm {
                        return Ok(());
                    }
                    if !visit(&info, &buf.slice(at..at + info.len)) {
                        return Ok(());
                    }
                    at += info.len;
                }
                if at == 0 {
                    break;
                }
                pos += at as u64;
            }
        }
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
        self.advanced.notify_all();
    }
}

fn next_of(base: i64, data: &Bytes) -> i64 {
    batch::peek_header(data, 0)
        .map(|i| base + i.last_offset_delta as i64 + 1)
        .unwrap_or(base + 1)
}

/// Decodes one batch (decompressing if needed) to find the first record with timestamp >= ts.
fn first_record_at_or_after(mut batch: Bytes, ts: i64) -> Option<(i64, i64)> {
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut batch).ok()?;
    set.records
        .iter()
        .find(|r| r.timestamp >= ts)
        .map(|r| (r.offset, r.timestamp))
}

/// fsyncs a directory so that new or renamed entries survive a crash.
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}
