//! Reads from a partition log: whole batches from the cache or from disk for Fetch, scans of
//! batch headers for timestamp lookups and for rebuilding producer state.
//!
//! Nothing read from disk is trusted to size anything: batch lengths are checked against the
//! file, and records are only reached through [`validate::for_each_record`] (stored rules),
//! whose failure is a storage error for the partition. Batches a fetch serves from disk are
//! checked first (framing, magic, CRC: [`verify`]); a corrupt one is a
//! [`LogError::Corrupt`] for its partition, after the good batches before it were served.
//!
//! Read-ahead: direct I/O bypasses the kernel's page cache and its read-ahead, so a consumer
//! catching up from disk would wait for each window's read before the broker could send it.
//! After a disk read, the log starts reading the next window of the same segment file in the
//! background; the consumer's next fetch takes it (waiting for it if it is still in flight),
//! so disk reads overlap with sending the previous window.

use std::rc::Rc;

use bytes::Bytes;

use super::batch::{self, BatchInfo};
use super::cache::read_cache;
use super::log::{io_err, LogError, LogState, PartitionLog};
use super::open_files::SegmentFile;
use super::segment;
use super::validate::{self, Origin};
use super::verify::{self, CorruptBatch, Fault};

/// Least time between two log lines about corrupt batches of one partition.
const CORRUPT_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// A read of the window following the last disk read of a consumer.
pub(super) struct ReadAhead {
    /// The segment file read (a compacted or truncated segment has a new file: no match).
    file: Rc<SegmentFile>,
    /// File position of the window.
    pos: u64,
    /// Bytes asked for, reserved in the core's read-ahead share until the window is used or
    /// dropped.
    len: usize,
    /// The read in flight (or done).
    task: glommio::task::JoinHandle<std::io::Result<Bytes>>,
}

impl ReadAhead {
    /// Bytes the window reserves in the core's read-ahead share.
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

impl PartitionLog {
    /// Reads whole batches starting with the one that contains `offset`.
    ///
    /// At most `max_bytes` are returned, except that the first batch is always returned whole.
    /// Only data below the high watermark is returned. An empty result means no data yet.
    ///
    /// With `committed` (read_committed isolation) reading stops at the last stable offset
    /// instead of the high watermark. An offline log (a failed sync) refuses every read.
    pub async fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        committed: bool,
    ) -> Result<Vec<Bytes>, LogError> {
        let hwm = {
            let mut st = self.st.borrow_mut();
            if let Some(e) = st.offline {
                return Err(LogError::Offline(e));
            }
            if offset < st.log_start || offset > st.visible() {
                return Err(LogError::OffsetOutOfRange);
            }
            let limit = if committed {
                st.last_stable_offset()
            } else {
                st.visible()
            };
            if offset >= limit {
                return Ok(Vec::new());
            }
            if st.cache.front().is_some_and(|front| front.base <= offset) {
                // Caught up with the cache: a window read ahead is no longer needed.
                self.release_readahead(&mut st);
                return Ok(read_cache(&st.cache, offset, max_bytes, limit));
            }
            limit
        };
        self.read_disk(offset, max_bytes, hwm).await
    }

