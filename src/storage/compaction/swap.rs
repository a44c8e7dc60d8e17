//! Rewriting one closed segment for compaction and swapping it in, crash-safely.
//!
//! The cleaned copy is written to `<base>.log.cleaned` with the same aligned direct writes as
//! the live log, synced and trimmed. The swap then removes the segment's index files and renames
//! the copy over `<base>.log` (an atomic replace) before the directory is synced, all on the
//! blocking pool; only then does the in-memory segment list take the new copy, if the segment
//! is still there (DeleteRecords may have removed it meanwhile). A crash before the rename
//! leaves a `.cleaned` file that startup removes; a crash after it leaves the new log without
//! indexes, which startup rebuilds. Readers holding the old file keep reading the old data until
//! they finish.

use std::path::Path;

use bytes::Bytes;

use super::filter::{Outcome, Rules};
use super::SegRef;
use crate::log::{sync_dir, PartitionLog};
use crate::segment::{self, Segment};
use crate::{batch, fault};

/// Bytes of kept batches gathered before each write of the cleaned copy.
const WRITE_CHUNK: usize = 1 << 20;

/// Removes what an interrupted compaction or file replacement left in `dir` (`*.cleaned` and
/// `*.tmp` files). Called when a log opens.
pub(crate) async fn remove_leftovers(dir: &Path) {
    let names = crate::disk::current().list(dir).await.unwrap_or_default();
    let leftovers: Vec<_> = names
        .iter()
        .filter(|n| n.ends_with(".cleaned") || n.ends_with(".tmp"))
        .map(|n| dir.join(n))
        .collect();
    for p in &leftovers {
        tracing::info!(path = %p.display(), "removing unfinished file");
    }
    if !leftovers.is_empty() {
        fault::remove_files(leftovers).await;
    }
}

impl PartitionLog {
    /// Rewrites segment `s` under `rules`. Returns the new size when the segment changed,
    /// `None` when it was left as it is.
    pub(super) async fn clean_segment(
        &self,
        s: &SegRef,
        rules: &Rules<'_>,
        index_interval: u64,
    ) -> std::io::Result<Option<u64>> {
        let tmp = self
            .dir
            .join(format!("{}.cleaned", segment::file_name(s.base, "log")));
        let mut out = Segment::create_at(tmp.clone(), s.base).await?;
        let result = self.copy_kept(s, rules, &mut out, index_interval).await;
        let changed = match result {
            Ok(changed) => changed,
            Err(e) => {
                fault::remove_files(vec![tmp]).await;
                return Err(e);
            }
        };
        if !changed {
            fault::remove_files(vec![tmp]).await;
            return Ok(None);
        }
        // Trimmed to its data before the sync, so that the trim is durable too: a segment opened
        // after a power loss must not end in zero padding that reads as a corrupt batch.
        out.file.truncate(out.size).await?;
        fault::fdatasync_segment(&self.dir, &out.file).await?;
        self.swap_in(s, out, &tmp).await
    }

    /// Copies the batches of `s` that survive into `out`. Returns whether anything changed.
    async fn copy_kept(
        &self,
        s: &SegRef,
        rules: &Rules<'_>,
        out: &mut Segment,
        index_interval: u64,
    ) -> std::io::Result<bool> {
        let mut changed = false;
        let mut pos = 0u64;
        loop {
            let mut kept: Vec<(i64, Bytes)> = Vec::new();
            let mut gathered = 0usize;
            let stop = segment::for_each_batch(&s.file, pos, s.size, |info, _, data| {
                if gathered >= WRITE_CHUNK {
                    return false;
                }
                gathered += data.len();
                match rules.apply(info, &data) {
                    Outcome::Keep => kept.push((info.base_offset, data)),
                    Outcome::Drop => changed = true,
                    Outcome::Rewrite(new) => {
                        changed = true;
                        let mut at = 0;
                        while let Some(b) = batch::peek_header(&new, at) {
                            kept.push((b.base_offset, new.slice(at..at + b.len)));
                            at += b.len;
                        }
                    }
                }
                true
            })
            .await?;
            if !kept.is_empty() {
                segment::write_batches(&out.file, out.write_start(), &out.tail, &kept).await?;
                out.note_written(&kept, index_interval);
            }
            if stop == pos || stop >= s.size {
                pos = stop;
                break;
            }
            pos = stop;
            glommio::yield_if_needed().await;
        }
        if pos < s.size {
            // Only alignment padding may follow the last batch; anything else is damage, and
            // the segment is left as it is rather than losing what follows.
            let rest = segment::read(&s.file, pos, (s.size - pos).min(1 << 16) as usize).await?;
            if s.size - pos > 1 << 16 || rest.iter().any(|&b| b != 0) {
                tracing::warn!(dir = %self.dir.display(), base = s.base, at = pos, "unreadable batch in closed segment; not compacting it");
                return Ok(false);
            }
        }
        Ok(changed)
    }

