//! Sparse offset index of one segment: (relative offset, byte position) pairs.
//!
//! An entry is added every `index_interval` bytes of log. The in-memory copy is authoritative
//! while the broker runs; the `.index` file is written when a segment is rolled or compacted, and is
//! rebuilt from the log whenever it is missing or fails validation.

/// In-memory sparse index for one segment.
#[derive(Debug, Default, Clone)]
pub struct OffsetIndex {
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    /// Empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry; entries must be added in increasing order.
    pub fn push(&mut self, relative_offset: u32, position: u32) {
        if let Some(&(last_off, last_pos)) = self.entries.last() {
            if relative_offset <= last_off || position <= last_pos {
                return;
            }
        }
        self.entries.push((relative_offset, position));
    }

    /// Byte position of the last indexed batch starting at or before `relative_offset` (0 if none).
    pub fn lookup(&self, relative_offset: u32) -> u32 {
        match self.entries.partition_point(|&(o, _)| o <= relative_offset) {
            0 => 0,
            i => self.entries[i - 1].1,
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

    /// Serialises the index (8 bytes per entry, big endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 8);
        for &(o, p) in &self.entries {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&p.to_be_bytes());
        }
        out
    }

    /// Parses an index file, rejecting it unless it is well formed, strictly increasing and
    /// points inside a segment of `segment_size` bytes.
    pub fn from_bytes(data: &[u8], segment_size: u64) -> Option<Self> {
        if !data.len().is_multiple_of(8) {
            return None;
        }
        let mut idx = OffsetIndex::new();
        for c in data.chunks_exact(8) {
            let o = u32::from_be_bytes(c[0..4].try_into().ok()?);
            let p = u32::from_be_bytes(c[4..8].try_into().ok()?);
            if p as u64 >= segment_size {
                return None;
            }
            if let Some(&(lo, lp)) = idx.entries.last() {
                if o <= lo || p <= lp {
                    return None;
                }
            }
            idx.entries.push((o, p));
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_roundtrip() {
        let mut i = OffsetIndex::new();
        i.push(0, 0);
        i.push(10, 4096);
        i.push(25, 9000);
        i.push(20, 9500); // out of order: ignored
        assert_eq!(i.lookup(0), 0);
        assert_eq!(i.lookup(9), 0);
        assert_eq!(i.lookup(10), 4096);
        assert_eq!(i.lookup(24), 4096);
        assert_eq!(i.lookup(1000), 9000);
        let back = OffsetIndex::from_bytes(&i.to_bytes(), 10_000).unwrap();
        assert_eq!(back.len(), 3);
        assert!(OffsetIndex::from_bytes(&i.to_bytes(), 9000).is_none());
        assert!(OffsetIndex::from_bytes(&[1, 2, 3], 100).is_none());
    }
}
