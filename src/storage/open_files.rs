//! Segment files whose descriptors are opened on demand and kept in a per-core LRU.
//!
//! Every segment of every partition is a [`SegmentFile`], but only the most recently used
//! `runnel.log.open.files.per.core` of a core hold an open descriptor: using one more closes
//! the least recently used. A closed one is reopened (by path, read-write, never created) on its
//! next read or write, and the reopened file must be the same inode as before: a segment
//! replaced by compaction or deleted by retention is never reopened under its old identity, the
//! read fails instead (the client retries). Busy partitions keep their active segment open, so
//! the produce and fetch paths only pay a map lookup; idle partitions and old segments hold no
//! descriptor at all.
//!
//! A descriptor in use (an I/O in flight holds an `Rc` of it) stays open until that I/O ends,
//! even if the LRU has let it go.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use crate::disk::{self, DiskFile};

/// Descriptors a core keeps open unless told otherwise ([`set_capacity`]).
pub const DEFAULT_CAPACITY: usize = 1024;

/// The per-core LRU of open segment files.
struct Lru {
    capacity: usize,
    /// Use stamp -> file id, oldest first.
    by_stamp: BTreeMap<u64, u64>,
    /// File id -> (use stamp, file).
    files: HashMap<u64, (u64, Weak<SegmentFile>)>,
    next_stamp: u64,
}

