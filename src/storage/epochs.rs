//! The leader-epoch cache of one partition (Kafka's `LeaderEpochFileCache`): for every leader
//! epoch that wrote to the log, the offset of its first batch, kept in `leader-epoch-checkpoint`.
//!
//! The leader stamps its epoch into every batch it appends (`partition_leader_epoch`); the
//! first batch of a new epoch adds an entry. The cache answers OffsetForLeaderEpoch
//! ([`EpochCache::end_offset_for`]: where an epoch's records end) and is cut with the log:
//! from the end by a truncation ([`EpochCache::truncate_from_end`]), from the start by a log
//! start move ([`EpochCache::truncate_from_start`]).
//!
//! The file has Kafka's text layout: a version line (`0`), a count line, then one
//! `epoch start_offset` line per entry, oldest first. It is replaced durably
//! ([`crate::durable`]). A missing, unreadable or inconsistent file (epochs or offsets not
//! increasing, a count that does not match) is rebuilt from the batch headers.

/// The checkpoint file's name in the partition directory.
pub const FILE: &str = "leader-epoch-checkpoint";

/// The file layout's version.
const VERSION: u32 = 0;

/// Kafka's "no epoch" (`UNDEFINED_EPOCH`).
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's "no offset" (`UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_OFFSET: i64 = -1;

/// One epoch and the offset of its first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// The offset of the first batch written in it.
    pub start_offset: i64,
}

/// The epochs of one log, oldest first; epochs and start offsets both strictly increase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochCache {
    entries: Vec<EpochEntry>,
}

