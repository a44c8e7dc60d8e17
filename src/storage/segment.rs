//! One log segment: a `.log` file of record batches written with O_DIRECT, plus its sparse index.
//!
//! Writes are aligned: the last partial block of the file (the "tail") is kept in memory and
//! written again, followed by the new batches, padded with zeros to the alignment. The logical
//! size (end of the last whole batch) is tracked in memory; on recovery it is found again by
//! scanning batches and verifying their CRCs, and anything after it is cut off.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use super::batch::{self, BatchInfo};
use super::index::OffsetIndex;
use super::open_files::{open_dma, SegmentFile};
use super::time_index::TimeIndex;
use super::validate;
use crate::disk::{self, DiskFile};

/// Read size used when scanning a segment.
const SCAN_CHUNK: usize = 1 << 20;

/// File name of the segment starting at `base_offset`, with the given extension.
pub fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// Parses a segment file name (`00000000000000000042.log`) into its base offset.
pub fn parse_log_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// An open segment.
pub struct Segment {
    /// Offset of the first batch the segment may hold.
    pub base_offset: i64,
    /// The `.log` file, for direct I/O; its descriptor is open while recently used.
    pub file: Rc<SegmentFile>,
    /// Path of the `.log` file.
    pub path: PathBuf,
    /// Logical size: the end of the last complete batch written.
    pub size: u64,
    /// Content of the last partial aligned block (`size % alignment` bytes).
    pub tail: Vec<u8>,
    /// Sparse offset index.
    pub index: OffsetIndex,
    /// Bytes written since the last index entry.
    pub bytes_since_index: u64,
    /// Offset following the last batch of the segment (`base_offset` when empty).
    pub next_offset: i64,
    /// Largest timestamp in the segment and the offset of its batch, when known.
    pub max_timestamp: Option<(i64, i64)>,
    /// Sparse time index.
    pub time_index: TimeIndex,
    /// Bytes written since the last time index entry.
    pub bytes_since_time_entry: u64,
    /// Largest timestamp of the first batch (what `segment.ms` measures), when known.
    pub first_timestamp: Option<i64>,
    /// File size reserved with fallocate (0 when nothing was preallocated).
    pub reserved: u64,
    /// Wall-clock time (ms since the epoch) the segment was created or opened.
    pub opened_ms: i64,
}

async fn open_rw(path: &Path) -> std::io::Result<Rc<dyn DiskFile>> {
    open_dma(path, true).await
}

impl Segment {
    /// Creates a new, empty segment file.
    pub async fn create(dir: &Path, base_offset: i64) -> std::io::Result<Segment> {
        super::fault::remove_files(vec![
            dir.join(file_name(base_offset, "index")),
            dir.join(file_name(base_offset, "timeindex")),
        ])
        .await;
        Segment::create_at(dir.join(file_name(base_offset, "log")), base_offset).await
    }

    /// Creates an empty segment file at `path` (a temporary name the caller renames later).
    pub async fn create_at(path: PathBuf, base_offset: i64) -> std::io::Result<Segment> {
        let file = open_rw(&path).await?;
        file.truncate(0).await?;
        Ok(Segment::empty(base_offset, file, path, 0))
    }

    fn empty(base_offset: i64, file: Rc<dyn DiskFile>, path: PathBuf, size: u64) -> Segment {
        Segment {
            base_offset,
            file: SegmentFile::new(path.clone(), file),
            path,
            size,
            tail: Vec::new(),
            index: OffsetIndex::new(),
            bytes_since_index: 0,
            next_offset: base_offset,
            max_timestamp: None,
            time_index: TimeIndex::new(),
            bytes_since_time_entry: 0,
            first_timestamp: None,
            reserved: 0,
            opened_ms: crate::clock::now_ms(),
        }
    }