thread_local! {
    static LRU: RefCell<Lru> = RefCell::new(Lru {
        capacity: DEFAULT_CAPACITY,
        by_stamp: BTreeMap::new(),
        files: HashMap::new(),
        next_stamp: 0,
    });
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// Sets how many segment files this core keeps open (`runnel.log.open.files.per.core`).
pub fn set_capacity(n: usize) {
    let _ = LRU.try_with(|l| l.borrow_mut().capacity = n.max(1));
}

/// Forgets every file of this thread and sets the capacity to `n`: the simulation starts each
/// seed from the same state, so that evictions (and so reopens) depend on the seed alone.
pub fn reset(n: usize) {
    let _ = LRU.try_with(|l| {
        let mut l = l.borrow_mut();
        l.by_stamp.clear();
        l.files.clear();
        l.next_stamp = 0;
        l.capacity = n.max(1);
    });
}

/// Segment files of this core holding a descriptor now (as the LRU counts them).
pub fn open_count() -> usize {
    LRU.try_with(|l| l.borrow().files.len()).unwrap_or(0)
}

impl Lru {
    /// Marks `id` used now; returns files to close when over capacity.
    fn touch(&mut self, id: u64, file: &Rc<SegmentFile>) -> Vec<Rc<SegmentFile>> {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        match self.files.get_mut(&id) {
            Some((old, _)) => {
                // Recently used files are left where they are: cheap on the hot path.
                if stamp - *old < (self.capacity as u64 / 4).max(1) {
                    return Vec::new();
                }
                self.by_stamp.remove(old);
                *old = stamp;
            }
            None => {
                self.files.insert(id, (stamp, Rc::downgrade(file)));
            }
        }
        self.by_stamp.insert(stamp, id);
        let mut evicted = Vec::new();
        while self.files.len() > self.capacity {
            let Some((_, victim)) = self.by_stamp.pop_first() else {
                break;
            };
            if let Some((_, w)) = self.files.remove(&victim) {
                if let Some(f) = w.upgrade() {
                    evicted.push(f);
                }
            }
        }
        evicted
    }

    fn forget(&mut self, id: u64) {
        if let Some((stamp, _)) = self.files.remove(&id) {
            self.by_stamp.remove(&stamp);
        }
    }
}

/// One segment file; its descriptor is open while it is among the core's recently used files.
pub struct SegmentFile {
    id: u64,
    path: RefCell<PathBuf>,
    inode: u64,
    alignment: u64,
    open: RefCell<Option<Rc<dyn DiskFile>>>,
    /// The file was deleted: never reopen it.
    retired: Cell<bool>,
    /// Byte ranges a fetch has verified since the file was opened ([`super::verify`]).
    verified: RefCell<super::verify::Verified>,
}

/// Opens `path` read-write for direct I/O on this thread's disk, creating it if `create`.
pub async fn open_dma(path: &Path, create: bool) -> io::Result<Rc<dyn DiskFile>> {
    disk::current().open(path, create).await
}

impl SegmentFile {
    /// Wraps a file just opened at `path`; it counts as recently used.
    pub fn new(path: PathBuf, file: Rc<dyn DiskFile>) -> Rc<SegmentFile> {
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        let f = Rc::new(SegmentFile {
            id,
            path: RefCell::new(path),
            inode: file.inode(),
            alignment: file.alignment(),
            open: RefCell::new(Some(file)),
            retired: Cell::new(false),
            verified: RefCell::new(super::verify::Verified::default()),
        });
        f.touch();
        f
    }

    /// The byte ranges of this file verified by fetches so far.
    pub fn verified(&self) -> &RefCell<super::verify::Verified> {
        &self.verified
    }

    fn touch(self: &Rc<Self>) {
        let evicted = LRU
            .try_with(|l| l.borrow_mut().touch(self.id, self))
            .unwrap_or_default();
        for f in evicted {
            f.open.borrow_mut().take();
        }
    }

    /// The open file, reopening it if the LRU closed it.
    pub async fn get(self: &Rc<Self>) -> io::Result<Rc<dyn DiskFile>> {
        if let Some(f) = self.open.borrow().clone() {
            self.touch();
            return Ok(f);
        }
        let path = self.path.borrow().clone();
        let replaced = || {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("segment {} was replaced or deleted", path.display()),
            )
        };
        if self.retired.get() {
            return Err(replaced());
        }
        let file = open_dma(&path, false).await?;
        if file.inode() != self.inode || self.retired.get() {
            return Err(replaced());
        }
        // Another task may have reopened it meanwhile: keep one descriptor.
        let f = {
            let mut open = self.open.borrow_mut();
            open.get_or_insert(file).clone()
        };
        self.touch();
        Ok(f)
    }

    /// Whether a descriptor is open now.
    pub fn is_open(&self) -> bool {
        self.open.borrow().is_some()
    }

    /// The file's direct-I/O alignment.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Records that the file was renamed to `path` (a compacted copy swapped in).
    pub fn set_path(&self, path: PathBuf) {
        *self.path.borrow_mut() = path;
    }

    /// fdatasync.
    pub async fn fdatasync(self: &Rc<Self>) -> io::Result<()> {
        self.get().await?.fdatasync().await
    }

    /// Truncates (or extends) the file to `size`.
    pub async fn truncate(self: &Rc<Self>, size: u64) -> io::Result<()> {
        self.get().await?.truncate(size).await
    }

    /// Reserves disk space up to `size` (fallocate).
    pub async fn pre_allocate(self: &Rc<Self>, size: u64, keep_size: bool) -> io::Result<()> {
        self.get().await?.pre_allocate(size, keep_size).await
    }

    /// The file's size on disk.
    pub async fn file_size(self: &Rc<Self>) -> io::Result<u64> {
        self.get().await?.file_size().await
    }

    /// The file is being deleted: once closed it is never reopened (its path may be reused).
    /// A descriptor open now stays open for the readers that still hold the file.
    pub fn retire(&self) {
        self.retired.set(true);
    }

    /// Closes the descriptor now (it is reopened on the next use).
    pub fn release(&self) {
        self.open.borrow_mut().take();
        let _ = LRU.try_with(|l| l.borrow_mut().forget(self.id));
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        let _ = LRU.try_with(|l| l.borrow_mut().forget(self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_closes_the_least_recently_used_and_reopens_on_use() {
        glommio::LocalExecutor::default().run(async {
            set_capacity(2);
            let dir = tempfile::tempdir().unwrap();
            let mut files = Vec::new();
            for i in 0..3 {
                let p = dir.path().join(format!("{i}.log"));
                files.push(SegmentFile::new(
                    p.clone(),
                    open_dma(&p, true).await.unwrap(),
                ));
            }
            assert!(!files[0].is_open());
            assert!(files[1].is_open() && files[2].is_open());
            assert_eq!(open_count(), 2);
            files[0].truncate(4096).await.unwrap();
            assert!(files[0].is_open());
            assert_eq!(open_count(), 2);
            assert_eq!(files[0].file_size().await.unwrap(), 4096);
            // A file replaced under the same name is not reopened as the old one.
            let p1 = dir.path().join("1.log");
            files[1].release();
            std::fs::write(dir.path().join("new"), b"x").unwrap();
            std::fs::rename(dir.path().join("new"), &p1).unwrap();
            assert!(files[1].get().await.is_err());
            // Nor is a deleted one.
            files[2].retire();
            files[2].release();
            assert!(files[2].get().await.is_err());
            drop(files);
            assert_eq!(open_count(), 0);
            set_capacity(DEFAULT_CAPACITY);
        });
    }
}