    /// Reads whole batches for a follower's fetch, starting with the one that contains
    /// `offset`: up to the durable offset, not the high watermark (a follower must get records
    /// before they are visible; that is what moves the high watermark), and regardless of
    /// transactions. Not past the durable offset: a failed write cuts the log back to it and
    /// the next appends reuse those offsets, so a follower given a batch above it could keep
    /// one the leader no longer has, at an offset and epoch the leader gives to another batch.
    /// At most `max_bytes`, the first batch always whole. `offset` must lie in
    /// `[log start, log end]`, else [`LogError::OffsetOutOfRange`].
    pub async fn read_for_replica(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Vec<Bytes>, LogError> {
        let disk_limit = {
            let mut st = self.st.borrow_mut();
            if let Some(e) = st.offline {
                return Err(LogError::Offline(e));
            }
            if offset < st.log_start || offset > st.next_offset {
                return Err(LogError::OffsetOutOfRange);
            }
            let end = st.durable_offset.min(st.next_offset);
            if offset >= end {
                return Ok(Vec::new());
            }
            if st.cache.front().is_some_and(|front| front.base <= offset) {
                self.release_readahead(&mut st);
                return Ok(read_cache(&st.cache, offset, max_bytes, end));
            }
            // Below the cache's front the segments hold it.
            end
        };
        self.read_disk(offset, max_bytes, disk_limit).await
    }

    /// Reads from the segments the batches from the one holding `offset` on, checked before
    /// they are served ([`verify`]): the batches before a corrupt one are served, and a read
    /// that starts at a corrupt batch is a [`LogError::Corrupt`]. A length or offset read from
    /// disk that does not fit the segment is corruption too, never a reason to skip ahead.
    async fn read_disk(
        &self,
        offset: i64,
        max_bytes: usize,
        hwm: i64,
    ) -> Result<Vec<Bytes>, LogError> {
        // Segments that may hold `offset`: the last one starting at or before it, then later
        // ones; each with its base offset and the next one's (which its batches stay below).
        let candidates: Vec<(Rc<SegmentFile>, u64, u64, i64, i64)> = {
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
                    let next_base = st
                        .segments
                        .get(first + k + 1)
                        .map_or(i64::MAX, |n| n.base_offset);
                    (s.file.clone(), pos, s.size, s.base_offset, next_base)
                })
                .collect()
        };
        let wanted = max_bytes.max(64 * 1024);
        for (file, pos, size, base, next_base) in candidates {
            if pos >= size {
                continue;
            }
            let window = ((size - pos) as usize).min(wanted);
            let (mut pos, mut buf) = match self.take_readahead(&file, offset).await {
                Some(hit) => hit,
                None => (
                    pos,
                    segment::read(&file, pos, window).await.map_err(io_err)?,
                ),
            };
            let mut at = 0usize;
            let mut start = None;
            let mut end = 0usize;
            let mut prev_next = base;
            let mut fault = None;
            let corrupt = |at: usize, pos: u64, offset: i64, fault: Fault| CorruptBatch {
                offset,
                position: pos + at as u64,
                fault,
            };
            loop {
                let file_at = pos + at as u64;
                if file_at >= size {
                    break;
                }
                let info = match batch::peek_header(&buf, at) {
                    Some(i) => i,
                    // The window ends inside a batch: serve what it holds.
                    None if start.is_some() => break,
                    None => {
                        // Nothing to serve yet: read on from this batch (whole, if it is
                        // larger than the window), unless its length cannot be right.
                        let left = size - file_at;
                        let want = match batch::claimed_len(&buf, at) {
                            Some(len) if len >= batch::HEADER_LEN && len as u64 <= left => {
                                len.max(window).min(left as usize)
                            }
                            None if left >= batch::HEADER_LEN as u64 => window.min(left as usize),
                            _ => {
                                fault = Some(corrupt(at, pos, offset, Fault::Length));
                                break;
                            }
                        };
                        if want <= buf.len() - at {
                            fault = Some(corrupt(at, pos, offset, Fault::Length));
                            break;
                        }
                        buf = segment::read(&file, file_at, want).await.map_err(io_err)?;
                        if buf.len() < want {
                            fault = Some(corrupt(0, file_at, offset, Fault::Length));
                            break;
                        }
                        (pos, at) = (file_at, 0);
                        continue;
                    }
                };
                if info.base_offset < prev_next || info.next_offset() > next_base {
                    fault = Some(corrupt(at, pos, info.base_offset, Fault::Offsets));
                    break;
                }
                if info.base_offset >= hwm {
                    break;
                }
                prev_next = info.next_offset();
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
            let Some(s) = start else {
                match fault {
                    Some(c) => return Err(self.corrupt_read(c)),
                    None => continue,
                }
            };
            let checked = {
                let mut verified = file.verified().borrow_mut();
                verify::check_range(&buf, s, end, pos, &mut verified)
            };
            if let Err((valid_end, c)) = checked {
                if valid_end == s {
                    return Err(self.corrupt_read(c));
                }
                // Serve the good batches; the next fetch starts at the bad one and fails.
                end = valid_end;
            }
            self.start_readahead(&file, pos + end as u64, size, wanted);
            return Ok(vec![buf.slice(s..end)]);
        }
        Ok(Vec::new())
    }

    /// The error for a fetch that starts at the corrupt stored batch `c`: logged (at most once
    /// a minute per partition, with the count of those not logged) and counted.
    fn corrupt_read(&self, c: CorruptBatch) -> LogError {
        crate::events::corrupt_batch_read();
        let mut st = self.st.borrow_mut();
        let now = std::time::Instant::now();
        match &mut st.corrupt_logged {
            Some((at, skipped)) if now.duration_since(*at) < CORRUPT_LOG_INTERVAL => {
                *skipped += 1;
            }
            logged => {
                let skipped = logged.map_or(0, |(_, n)| n);
                *logged = Some((now, 0));
                tracing::error!(
                    dir = %self.dir.display(),
                    offset = c.offset,
                    position = c.position,
                    fault = ?c.fault,
                    not_logged_since = skipped,
                    "corrupt stored batch: fetches from it fail with CORRUPT_MESSAGE"
                );
            }
        }
        LogError::Corrupt(c)
    }

    /// The read-ahead window of `file`, if it starts at or before the batch holding `offset`.
    async fn take_readahead(&self, file: &Rc<SegmentFile>, offset: i64) -> Option<(u64, Bytes)> {
        let ra = {
            let mut st = self.st.borrow_mut();
            match &st.readahead {
                Some(ra) if Rc::ptr_eq(&ra.file, file) => {
                    self.budget.release_ahead(ra.len);
                    st.readahead.take()?
                }
                _ => return None,
            }
        };
        let data = ra.task.await?.ok()?;
        // The window starts where the previous read ended, at a batch boundary; it serves
        // this read if that batch is the one holding `offset` or an earlier one.
        let first = batch::peek_header(&data, 0)?;
        (first.base_offset <= offset).then_some((ra.pos, data))
    }