    /// Opens an existing segment.
    ///
    /// With `verify` (the tail segment), every batch is scanned and CRC-checked and the file is
    /// truncated after the last valid batch; otherwise a valid `.index` file is trusted and the
    /// segment is only scanned when the index is missing or bad.
    pub async fn open(
        dir: &Path,
        base_offset: i64,
        verify: bool,
        index_interval: u64,
    ) -> std::io::Result<Segment> {
        let path = dir.join(file_name(base_offset, "log"));
        let file = open_rw(&path).await?;
        let file_size = file.file_size().await?;
        let mut seg = Segment::empty(base_offset, file, path, file_size);
        seg.reserved = file_size;
        let index_path = dir.join(file_name(base_offset, "index"));
        let time_path = dir.join(file_name(base_offset, "timeindex"));
        if !verify {
            let disk = disk::current();
            let index = disk.read(&index_path).await.ok();
            let times = disk.read(&time_path).await.ok();
            let index = index.and_then(|b| OffsetIndex::from_bytes(&b, file_size.max(1)));
            let times = times.and_then(|b| TimeIndex::from_bytes(&b));
            if let (Some(index), Some(times)) = (index, times) {
                seg.index = index;
                seg.max_timestamp = times.last().map(|(t, o)| (t, base_offset + o as i64));
                seg.time_index = times;
                return Ok(seg);
            }
            tracing::info!(segment = %seg.path.display(), "rebuilding missing or invalid index");
        }
        seg.rebuild(index_interval).await?;
        if seg.size < file_size {
            tracing::warn!(
                segment = %seg.path.display(),
                valid = seg.size,
                file = file_size,
                "truncating torn or zero-filled tail"
            );
            seg.file.truncate(seg.size).await?;
        }
        if !verify {
            if let Err(e) = crate::durable::replace_all(seg.index_files(dir)).await {
                tracing::warn!(segment = %seg.path.display(), error = %e, "cannot store the rebuilt index");
            }
        }
        let align = seg.file.alignment();
        let tail_start = seg.size - seg.size % align;
        if tail_start < seg.size {
            seg.tail = read(&seg.file, tail_start, (seg.size - tail_start) as usize)
                .await?
                .to_vec();
        }
        Ok(seg)
    }

    /// Scans the whole segment, rebuilding the index, size, next offset and max timestamp.
    async fn rebuild(&mut self, index_interval: u64) -> std::io::Result<()> {
        self.index = OffsetIndex::new();
        self.time_index = TimeIndex::new();
        self.bytes_since_index = 0;
        self.bytes_since_time_entry = 0;
        self.max_timestamp = None;
        self.first_timestamp = None;
        let mut next = self.base_offset;
        let file = self.file.clone();
        let end = scan(&file, 0, self.size, |info, pos| {
            if info.base_offset < next {
                return false;
            }
            self.note_batch(info, pos, index_interval);
            next = info.next_offset();
            true
        })
        .await?;
        self.size = end;
        self.next_offset = next;
        Ok(())
    }

    /// True once the segment is older than `max_age` ms by both its first record's timestamp
    /// and the wall clock since it was opened (`segment.ms`). The second condition keeps
    /// records with old timestamps (a replay of old data) from rolling a segment per write.
    pub fn older_than(&self, max_age: i64, now_ms: i64) -> bool {
        self.first_timestamp
            .is_some_and(|t| now_ms.saturating_sub(t) >= max_age)
            && now_ms.saturating_sub(self.opened_ms) >= max_age
    }

