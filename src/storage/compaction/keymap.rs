//! The cleaner's key map: for every key seen in the dirty part of a log, the offset of its
//! newest record. Keys are stored as 128-bit hashes (two independently seeded SipHash values),
//! so the map's memory is bounded by the number of keys, not by their size.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Approximate bytes one entry costs (hash, offset and table overhead).
pub const ENTRY_BYTES: usize = 40;

/// Newest offset per key hash.
pub struct KeyMap {
    seeds: (RandomState, RandomState),
    latest: HashMap<u128, i64>,
    capacity: usize,
}

impl KeyMap {
    /// A map that holds at most about `memory` bytes.
    pub fn with_memory(memory: usize) -> KeyMap {
        KeyMap {
            seeds: (RandomState::new(), RandomState::new()),
            latest: HashMap::new(),
            capacity: (memory / ENTRY_BYTES).max(1024),
        }
    }

    fn hash(&self, key: &[u8]) -> u128 {
        let a = self.seeds.0.hash_one(key) as u128;
        let b = self.seeds.1.hash_one(key) as u128;
        (a << 64) | b
    }

    /// Records that `key` has a record at `offset` (offsets arrive in increasing order).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        let h = self.hash(key);
        let e = self.latest.entry(h).or_insert(offset);
        if *e < offset {
            *e = offset;
        }
    }

    /// Newest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(&self.hash(key)).copied()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// True once the map holds as many keys as its memory allows.
    pub fn is_full(&self) -> bool {
        self.latest.len() >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_offset_wins() {
        let mut m = KeyMap::with_memory(1 << 20);
        m.put(b"a", 1);
        m.put(b"b", 2);
        m.put(b"a", 5);
        assert_eq!(m.get(b"a"), Some(5));
        assert_eq!(m.get(b"b"), Some(2));
        assert_eq!(m.get(b"c"), None);
        assert_eq!(m.len(), 2);
        assert!(!m.is_full());
    }
}
