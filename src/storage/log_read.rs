//! Reads from a partition log: whole batches from the cache or from disk for Fetch, scans of
//! batch headers for timestamp lookups and for rebuilding producer state.

use std::rc::Rc;

use bytes::Bytes;

use super::batch::{self, BatchInfo};
use super::cache::read_cache;
use super::log::{io_err, LogError, PartitionLog};
use super::segment;

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
            let st = self.st.borrow();
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
            if let Some(front) = st.cache.front() {
                if front.base <= offset {
                    return Ok(read_cache(&st.cache, offset, max_bytes, limit));
                }
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
        self.scan_from(i64::MIN, |info, data| {
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
        self.scan_from(i64::MIN, |info, data| {
            if best.as_ref().is_none_or(|(t, _)| info.max_timestamp > *t) {
                best = Some((info.max_timestamp, data.clone()));
            }
            true
        })
        .await?;
        Ok(best.and_then(|(t, b)| first_record_at_or_after(b, t)))
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

/// Decodes one batch (decompressing if needed) to find the first record with timestamp >= ts.
fn first_record_at_or_after(mut batch: Bytes, ts: i64) -> Option<(i64, i64)> {
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut batch).ok()?;
    set.records
        .iter()
        .find(|r| r.timestamp >= ts)
        .map(|r| (r.offset, r.timestamp))
}