    /// Index and timestamp bookkeeping for one batch at file position `pos`.
    fn note_batch(&mut self, info: &BatchInfo, pos: u64, index_interval: u64) {
        let rel = (info.base_offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        if self.index.is_empty() || self.bytes_since_index >= index_interval {
            self.index.push(rel, pos as u32);
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += info.len as u64;
        self.bytes_since_time_entry += info.len as u64;
        self.next_offset = info.next_offset();
        if self.first_timestamp.is_none() {
            self.first_timestamp = Some(info.max_timestamp);
        }
        if self
            .max_timestamp
            .is_none_or(|(t, _)| info.max_timestamp > t)
        {
            self.max_timestamp = Some((info.max_timestamp, info.base_offset));
            if self.time_index.is_empty() || self.bytes_since_time_entry >= index_interval {
                self.time_index.push(info.max_timestamp, rel);
                self.bytes_since_time_entry = 0;
            }
        }
    }

    /// The `.index` and `.timeindex` files to store, with their contents (the time index ends
    /// with the segment's largest timestamp). Store them with `durable::replace_all`.
    pub fn index_files(&mut self, dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        if let Some((t, o)) = self.max_timestamp {
            let rel = (o - self.base_offset).clamp(0, u32::MAX as i64) as u32;
            self.time_index.push(t, rel);
        }
        vec![
            (
                dir.join(file_name(self.base_offset, "index")),
                self.index.to_bytes(),
            ),
            (
                dir.join(file_name(self.base_offset, "timeindex")),
                self.time_index.to_bytes(),
            ),
        ]
    }

    /// Removes the segment's files (log and indexes), on the blocking pool. The file is retired
    /// first: once closed, it is never reopened by path.
    pub async fn remove_files(&self, dir: &Path) {
        self.file.retire();
        let files = ["log", "index", "timeindex"]
            .map(|ext| dir.join(file_name(self.base_offset, ext)))
            .to_vec();
        super::fault::remove_files(files).await
    }

    /// Opens the segment at `base_offset` after cutting off every batch that ends past `offset`
    /// (a batch holding `offset` goes too): the file is trimmed and synced, its indexes removed
    /// and rebuilt by the scan of the reopened tail.
    pub async fn open_truncated(
        dir: &Path,
        base_offset: i64,
        offset: i64,
        index_interval: u64,
    ) -> std::io::Result<Segment> {
        let path = dir.join(file_name(base_offset, "log"));
        let file = SegmentFile::new(path.clone(), open_rw(&path).await?);
        let size = file.file_size().await?;
        let mut cut = 0u64;
        scan(&file, 0, size, |info, pos| {
            if info.next_offset() > offset {
                return false;
            }
            cut = pos + info.len as u64;
            true
        })
        .await?;
        file.truncate(cut).await?;
        super::fault::fdatasync_segment(dir, &file).await?;
        file.release();
        super::fault::remove_files(vec![
            dir.join(file_name(base_offset, "index")),
            dir.join(file_name(base_offset, "timeindex")),
        ])
        .await;
        Segment::open(dir, base_offset, true, index_interval).await
    }

    /// Records index entries and bookkeeping for batches just written at `pos`.
    pub fn note_written(&mut self, batches: &[(i64, Bytes)], index_interval: u64) {
        let mut pos = self.size;
        for (_, data) in batches {
            if let Some(info) = batch::peek_header(data, 0) {
                self.note_batch(&info, pos, index_interval);
            }
            pos += data.len() as u64;
        }
        let align = self.file.alignment();
        let new_size = pos;
        let tail_start = new_size - new_size % align;
        // The new tail is the last `new_size - tail_start` bytes of the old tail followed by
        // the batches just written: gather them from the end, copying only those bytes.
        let mut need = (new_size - tail_start) as usize;
        let mut parts: Vec<&[u8]> = Vec::new();
        for (_, d) in batches.iter().rev() {
            if need == 0 {
                break;
            }
            let take = need.min(d.len());
            parts.push(&d[d.len() - take..]);
            need -= take;
        }
        let old = &self.tail[self.tail.len() - need.min(self.tail.len())..];
        let mut tail = Vec::with_capacity(align as usize);
        tail.extend_from_slice(old);
        for p in parts.iter().rev() {
            tail.extend_from_slice(p);
        }
        self.tail = tail;
        self.size = new_size;
    }

    /// File offset where a write of new batches starts (the start of the tail block).
    pub fn write_start(&self) -> u64 {
        self.size - self.tail.len() as u64
    }

    /// Position of the batch containing or following `offset`, as far as the index knows.
    pub fn index_lookup(&self, offset: i64) -> u64 {
        let rel = offset
            .saturating_sub(self.base_offset)
            .clamp(0, u32::MAX as i64) as u32;
        self.index.lookup(rel) as u64
    }
}

/// Writes `tail` followed by `batches` at `start` (aligned), padding with zeros.
pub async fn write_batches(
    file: &Rc<SegmentFile>,
    start: u64,
    tail: &[u8],
    batches: &[(i64, Bytes)],
) -> std::io::Result<()> {
    let file = file.get().await?;
    let payload: usize = tail.len() + batches.iter().map(|(_, b)| b.len()).sum::<usize>();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(batches.len() + 1);
    parts.push(tail);
    parts.extend(batches.iter().map(|(_, b)| &b[..]));
    let written = file.write_at(start, &parts).await?;
    if written < payload {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "short direct write",
        ));
    }
    Ok(())
}

