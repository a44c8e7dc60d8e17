//! The disk seam: every file operation of the log engine goes through [`Disk`] and [`DiskFile`].
//!
//! [`real::RealDisk`] is the production implementation: segment files opened for direct I/O on
//! glommio (io_uring), and small-file and directory operations on the executor's blocking pool.
//! [`sim::SimDisk`] is a deterministic simulated disk for tests: from a seed it delays and
//! reorders I/O, tears writes, loses what was not synced on a simulated power loss, fails syncs,
//! and returns ENOSPC or EIO at chosen points (see `crate::simulation`).
//!
//! A thread uses the disk installed with [`install`], or the real one. The seam is per thread
//! because a log is owned by one executor thread and never leaves it.

pub mod real;
mod replace_batch;
pub mod sim;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;

/// A boxed I/O future of one executor thread.
pub type IoFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + 'a>>;

/// A segment file opened for direct I/O.
pub trait DiskFile {
    /// Identifies the file (a reopened path must name the same file).
    fn inode(&self) -> u64;
    /// Alignment of direct-I/O positions and lengths.
    fn alignment(&self) -> u64;
    /// Writes `parts` back to back at `pos` (a multiple of the alignment), zero-padded up to the
    /// alignment. Returns the bytes written, padding included.
    fn write_at<'a>(&'a self, pos: u64, parts: &'a [&'a [u8]]) -> IoFuture<'a, usize>;
    /// Reads up to `len` bytes at `pos` (fewer at the end of the file).
    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes>;
    /// Makes the file's data (and the size needed to read it) durable.
    fn fdatasync(&self) -> IoFuture<'_, ()>;
    /// Cuts (or extends with zeros) the file to `size`.
    fn truncate(&self, size: u64) -> IoFuture<'_, ()>;
    /// Reserves disk space up to `size`; with `keep_size` the file's size does not change.
    fn pre_allocate(&self, size: u64, keep_size: bool) -> IoFuture<'_, ()>;
    /// The file's size.
    fn file_size(&self) -> IoFuture<'_, u64>;
}

/// The file system the log engine runs on.
pub trait Disk {
    /// Opens `path` read-write for direct I/O, creating it (empty) if `create`.
    fn open(&self, path: &Path, create: bool) -> IoFuture<'_, Rc<dyn DiskFile>>;
    /// Reads a whole small file.
    fn read(&self, path: &Path) -> IoFuture<'_, Vec<u8>>;
    /// Replaces each `(path, contents)` durably: a crash leaves the old or the new contents, and
    /// the new ones survive once this returns (see [`crate::durable`]).
    fn replace_all(&self, files: Vec<(PathBuf, Vec<u8>)>) -> IoFuture<'_, ()>;
    /// Removes the files; a missing one is not an error. The caller syncs the directory.
    fn remove_files(&self, paths: Vec<PathBuf>) -> IoFuture<'_, ()>;
    /// Renames `from` to `to`, replacing `to`. The caller syncs the directory.
    fn rename(&self, from: &Path, to: &Path) -> IoFuture<'_, ()>;
    /// The names of the entries of directory `dir`.
    fn list(&self, dir: &Path) -> IoFuture<'_, Vec<String>>;
    /// Creates `dir` (and its parents) unless it exists, durably. Returns whether it created it.
    fn create_dir_all(&self, dir: &Path) -> IoFuture<'_, bool>;
    /// Makes the entries of directory `dir` durable (new, renamed and removed names).
    fn sync_dir(&self, dir: &Path) -> IoFuture<'_, ()>;
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<dyn Disk>>> = const { RefCell::new(None) };
}

/// Makes `disk` this thread's disk (the simulator installs its own).
pub fn install(disk: Rc<dyn Disk>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(disk));
}

/// This thread's disk: the one installed, or the real one.
pub fn current() -> Rc<dyn Disk> {
    CURRENT.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| Rc::new(real::RealDisk) as Rc<dyn Disk>)
            .clone()
    })
}
