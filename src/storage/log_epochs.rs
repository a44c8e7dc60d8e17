//! A partition log's leader epochs: the epoch stamped into appended batches (set from above,
//! from the metadata image), the epoch cache kept in `leader-epoch-checkpoint`
//! ([`super::epochs`]), and the lookup OffsetForLeaderEpoch answers from.
//!
//! The checkpoint is loaded when the log opens; a missing or unreadable one is rebuilt from the
//! batch headers. It is then cut to the log as recovered (entries past the log end go: a crash
//! may have lost batches whose epoch was already checkpointed; entries before the log start
//! are moved to it). An append that starts a new epoch marks the cache dirty, and the flusher
//! writes the checkpoint before it writes the batches, so every batch on disk has its epoch in
//! the file. Truncation and log start moves cut the cache and write it again.

use std::rc::Rc;

use super::batch;
use super::epochs::{EpochCache, EpochEntry, FILE};
use super::log::PartitionLog;
use super::segment;

impl PartitionLog {
    /// The leader epoch stamped into the batches appended from now on.
    pub fn leader_epoch(&self) -> i32 {
        self.st.borrow().leader_epoch
    }

    /// Sets the leader epoch stamped into appended batches (the partition's current epoch in
    /// the metadata image). An epoch older than the current one is ignored: epochs in a log
    /// never go back.
    pub fn set_leader_epoch(&self, epoch: i32) {
        let mut st = self.st.borrow_mut();
        if epoch > st.leader_epoch {
            st.leader_epoch = epoch;
        }
    }

    /// The newest epoch in the epoch cache (the epoch of the last batch), if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.st.borrow().epochs.latest_epoch()
    }

    /// The epoch cache's entries, oldest first.
    pub fn epoch_entries(&self) -> Vec<EpochEntry> {
        self.st.borrow().epochs.entries().to_vec()
    }

    /// The leader epoch that wrote `offset` (-1 if the cache has none at or before it).
    pub fn epoch_at(&self, offset: i64) -> i32 {
        self.st.borrow().epochs.epoch_for(offset).unwrap_or(-1)
    }

    /// Where the records of leader epoch `requested` end (OffsetForLeaderEpoch): see
    /// [`EpochCache::end_offset_for`], with the log end offset for the newest epoch.
    pub fn end_offset_for_epoch(&self, requested: i32) -> (i32, i64) {
        let st = self.st.borrow();
        st.epochs.end_offset_for(requested, st.next_offset)
    }

    /// Loads the checkpoint (or rebuilds it from the batch headers) and cuts it to the log.
    pub(super) async fn load_epochs(self: &Rc<Self>) -> std::io::Result<()> {
        let path = self.dir.join(FILE);
        let read = crate::disk::current().read(&path).await.ok();
        let (mut cache, mut dirty) = match read.as_deref().map(EpochCache::decode) {
            Some(Some(cache)) => (cache, false),
            Some(None) => {
                tracing::warn!(path = %path.display(), "unreadable leader-epoch checkpoint; rebuilding it from the log");
                (self.epochs_from_batches().await?, true)
            }
            None => (self.epochs_from_batches().await?, true),
        };
        {
            let mut st = self.st.borrow_mut();
            dirty |= cache.truncate_from_end(st.next_offset);
            dirty |= cache.truncate_from_start(st.log_start);
            st.leader_epoch = st.leader_epoch.max(cache.latest_epoch().unwrap_or(0));
            st.epochs = cache;
            st.epochs_dirty = dirty;
        }
        self.save_epochs().await
    }

    /// The epoch cache the batch headers give, oldest first (a log written before epochs were
    /// stamped gives one entry, epoch 0, at its start). Epochs never go back in a log, so a
    /// closed segment whose first batch has the epoch of the next segment's first batch holds
    /// only that epoch: its first header is read, not the whole segment (a log from before
    /// epochs reads one header per closed segment, and scans its tail).
    async fn epochs_from_batches(&self) -> std::io::Result<EpochCache> {
        let (start, segs) = {
            let st = self.st.borrow();
            let segs: Vec<_> = st
                .segments
                .iter()
                .filter(|s| s.next_offset > st.log_start)
                .map(|s| (s.file.clone(), s.index_lookup(st.log_start), s.size))
                .collect();
            (st.log_start, segs)
        };
        let mut firsts = Vec::with_capacity(segs.len());
        for (file, from, size) in &segs {
            let first = if from + batch::HEADER_LEN as u64 <= *size {
                let head = segment::read(file, *from, batch::HEADER_LEN).await?;
                batch::peek_header(&head, 0).map(|h| (h.base_offset, batch::leader_epoch(&head)))
            } else {
                None
            };
            firsts.push(first);
        }
        let mut cache = EpochCache::default();
        for (i, (file, from, size)) in segs.iter().enumerate() {
            match (firsts[i], firsts.get(i + 1).copied().flatten()) {
                (Some((base, epoch)), Some((_, next_epoch))) if epoch == next_epoch => {
                    cache.assign(epoch, base.max(start));
                }
                _ => {
                    segment::for_each_batch(file, *from, *size, |info, _, data| {
                        if info.next_offset() > start {
                            cache.assign(batch::leader_epoch(&data), info.base_offset.max(start));
                        }
                        true
                    })
                    .await?;
                }
            }
        }
        Ok(cache)
    }

    /// Writes the checkpoint durably if the cache changed since it was last written.
    pub(super) async fn save_epochs(&self) -> std::io::Result<()> {
        if !self.st.borrow().epochs_dirty {
            return Ok(());
        }
        let _turn = self
            .epochs_lock
            .acquire_permit(1)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let contents = {
            let mut st = self.st.borrow_mut();
            if !st.epochs_dirty {
                return Ok(());
            }
            st.epochs_dirty = false;
            st.epochs.encode()
        };
        let r = crate::durable::replace(self.dir.join(FILE), contents).await;
        if r.is_err() {
            self.st.borrow_mut().epochs_dirty = true;
        }
        r
    }
}

#[cfg(test)]
mod tests;