impl EpochCache {
    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest epoch, if any batch carried one.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The epoch that wrote `offset`: the newest entry starting at or before it.
    pub fn epoch_for(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.start_offset <= offset)
            .map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`; returns whether the cache changed. An
    /// epoch older than the newest is ignored (Kafka warns and keeps the cache); an entry
    /// whose epoch or start is at or past the new one is replaced by it.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if let Some(last) = self.entries.last() {
            if epoch < last.epoch || (epoch == last.epoch && start_offset >= last.start_offset) {
                return false;
            }
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Removes the entries starting at or after `end_offset` (a log cut back to it); returns
    /// whether the cache changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        self.entries.len() != before
    }

    /// Moves the cache's start to `start_offset` (a log start move): entries before it go,
    /// except the newest of them, whose start becomes `start_offset` (its epoch still covers
    /// the first offsets kept). Returns whether the cache changed.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self
            .entries
            .iter()
            .take_while(|e| e.start_offset < start_offset)
            .count();
        if below == 0 {
            return false;
        }
        let kept = self.entries[below - 1].epoch;
        self.entries.drain(..below);
        if self
            .entries
            .first()
            .is_none_or(|e| e.start_offset > start_offset)
        {
            self.entries.insert(
                0,
                EpochEntry {
                    epoch: kept,
                    start_offset,
                },
            );
        }
        true
    }

    /// Where epoch `requested`'s records end, as Kafka's `endOffsetFor`: the log end offset
    /// `log_end` for the newest epoch; for an older one, the start of the first epoch after
    /// it, paired with the newest epoch at or below it (or `requested` itself when the cache
    /// starts after it: its records were deleted). `(UNDEFINED_EPOCH, UNDEFINED_OFFSET)` for
    /// `-1`, an epoch newer than every known one, or an empty cache.
    pub fn end_offset_for(&self, requested: i32, log_end: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        };
        let floor = self.entries.iter().rev().find(|e| e.epoch <= requested);
        (floor.map_or(requested, |f| f.epoch), higher.start_offset)
    }

    /// The file contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!("{VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            s.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        s.into_bytes()
    }

    /// The cache a file holds, if it is whole and consistent.
    pub fn decode(b: &[u8]) -> Option<EpochCache> {
        let text = std::str::from_utf8(b).ok()?;
        let mut lines = text.lines();
        if lines.next()?.trim().parse::<u32>().ok()? != VERSION {
            return None;
        }
        let count: usize = lines.next()?.trim().parse().ok()?;
        let mut cache = EpochCache::default();
        for _ in 0..count {
            let mut parts = lines.next()?.split_whitespace();
            let epoch: i32 = parts.next()?.parse().ok()?;
            let start_offset: i64 = parts.next()?.parse().ok()?;
            if parts.next().is_some() || epoch < 0 || start_offset < 0 {
                return None;
            }
            if cache
                .entries
                .last()
                .is_some_and(|l| l.epoch >= epoch || l.start_offset >= start_offset)
            {
                return None;
            }
            cache.entries.push(EpochEntry {
                epoch,
                start_offset,
            });
        }
        if lines.any(|l| !l.trim().is_empty()) {
            return None;
        }
        Some(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(pairs: &[(i32, i64)]) -> EpochCache {
        let mut c = EpochCache::default();
        for &(e, o) in pairs {
            assert!(c.assign(e, o), "assign {e} at {o}");
        }
        c
    }

    fn pairs(c: &EpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_keeps_epochs_and_offsets_increasing() {
        let mut c = cache(&[(0, 0), (2, 10)]);
        assert!(!c.assign(2, 15), "same epoch later: nothing new");
        assert!(!c.assign(1, 20), "older epoch ignored");
        assert_eq!(pairs(&c), vec![(0, 0), (2, 10)]);
        // A newer epoch starting at or before existing entries replaces them.
        assert!(c.assign(3, 10));
        assert_eq!(pairs(&c), vec![(0, 0), (3, 10)]);
        assert!(!c.assign(-1, 30));
    }

    #[test]
    fn end_offsets_as_kafka() {
        let c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert_eq!(c.end_offset_for(4, 25), (4, 25), "current epoch: the LEO");
        assert_eq!(c.end_offset_for(3, 25), (3, 20));
        assert_eq!(
            c.end_offset_for(2, 25),
            (1, 10),
            "unknown epoch between: the floor's"
        );
        assert_eq!(c.end_offset_for(1, 25), (1, 10));
        assert_eq!(
            c.end_offset_for(0, 25),
            (0, 5),
            "below the first: its start"
        );
        assert_eq!(c.end_offset_for(5, 25), (-1, -1), "newer than known");
        assert_eq!(
            [4, 5, 9, 10, 30].map(|o| c.epoch_for(o)),
            [None, Some(1), Some(1), Some(3), Some(4)]
        );
        assert_eq!(c.end_offset_for(-1, 25), (-1, -1));
        assert_eq!(EpochCache::default().end_offset_for(0, 0), (-1, -1));
    }

    #[test]
    fn truncation_from_end_and_start() {
        let mut c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert!(!c.truncate_from_end(21));
        assert!(c.truncate_from_end(20));
        assert_eq!(pairs(&c), vec![(1, 5), (3, 10)]);
        assert!(c.truncate_from_end(7));
        assert_eq!(pairs(&c), vec![(1, 5)]);
        let mut c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert!(!c.truncate_from_start(5));
        assert!(c.truncate_from_start(12));
        assert_eq!(pairs(&c), vec![(3, 12), (4, 20)]);
        assert!(c.truncate_from_start(20));
        assert_eq!(pairs(&c), vec![(4, 20)]);
        assert!(c.truncate_from_start(30));
        assert_eq!(pairs(&c), vec![(4, 30)]);
    }

    #[test]
    fn file_roundtrip_and_corruption() {
        let c = cache(&[(0, 0), (2, 10), (7, 1000)]);
        let b = c.encode();
        assert_eq!(b, b"0\n3\n0 0\n2 10\n7 1000\n");
        assert_eq!(EpochCache::decode(&b), Some(c));
        assert_eq!(EpochCache::decode(b"0\n0\n"), Some(EpochCache::default()));
        for bad in [
            &b"0\n3\n0 0\n2 10\n"[..], // torn: fewer entries than counted
            b"1\n1\n0 0\n",            // unknown version
            b"0\n2\n2 10\n1 20\n",     // epochs going back
            b"0\n2\n1 10\n2 10\n",     // offsets not increasing
            b"0\n1\n0 x\n",            // not a number
            b"0\n1\n0 0 0\n",          // extra field
            b"0\n1\n0 0\n5 5\n",       // more lines than counted
            b"",
        ] {
            assert_eq!(
                EpochCache::decode(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
