//! Storage faults that must not vanish: failed fsyncs, and the blocking file-system calls that
//! run off the executor threads.
//!
//! A failed `fsync`/`fdatasync` is not like a failed write. After a failed write nothing was
//! acknowledged and the log can be cut back and go on (disk full). After a failed sync the
//! kernel may already have dropped the dirty pages and marked them clean, so a later sync can
//! succeed without the data ever reaching the disk (the PostgreSQL "fsyncgate" of 2018). Every
//! sync in the storage engine therefore goes through [`fdatasync`] or [`sync_dir`], which tag
//! their errors as [`SyncFailed`]; a partition log that sees one goes offline until restart
//! (see `PartitionLog::go_offline`).
//!
//! The engine's file operations go through the thread's disk ([`crate::disk`]); the real disk
//! runs blocking calls (`std::fs`, directory fsyncs) on the executor's blocking thread pool via
//! [`blocking`], so that a slow disk stalls no executor.
//!
//! Test-only fault injection: in debug builds (never in release builds) the environment
//! variable `RUNNEL_FAULT_FSYNC_FAIL=<dir-name>:<n>` makes the `n`-th (1-based) segment
//! fdatasync of the partition directory named `<dir-name>` (for example `orders-0`) fail with
//! EIO. tests/fsync_failure.rs uses it.

use std::io;
use std::path::{Path, PathBuf};

use crate::disk::{self, DiskFile};

/// The payload of an `io::Error` raised by a failed fsync or fdatasync: the data it should
/// have made durable is in an unknown state.
#[derive(Debug)]
pub struct SyncFailed {
    /// What was being synced.
    pub what: String,
    /// The error the kernel returned.
    pub source: io::Error,
}

impl std::fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fsync of {} failed: {}", self.what, self.source)
    }
}

impl std::error::Error for SyncFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Tags `e`, returned by a sync of `what`, as a [`SyncFailed`].
pub fn sync_failed(what: &Path, e: io::Error) -> io::Error {
    if is_sync_failure(&e) {
        return e;
    }
    io::Error::new(
        e.kind(),
        SyncFailed {
            what: what.display().to_string(),
            source: e,
        },
    )
}

/// True when `e` came from a failed fsync or fdatasync.
pub fn is_sync_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|r| r.is::<SyncFailed>())
}

/// Runs `f` on the executor's blocking thread pool and returns its result, so that blocking
/// file-system calls never stall the executor thread.
pub async fn blocking<R, F>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    glommio::executor().spawn_blocking(f).await
}

/// fdatasyncs a segment file of the partition in `dir`; an error is a [`SyncFailed`].
pub async fn fdatasync(dir: &Path, file: &dyn DiskFile) -> io::Result<()> {
    let result = match injected_fault(dir) {
        Some(e) => Err(e),
        None => file.fdatasync().await,
    };
    result.map_err(|e| sync_failed(dir, e))
}

/// [`fdatasync`] of a segment file held through the per-core descriptor cache.
pub async fn fdatasync_segment(
    dir: &Path,
    file: &std::rc::Rc<super::open_files::SegmentFile>,
) -> io::Result<()> {
    let f = file.get().await?;
    fdatasync(dir, f.as_ref()).await
}

/// fsyncs a directory so that new, renamed or removed entries survive a crash, through this
/// thread's disk; an error is a [`SyncFailed`].
pub async fn sync_dir(dir: &Path) -> io::Result<()> {
    disk::current()
        .sync_dir(dir)
        .await
        .map_err(|e| sync_failed(dir, e))
}

/// [`sync_dir`] on the calling thread, for startup code and tools that run outside an
/// executor.
pub fn sync_dir_blocking(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| sync_failed(dir, e))
}

/// Removes the files in `paths` through this thread's disk; a missing file is not an error,
/// any other error is logged (the caller syncs the directory afterwards).
pub async fn remove_files(paths: Vec<PathBuf>) {
    if let Err(e) = disk::current().remove_files(paths).await {
        tracing::warn!(error = %e, "cannot remove files");
    }
}

#[cfg(debug_assertions)]
fn injected_fault(dir: &Path) -> Option<io::Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let target = TARGET.get_or_init(|| {
        let v = std::env::var("RUNNEL_FAULT_FSYNC_FAIL").ok()?;
        let (name, n) = v.rsplit_once(':')?;
        let n = n.parse().ok()?;
        tracing::warn!(
            dir = name,
            n,
            "TEST FAULT INJECTION armed: a segment fdatasync will fail"
        );
        Some((name.to_string(), n))
    });
    let (name, n) = target.as_ref()?;
    if dir.file_name().is_none_or(|d| d != name.as_str()) {
        return None;
    }
    let seen = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
    (seen == *n).then(|| io::Error::from_raw_os_error(libc::EIO))
}

#[cfg(not(debug_assertions))]
fn injected_fault(_dir: &Path) -> Option<io::Error> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_failures_are_recognised() {
        let e = sync_failed(Path::new("/x"), io::Error::from_raw_os_error(libc::EIO));
        assert!(is_sync_failure(&e));
        assert!(e.to_string().contains("/x"));
        assert!(!is_sync_failure(&io::Error::from_raw_os_error(
            libc::ENOSPC
        )));
        let again = sync_failed(Path::new("/y"), e);
        assert!(again.to_string().contains("/x"));
    }
}