    /// Starts reading the `window` bytes at `pos` of `file` (written up to `size`) ahead.
    ///
    /// Nothing is read ahead at the end of the segment's data (newer data is served from the
    /// cache or the next segment) or when the core's read-ahead share of the cache budget is
    /// taken: many partitions read from disk at once cannot pile up windows beyond it.
    fn start_readahead(&self, file: &Rc<SegmentFile>, pos: u64, size: u64, window: usize) {
        let mut st = self.st.borrow_mut();
        self.release_readahead(&mut st);
        if pos >= size {
            return;
        }
        let len = ((size - pos) as usize).min(window);
        if !self.budget.reserve_ahead(len) {
            return;
        }
        let f = file.clone();
        let task = glommio::spawn_local(async move { segment::read(&f, pos, len).await }).detach();
        st.readahead = Some(ReadAhead {
            file: file.clone(),
            pos,
            len,
            task,
        });
    }

    /// Drops the window read ahead, if any, and gives its bytes back to the budget.
    pub(super) fn release_readahead(&self, st: &mut LogState) {
        if let Some(ra) = st.readahead.take() {
            self.budget.release_ahead(ra.len);
        }
    }

    /// First offset whose record timestamp is >= `ts`, with that record's timestamp.
    ///
    /// The segments' largest timestamps pick the segment and its time index the place in it
    /// to start, so only a few batches are read.
    pub async fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let (from, log_start) = {
            let st = self.st.borrow();
            let seg = st
                .segments
                .iter()
                .find(|s| s.max_timestamp.is_some_and(|(t, _)| t >= ts));
            let Some(seg) = seg else {
                return Ok(None);
            };
            let from = match seg.time_index.last_before(ts) {
                Some(rel) => seg.base_offset + rel as i64 + 1,
                None => seg.base_offset,
            };
            (from.max(st.log_start), st.log_start)
        };
        let mut found = Ok(None);
        self.scan_from(from, |info, data| {
            if info.max_timestamp >= ts {
                found = first_record_at_or_after(data, info, ts, log_start);
            }
            matches!(found, Ok(None))
        })
        .await?;
        found
    }

    /// Offset and timestamp of the record with the largest timestamp (first one on ties).
    pub async fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let (best, log_start) = {
            let st = self.st.borrow();
            let mut best: Option<(i64, i64)> = None;
            for seg in &st.segments {
                if let Some((t, o)) = seg.max_timestamp {
                    if best.is_none_or(|(bt, _)| t > bt) {
                        best = Some((t, o));
                    }
                }
            }
            (best, st.log_start)
        };
        let Some((t, offset)) = best else {
            return Ok(None);
        };
        let mut found = Ok(None);
        self.scan_from(offset.max(log_start), |info, data| {
            found = first_record_at_or_after(data, info, t, log_start);
            matches!(found, Ok(None))
        })
        .await?;
        found
    }

    /// Visits every batch below the high watermark from the one holding `from` on, oldest
    /// first, until `visit` returns false.
    pub(super) async fn scan_from<F>(&self, from: i64, mut visit: F) -> Result<(), LogError>
    where
        F: FnMut(&BatchInfo, &Bytes) -> bool,
    {
        let (segs, hwm) = {
            let st = self.st.borrow();
            let first = st
                .segments
                .partition_point(|s| s.base_offset <= from)
                .saturating_sub(1);
            let segs: Vec<_> = st.segments[first..]
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let pos = if k == 0 { s.index_lookup(from) } else { 0 };
                    (s.file.clone(), pos, s.size)
                })
                .collect();
            (segs, st.visible())
        };
        for (file, start, size) in segs {
            let mut pos = start;
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
                    if info.next_offset() > from && !visit(&info, &buf.slice(at..at + info.len)) {
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
}

/// Walks one stored batch (decompressing if needed, within the bound) to find the first record
/// at or after `min_offset` with timestamp >= ts. Nothing is sized by the batch's counts; a
/// batch whose records do not hold together is an error for the partition, not a crash.
fn first_record_at_or_after(
    batch: &Bytes,
    info: &BatchInfo,
    ts: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, LogError> {
    let mut found = None;
    validate::for_each_record(batch, info, Origin::Stored, |r| {
        let offset = info.base_offset + r.offset_delta as i64;
        let timestamp = info.base_timestamp.saturating_add(r.timestamp_delta);
        if timestamp >= ts && offset >= min_offset {
            found = Some((offset, timestamp));
        }
        found.is_none()
    })
    .map_err(|e| corrupt(info, e))?;
    Ok(found)
}

/// The error for a stored batch that fails validation during a lookup.
pub(super) fn corrupt(info: &BatchInfo, e: validate::Invalid) -> LogError {
    tracing::error!(base_offset = info.base_offset, error = ?e, "corrupt batch in the log");
    LogError::CorruptStored {
        base_offset: info.base_offset,
        fault: e,
    }
}