/// Reads `len` bytes at `pos` into a `Bytes` (fewer at the end of the file).
pub async fn read(file: &Rc<SegmentFile>, pos: u64, len: usize) -> std::io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    file.get().await?.read_at(pos, len).await
}

/// Walks the valid batches in `[from, limit)`, calling `visit(info, position)` for each one
/// that passes [`validate::stored_batch_ok`] (CRC, header counts, uncompressed records), until
/// `visit` returns false or an invalid batch is met.
/// Returns the position after the last batch visited.
pub async fn scan<F>(
    file: &Rc<SegmentFile>,
    from: u64,
    limit: u64,
    mut visit: F,
) -> std::io::Result<u64>
where
    F: FnMut(&BatchInfo, u64) -> bool,
{
    for_each_batch(file, from, limit, |info, pos, _| visit(info, pos)).await
}

/// Like [`scan`], also handing `visit` the batch's bytes (a slice of the read buffer).
pub async fn for_each_batch<F>(
    file: &Rc<SegmentFile>,
    from: u64,
    limit: u64,
    mut visit: F,
) -> std::io::Result<u64>
where
    F: FnMut(&BatchInfo, u64, Bytes) -> bool,
{
    let mut pos = from;
    while pos < limit {
        let want = ((limit - pos) as usize).min(SCAN_CHUNK);
        let chunk = read(file, pos, want).await?;
        let mut at = 0usize;
        let mut progressed = false;
        while let Some(info) = batch::peek_header(&chunk, at) {
            if !validate::stored_batch_ok(&chunk[at..at + info.len], &info) {
                return Ok(pos + at as u64);
            }
            if !visit(&info, pos + at as u64, chunk.slice(at..at + info.len)) {
                return Ok(pos + at as u64);
            }
            at += info.len;
            progressed = true;
        }
        if !progressed {
            // The next batch does not fit in this chunk: read it whole, if its length is sane.
            match batch::claimed_len(&chunk, at) {
                Some(len) if len >= batch::HEADER_LEN && pos + (len as u64) <= limit => {
                    let whole = read(file, pos, len).await?;
                    match batch::peek_header(&whole, 0) {
                        Some(info) if validate::stored_batch_ok(&whole, &info) => {
                            if !visit(&info, pos, whole.slice(..info.len)) {
                                return Ok(pos);
                            }
                            pos += info.len as u64;
                            continue;
                        }
                        _ => return Ok(pos),
                    }
                }
                _ => return Ok(pos),
            }
        }
        pos += at as u64;
    }
    Ok(pos)
}

/// What recovery keeps of the segment image `buf` (a whole `.log` file starting at
/// `base_offset`): the batches from the start that pass [`validate::stored_batch_ok`] and whose
/// base offsets never go back, as [`Segment::open`] keeps them. Returns the valid length and
/// the next offset. Pure (no I/O): the fuzz target and tests drive recovery's rules through it.
pub fn recover_image(buf: &[u8], base_offset: i64) -> (usize, i64) {
    let mut at = 0;
    let mut next = base_offset;
    while let Some(info) = batch::peek_header(buf, at) {
        if info.base_offset < next || !validate::stored_batch_ok(&buf[at..at + info.len], &info) {
            break;
        }
        next = info.next_offset();
        at += info.len;
    }
    (at, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(42, "log"), "00000000000000000042.log");
        assert_eq!(parse_log_name("00000000000000000042.log"), Some(42));
        assert_eq!(parse_log_name("42.log"), None);
        assert_eq!(parse_log_name("00000000000000000042.index"), None);
    }
}
