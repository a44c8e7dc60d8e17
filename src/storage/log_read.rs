//! Reads from a partition log: whole batches from the cache or from disk for Fetch, scans of
//! batch headers for timestamp lookups and for rebuilding producer state.
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
use super::segment;

/// A read of the window following the last disk read of a consumer.
pub(super) struct ReadAhead {
    /// The segment file read (a compacted or truncated segment has a new file: no match).
    file: Rc<glommio::io::DmaFile>,
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
    /// instead of the high watermark.
    pub async fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        committed: bool,
    ) -> Result<Vec<Bytes>, LogError> {
        let hwm = {
            let mut st = self.st.borrow_mut();
            if offset < st.log_start || offset > st.high_watermark {
                return Err(LogError::OffsetOutOfRange);
            }
            let limit = if committed {
                st.last_stable_offset()
            } else {
                st.high_watermark
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
        let wanted = max_bytes.max(64 * 1024);
        for (file, pos, size) in candidates {
            if pos >= size {
                continue;
            }
            let window = ((size - pos) as usize).min(wanted);
            let (pos, mut buf) = match self.take_readahead(&file, offset).await {
                Some(hit) => hit,
                None => (
                    pos,
                    segment::read(&file, pos, window).await.map_err(io_err)?,
                ),
            };
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
                self.start_readahead(&file, pos + end as u64, size, wanted);
                return Ok(vec![buf.slice(s..end)]);
            }
        }
        Ok(Vec::new())
    }

    /// The read-ahead window of `file`, if it starts at or before the batch holding `offset`.
    async fn take_readahead(
        &self,
        file: &Rc<glommio::io::DmaFile>,
        offset: i64,
    ) -> Option<(u64, Bytes)> {
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
    fn start_readahead(&self, file: &Rc<glommio::io::DmaFile>, pos: u64, size: u64, window: usize) {
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
        let mut found = None;
        self.scan_from(from, |info, data| {
            if info.max_timestamp >= ts {
                found = first_record_at_or_after(data.clone(), ts, log_start);
            }
            found.is_none()
        })
        .await?;
        Ok(found)
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
        let mut found = None;
        self.scan_from(offset.max(log_start), |_, data| {
            found = first_record_at_or_after(data.clone(), t, log_start);
            found.is_none()
        })
        .await?;
        Ok(found)
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
            (segs, st.high_watermark)
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

/// Decodes one batch (decompressing if needed) to find the first record at or after
/// `min_offset` with timestamp >= ts.
fn first_record_at_or_after(mut batch: Bytes, ts: i64, min_offset: i64) -> Option<(i64, i64)> {
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut batch).ok()?;
    set.records
        .iter()
        .find(|r| r.timestamp >= ts && r.offset >= min_offset)
        .map(|r| (r.offset, r.timestamp))
}
