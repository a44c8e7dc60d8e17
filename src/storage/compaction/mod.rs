//! Log compaction: keeping only the newest record of every key in the closed segments of a
//! topic with `cleanup.policy=compact`.
//!
//! A pass runs on the core that owns the partition, when the dirty share of the cleanable
//! segments (those past the cleaner's checkpoint) reaches `min.cleanable.dirty.ratio`, or when a
//! dirty segment is older than `max.compaction.lag.ms`:
//!
//! 1. The cleanable range is the closed segments below the last stable offset whose records are
//!    all older than `min.compaction.lag.ms`. The active segment is never touched.
//! 2. A [`keymap::KeyMap`] records the newest offset of every key in the dirty part, covering as
//!    many dirty segments as `log.cleaner.dedupe.buffer.size` allows.
//! 3. Each segment of the range is rewritten ([`swap`]) keeping the records that are the newest
//!    of their key, tombstones younger than `delete.retention.ms`, records without a key, and
//!    transaction markers; records of aborted transactions go. Offsets never change.
//! 4. The checkpoint moves to the end of the range.

mod filter;
mod keymap;
mod swap;
#[cfg(test)]
mod tests;

pub(super) use swap::remove_leftovers;

use std::cell::Cell;
use std::rc::Rc;

use super::checkpoint;
use super::log::PartitionLog;
use super::open_files::SegmentFile;
use super::segment;
use filter::{for_each_key, in_aborted_txn, Rules};
use keymap::KeyMap;

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments rewritten or removed.
    pub segments_cleaned: usize,
    /// Bytes of the range before the pass.
    pub bytes_before: u64,
    /// Bytes of the range after the pass.
    pub bytes_after: u64,
    /// Keys in the key map.
    pub keys: usize,
}

/// A closed segment as the cleaner sees it when the pass starts.
pub(super) struct SegRef {
    pub(super) base: i64,
    pub(super) next: i64,
    pub(super) size: u64,
    pub(super) file: Rc<SegmentFile>,
}

impl PartitionLog {
    /// Runs one compaction pass if the log is compacted and due, using at most about `memory`
    /// bytes for the key map. `None` when there was nothing to do. A failed sync takes the log
    /// offline.
    pub async fn compact(
        self: &Rc<Self>,
        now_ms: i64,
        memory: usize,
    ) -> std::io::Result<Option<CleanStats>> {
        let r = self.compact_pass(now_ms, memory).await;
        self.offline_on_sync_failure(r)
    }

    async fn compact_pass(
        self: &Rc<Self>,
        now_ms: i64,
        memory: usize,
    ) -> std::io::Result<Option<CleanStats>> {
        let cfg = self.config();
        if !cfg.compact {
            return Ok(None);
        }
        let (segs, aborted, clean_until) = {
            let st = self.st.borrow();
            if st.closed || st.error.is_some() || st.offline.is_some() || st.segments.len() < 2 {
                return Ok(None);
            }
            let lso = st.last_stable_offset();
            let lag_limit = now_ms.saturating_sub(cfg.min_compaction_lag_ms);
            let closed = &st.segments[..st.segments.len() - 1];
            let cleanable: Vec<_> = closed
                .iter()
                .take_while(|s| {
                    s.next_offset <= lso && s.max_timestamp.is_none_or(|(t, _)| t <= lag_limit)
                })
                .collect();
            let total: u64 = cleanable.iter().map(|s| s.size).sum();
            let dirty: Vec<_> = cleanable
                .iter()
                .filter(|s| s.next_offset > st.clean_until)
                .collect();
            let dirty_bytes: u64 = dirty.iter().map(|s| s.size).sum();
            let overdue = dirty.iter().any(|s| {
                s.max_timestamp
                    .is_some_and(|(t, _)| now_ms.saturating_sub(t) >= cfg.max_compaction_lag_ms)
            });
            // Tombstones kept by an earlier pass make the log due once their time is up.
            let tombstones_due = st.tombstones_due.is_some_and(|t| t <= now_ms);
            let ratio_due = !dirty.is_empty()
                && ((dirty_bytes as f64) >= cfg.min_cleanable_ratio * total as f64 || overdue);
            if cleanable.is_empty() || !(ratio_due || tombstones_due) {
                return Ok(None);
            }
            let segs: Vec<SegRef> = cleanable
                .iter()
                .map(|s| SegRef {
                    base: s.base_offset,
                    next: s.next_offset,
                    size: s.size,
                    file: s.file.clone(),
                })
                .collect();
            (segs, st.producers.aborted().to_vec(), st.clean_until)
        };
        // The key map over the dirty segments, as many as fit in memory.
        let mut keys = KeyMap::with_memory(memory);
        let mut covered = 0;
        for (i, s) in segs.iter().enumerate() {
            if s.next > clean_until {
                if keys.is_full() {
                    break;
                }
                segment::for_each_batch(&s.file, 0, s.size, |info, _, data| {
                    if info.is_control()
                        || in_aborted_txn(&aborted, info)
                        || info.next_offset() <= clean_until
                    {
                        return true;
                    }
                    for_each_key(&data, info, |k, o| {
                        if o >= clean_until {
                            keys.put(k, o)
                        }
                    });
                    true
                })
                .await?;
                glommio::yield_if_needed().await;
            }
            covered = i + 1;
        }
        if covered == 0 {
            return Ok(None);
        }
        let upto = segs[covered - 1].next;
        let rules = Rules {
            keys: &keys,
            aborted: &aborted,
            clean_until,
            tombstone_horizon: now_ms.saturating_sub(cfg.delete_retention_ms),
            delete_retention_ms: cfg.delete_retention_ms,
            next_tombstone_due: Cell::new(None),
        };
        let mut stats = CleanStats {
            keys: keys.len(),
            ..CleanStats::default()
        };
        for s in &segs[..covered] {
            stats.bytes_before += s.size;
            match self
                .clean_segment(s, &rules, cfg.index_interval_bytes)
                .await?
            {
                Some(after) => {
                    stats.segments_cleaned += 1;
                    stats.bytes_after += after;
                }
                None => stats.bytes_after += s.size,
            }
            glommio::yield_if_needed().await;
        }
        checkpoint::write(&self.dir, checkpoint::CLEANER, upto).await?;
        {
            let mut st = self.st.borrow_mut();
            st.clean_until = st.clean_until.max(upto);
            st.tombstones_due = rules.next_tombstone_due.get();
            // Cached copies of the range would still show the records compaction removed.
            self.drop_cached_below(&mut st, upto);
        }
        tracing::debug!(dir = %self.dir.display(), ?stats, clean_until = upto, "compacted");
        Ok(Some(stats))
    }

    /// The cleaner's checkpoint: offsets below it have been through a compaction pass.
    pub fn cleaned_until(&self) -> i64 {
        self.st.borrow().clean_until
    }
}
