//! What the log engine reports to whoever watches it: fsync latencies, failed writes and syncs,
//! partitions going offline, and stored batches that fail their check when read back.
//!
//! The engine knows nothing about metrics. The thread that drives logs (one executor per core)
//! installs an [`Observer`] once ([`install`]); on a thread without one every event is dropped.

use std::cell::OnceCell;
use std::time::Duration;

/// Receives the log engine's events on the thread that produced them.
pub trait Observer {
    /// A data or directory sync finished after `elapsed`.
    fn fsync(&self, elapsed: Duration);
    /// A write or sync of a partition log failed.
    fn storage_error(&self);
    /// A partition log went offline (`1`) or an offline one was dropped (`-1`).
    fn partition_offline(&self, delta: i64);
    /// A read met a stored batch that failed its check.
    fn corrupt_batch_read(&self);
}

thread_local! {
    static OBSERVER: OnceCell<Box<dyn Observer>> = const { OnceCell::new() };
}

/// Makes `o` this thread's observer. A second call on the same thread is ignored.
pub fn install(o: Box<dyn Observer>) {
    let _ = OBSERVER.try_with(|cell| {
        let _ = cell.set(o);
    });
}

fn with(f: impl FnOnce(&dyn Observer)) {
    let _ = OBSERVER.try_with(|cell| {
        if let Some(o) = cell.get() {
            f(o.as_ref())
        }
    });
}

pub(crate) fn fsync(elapsed: Duration) {
    with(|o| o.fsync(elapsed));
}

pub(crate) fn storage_error() {
    with(|o| o.storage_error());
}

pub(crate) fn partition_offline(delta: i64) {
    with(|o| o.partition_offline(delta));
}

pub(crate) fn corrupt_batch_read() {
    with(|o| o.corrupt_batch_read());
}