    /// Where segment `s` is in the segment list, if it is still there.
    fn position_of(&self, s: &SegRef) -> Option<usize> {
        let st = self.st.borrow();
        st.segments
            .iter()
            .position(|x| x.base_offset == s.base && std::rc::Rc::ptr_eq(&x.file, &s.file))
    }

    /// Puts the cleaned copy in place of segment `s`, unless retention removed `s` meanwhile.
    /// Returns the new size, `None` when nothing was swapped.
    async fn swap_in(
        &self,
        s: &SegRef,
        mut out: Segment,
        tmp: &Path,
    ) -> std::io::Result<Option<u64>> {
        if self.position_of(s).is_none() {
            fault::remove_files(vec![tmp.to_path_buf()]).await;
            return Ok(None);
        }
        let log_path = self.dir.join(segment::file_name(s.base, "log"));
        if out.size == 0 {
            // Nothing left: the segment goes (offsets in it had no surviving records).
            let seg = self
                .position_of(s)
                .map(|i| self.st.borrow_mut().segments.remove(i));
            if let Some(seg) = seg {
                seg.remove_files(&self.dir).await;
            }
            fault::remove_files(vec![tmp.to_path_buf()]).await;
            sync_dir(&self.dir).await?;
            return Ok(Some(0));
        }
        let stale = ["index", "timeindex"]
            .map(|ext| self.dir.join(segment::file_name(s.base, ext)))
            .to_vec();
        let renamed = async {
            let disk = crate::disk::current();
            fault::remove_files(stale).await;
            if let Err(e) = disk.rename(tmp, &log_path).await {
                fault::remove_files(vec![tmp.to_path_buf()]).await;
                return Err(e);
            }
            fault::sync_dir(&self.dir).await
        }
        .await;
        if let Err(e) = renamed {
            if fault::is_sync_failure(&e) {
                return Err(e);
            }
            tracing::warn!(path = %tmp.display(), error = %e, "cannot swap in compacted segment");
            // The old segment keeps serving; its indexes were removed and are stored again.
            let files = self
                .position_of(s)
                .map(|i| self.st.borrow_mut().segments[i].index_files(&self.dir));
            if let Some(files) = files {
                let _ = crate::durable::replace_all(files).await;
            }
            return Ok(None);
        }
        out.file.set_path(log_path.clone());
        out.path = log_path;
        out.next_offset = out.next_offset.max(s.next);
        out.reserved = out.size;
        let size = out.size;
        let files = out.index_files(&self.dir);
        match self.position_of(s) {
            Some(idx) => self.st.borrow_mut().segments[idx] = out,
            None => {
                // Deleted (DeleteRecords) while the copy was renamed: its file goes too.
                out.remove_files(&self.dir).await;
                return Ok(None);
            }
        }
        if let Err(e) = crate::durable::replace_all(files).await {
            if fault::is_sync_failure(&e) {
                return Err(e);
            }
            tracing::warn!(error = %e, "cannot store indexes of compacted segment (rebuilt at startup)");
        }
        Ok(Some(size))
    }
}
