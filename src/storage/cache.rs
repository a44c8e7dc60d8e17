//! The per-core cache of recently written batches, served to Fetch as `Bytes` slices.
//!
//! Every log of a core shares one byte budget; a log evicts its own oldest batches (only those
//! already on disk) while the core is over budget.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;

/// Bytes of recent batches a core keeps in memory, shared by all logs of the core.
#[derive(Debug)]
pub struct CacheBudget {
    limit: usize,
    used: Cell<usize>,
    /// Bytes of windows read ahead for consumers reading from disk (at most a quarter of
    /// `limit`, counted apart so that a full cache does not stop read-ahead).
    ahead: Cell<usize>,
}

impl CacheBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Rc<Self> {
        Rc::new(CacheBudget {
            limit,
            used: Cell::new(0),
            ahead: Cell::new(0),
        })
    }
}

impl CacheBudget {
    /// Accounts `n` more cached bytes.
    pub fn add(&self, n: usize) {
        self.used.set(self.used.get() + n);
    }
    /// Accounts `n` bytes evicted.
    pub fn remove(&self, n: usize) {
        self.used.set(self.used.get().saturating_sub(n));
    }
    /// Bytes accounted now.
    pub fn used(&self) -> usize {
        self.used.get()
    }
    /// Reserves `n` bytes for a window read ahead; false when the core's read-ahead share
    /// (a quarter of the budget) is taken.
    pub fn reserve_ahead(&self, n: usize) -> bool {
        let now = self.ahead.get() + n;
        if now > self.limit / 4 {
            return false;
        }
        self.ahead.set(now);
        true
    }
    /// Gives back `n` bytes reserved with [`CacheBudget::reserve_ahead`].
    pub fn release_ahead(&self, n: usize) {
        self.ahead.set(self.ahead.get().saturating_sub(n));
    }
    /// Bytes reserved for windows read ahead now.
    pub fn ahead_used(&self) -> usize {
        self.ahead.get()
    }
    /// True while the core caches more than its budget.
    pub fn over(&self) -> bool {
        self.used.get() > self.limit
    }
}

/// One cached batch, with its offsets already assigned.
pub struct CachedBatch {
    /// Base offset.
    pub base: i64,
    /// Offset following the batch.
    pub next: i64,
    /// The batch bytes.
    pub data: Bytes,
}

/// Whole batches from `cache` starting with the one containing `offset`, below `hwm`, at most
/// `max_bytes` except that the first batch is always included.
pub fn read_cache(
    cache: &VecDeque<CachedBatch>,
    offset: i64,
    max_bytes: usize,
    hwm: i64,
) -> Vec<Bytes> {
    let mut i = cache.partition_point(|b| b.next <= offset);
    let mut out = Vec::new();
    let mut total = 0usize;
    while i < cache.len() {
        let b = &cache[i];
        if b.base >= hwm {
            break;
        }
        if !out.is_empty() && total + b.data.len() > max_bytes {
            break;
        }
        total += b.data.len();
        out.push(b.data.clone());
        i += 1;
    }
    out
}
