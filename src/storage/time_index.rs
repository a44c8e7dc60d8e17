//! Sparse time index of one segment (`.timeindex`): (timestamp, relative offset) pairs.
//!
//! An entry `(t, o)` says that the batches of the segment up to and including the one starting
//! at relative offset `o` have no timestamp above `t`, and that batch `o` reached `t`. Entries
//! are strictly increasing in both fields, so the last entry holds the segment's largest
//! timestamp and the batch that carries it. A lookup for timestamp `ts` starts scanning after
//! the last entry below `ts`: every batch up to it is too old.
//!
//! Like the offset index, the in-memory copy is authoritative while the broker runs; the file is
//! written when the segment is rolled or compacted, and rebuilt from the log whenever it
//! is missing or invalid.

/// Bytes per entry on disk: i64 timestamp and u32 relative offset, big endian.
const ENTRY_LEN: usize = 12;

/// In-memory sparse time index of one segment.
#[derive(Debug, Default, Clone)]
pub struct TimeIndex {
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// Empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry if it raises the largest timestamp; entries out of order are ignored.
    pub fn push(&mut self, timestamp: i64, relative_offset: u32) {
        if let Some(&(t, o)) = self.entries.last() {
            if timestamp <= t || relative_offset <= o {
                return;
            }
        }
        self.entries.push((timestamp, relative_offset));
    }

    /// The segment's largest timestamp and the relative offset of the first batch carrying it.
    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.last().copied()
    }

    /// Relative offset of the last indexed batch whose timestamp bound is below `ts`.
    pub fn last_before(&self, ts: i64) -> Option<u32> {
        match self.entries.partition_point(|&(t, _)| t < ts) {
            0 => None,
            i => Some(self.entries[i - 1].1),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Serialises the index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for &(t, o) in &self.entries {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&o.to_be_bytes());
        }
        out
    }

    /// Parses an index file, rejecting it unless well formed and strictly increasing.
    pub fn from_bytes(data: &[u8]) -> Option<Self> {
        if !data.len().is_multiple_of(ENTRY_LEN) {
            return None;
        }
        let mut idx = TimeIndex::new();
        for c in data.chunks_exact(ENTRY_LEN) {
            let t = i64::from_be_bytes(c[0..8].try_into().ok()?);
            let o = u32::from_be_bytes(c[8..12].try_into().ok()?);
            if let Some(&(lt, lo)) = idx.entries.last() {
                if t <= lt || o <= lo {
                    return None;
                }
            }
            idx.entries.push((t, o));
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_roundtrip() {
        let mut i = TimeIndex::new();
        i.push(100, 0);
        i.push(90, 5); // not a new maximum: ignored
        i.push(200, 10);
        i.push(300, 20);
        assert_eq!(i.len(), 3);
        assert_eq!(i.last_before(100), None);
        assert_eq!(i.last_before(101), Some(0));
        assert_eq!(i.last_before(250), Some(10));
        assert_eq!(i.last_before(10_000), Some(20));
        assert_eq!(i.last(), Some((300, 20)));
        let back = TimeIndex::from_bytes(&i.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), i.to_bytes());
        assert!(TimeIndex::from_bytes(&[0; 13]).is_none());
        let mut bad = i.to_bytes();
        bad[12] = 0x7f; // the second timestamp now exceeds the third
        assert!(TimeIndex::from_bytes(&bad).is_none());
    }
}
