//! A simulated disk, deterministic from a seed: the storage engine's answer to a disk that lies.
//!
//! Files live in memory. Each file has its visible contents (what reads return: the page cache)
//! and its durable contents (what survives a power loss), plus the list of writes and
//! truncations made since its last successful sync. Directory entries are visible at once and
//! durable after a sync of their directory. From its seed the disk:
//!
//! - delays each operation by yielding to other tasks a random number of times, which reorders
//!   concurrent I/O;
//! - fails writes with ENOSPC or EIO, reads with EIO, and syncs with EIO at random points (with
//!   the probabilities of its [`Faults`]);
//! - after a failed sync, leaves the writes it should have made durable unsynced (direct I/O:
//!   a later sync or a power loss decides), or, with [`Faults::sync_loses_writes`], forgets them
//!   (buffered I/O: the kernel marks the dirty pages clean, so a later sync succeeds without
//!   writing them, the "fsyncgate" behaviour of Linux);
//! - on [`SimDisk::power_loss`], keeps the durable contents and, of each unsynced write, all of
//!   it, none of it, or a prefix torn at any byte; unsynced directory entries are lost;
//! - on [`SimDisk::crash`] (a killed process), keeps what is visible.
//!
//! Directories are created durably, a simplification: the engine syncs a new directory's
//! parent right after creating it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use super::{Disk, DiskFile, IoFuture};
use crate::rng::Rng;

/// Alignment of the simulated direct I/O.
const ALIGN: u64 = 512;

/// How often the simulated disk fails, and how much it delays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability that a segment write fails with ENOSPC (nothing written).
    pub write_enospc: f64,
    /// Probability that a segment write fails with EIO after writing a torn prefix.
    pub write_eio: f64,
    /// Probability that a read fails with EIO.
    pub read_eio: f64,
    /// Probability that an fdatasync or a directory sync fails with EIO.
    pub sync_eio: f64,
    /// Each operation yields to other tasks up to this many times before it completes.
    pub max_yields: u64,
    /// A failed fdatasync forgets the writes it should have made durable, as Linux does for
    /// buffered I/O (the "fsyncgate" behaviour). Off: the direct-I/O behaviour, where they
    /// stay on the device and a later sync may still make them durable.
    pub sync_loses_writes: bool,
}

impl Faults {
    /// A disk that never fails (it still delays).
    pub fn none() -> Faults {
        Faults {
            write_enospc: 0.0,
            write_eio: 0.0,
            read_eio: 0.0,
            sync_eio: 0.0,
            max_yields: 3,
            sync_loses_writes: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Change {
    Write { pos: u64, data: Vec<u8> },
    Resize(u64),
}

#[derive(Debug, Default)]
struct Inode {
    visible: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Change>,
}

fn apply(buf: &mut Vec<u8>, c: &Change) {
    match c {
        Change::Write { pos, data } => {
            let end = *pos as usize + data.len();
            if buf.len() < end {
                buf.resize(end, 0);
            }
            buf[*pos as usize..end].copy_from_slice(data);
        }
        Change::Resize(n) => buf.resize(*n as usize, 0),
    }
}

#[derive(Debug, Default)]
struct State {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    dirs: BTreeSet<PathBuf>,
    /// Bumped by every crash: files opened before it refuse all I/O.
    boot: u64,
    faults_injected: u64,
}

/// The simulated disk (see the module comment).
pub struct SimDisk {
    /// Prints every operation to stderr (`RUNNEL_SIM_TRACE=1`), to follow a failing seed.
    trace: bool,
    st: RefCell<State>,
    rng: RefCell<Rng>,
    faults: RefCell<Faults>,
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

fn not_found(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", p.display()),
    )
}

impl SimDisk {
    /// A new, empty disk whose randomness comes from `seed`.
    pub fn new(seed: u64, faults: Faults) -> Rc<SimDisk> {
        Rc::new(SimDisk {
            trace: std::env::var_os("RUNNEL_SIM_TRACE").is_some(),
            st: RefCell::new(State {
                next_inode: 1,
                ..State::default()
            }),
            rng: RefCell::new(Rng::new(seed)),
            faults: RefCell::new(faults),
        })
    }

    /// Changes the fault probabilities from now on.
    pub fn set_faults(&self, f: Faults) {
        *self.faults.borrow_mut() = f;
    }

    fn note(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("disk: {}", what());
        }
    }

    /// The fault probabilities now.
    pub fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// Faults injected so far.
    pub fn faults_injected(&self) -> u64 {
        self.st.borrow().faults_injected
    }

    fn chance(&self, p: fn(&Faults) -> f64) -> bool {
        let p = p(&self.faults.borrow());
        let hit = self.rng.borrow_mut().chance(p);
        if hit {
            self.st.borrow_mut().faults_injected += 1;
        }
        hit
    }

    async fn delay(&self) {
        let n = {
            let max = self.faults.borrow().max_yields;
            self.rng.borrow_mut().below(max + 1)
        };
        for _ in 0..n {
            futures_lite::future::yield_now().await;
        }
    }

    /// The process dies (kill -9): what is visible stays, files open before are dead.
    pub fn crash(&self) {
        self.note(|| "CRASH".into());
        self.st.borrow_mut().boot += 1;
    }

    /// The machine loses power: only durable contents and entries survive, plus (each chosen
    /// at random) all, none or a torn prefix of every unsynced write.
    pub fn power_loss(&self) {
        self.note(|| "POWER LOSS".into());
        let mut st = self.st.borrow_mut();
        let mut rng = self.rng.borrow_mut();
        st.boot += 1;
        for ino in st.inodes.values_mut() {
            let mut image = std::mem::take(&mut ino.durable);
            for c in ino.unsynced.drain(..) {
                match (rng.below(3), &c) {
                    (0, _) => {}
                    (1, Change::Write { pos, data }) => {
                        let keep = rng.below(data.len() as u64 + 1) as usize;
                        let torn = Change::Write {
                            pos: *pos,
                            data: data[..keep].to_vec(),
                        };
                        apply(&mut image, &torn);
                    }
                    _ => apply(&mut image, &c),
                }
            }
            ino.visible = image.clone();
            ino.durable = image;
        }
        st.names = st.durable_names.clone();
    }

    fn file(self: &Rc<Self>, ino: u64) -> Rc<dyn DiskFile> {
        Rc::new(SimFile {
            disk: self.clone(),
            ino,
            boot: self.st.borrow().boot,
        })
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        self.st
            .borrow()
            .names
            .get(path)
            .copied()
            .ok_or_else(|| not_found(path))
    }

    fn new_inode(st: &mut State, visible: Vec<u8>, durable: Vec<u8>) -> u64 {
        let ino = st.next_inode;
        st.next_inode += 1;
        st.inodes.insert(
            ino,
            Inode {
                visible,
                durable,
                unsynced: Vec::new(),
            },
        );
        ino
    }
}

/// A file of a [`SimDisk`].
struct SimFile {
    disk: Rc<SimDisk>,
    ino: u64,
    boot: u64,
}

impl SimFile {
    /// Fails once the process that opened the file has crashed.
    fn alive(&self) -> io::Result<()> {
        if self.disk.st.borrow().boot != self.boot {
            return Err(eio());
        }
        Ok(())
    }

    fn change(&self, c: Change) {
        let mut st = self.disk.st.borrow_mut();
        let ino = st.inodes.get_mut(&self.ino).expect("inode");
        apply(&mut ino.visible, &c);
        ino.unsynced.push(c);
    }
}

impl DiskFile for SimFile {
    fn inode(&self) -> u64 {
        self.ino
    }

    fn alignment(&self) -> u64 {
        ALIGN
    }

    fn write_at<'a>(&'a self, pos: u64, parts: &'a [&'a [u8]]) -> IoFuture<'a, usize> {
        Box::pin(async move {
            self.disk.delay().await;
            self.alive()?;
            assert_eq!(pos % ALIGN, 0, "unaligned direct write at {pos}");
            let mut data: Vec<u8> = parts.concat();
            data.resize(
                (data.len() as u64).div_ceil(ALIGN) as usize * ALIGN as usize,
                0,
            );
            self.disk
                .note(|| format!("write ino {} at {pos} len {}", self.ino, data.len()));
            if self.disk.chance(|f| f.write_enospc) {
                self.disk.note(|| "  -> ENOSPC".into());
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            if self.disk.chance(|f| f.write_eio) {
                self.disk.note(|| "  -> EIO (torn)".into());
                let keep = self.disk.rng.borrow_mut().below(data.len() as u64) as usize;
                data.truncate(keep);
                self.change(Change::Write { pos, data });
                return Err(eio());
            }
            let n = data.len();
            self.change(Change::Write { pos, data });
            Ok(n)
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes> {
        Box::pin(async move {
            self.disk.delay().await;
            self.alive()?;
            if self.disk.chance(|f| f.read_eio) {
                return Err(eio());
            }
            let st = self.disk.st.borrow();
            let v = &st.inodes[&self.ino].visible;
            let from = (pos as usize).min(v.len());
            let to = (pos as usize).saturating_add(len).min(v.len());
            Ok(Bytes::copy_from_slice(&v[from..to]))
        })
    }

    fn fdatasync(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.disk.delay().await;
            self.alive()?;
            let failed = self.disk.chance(|f| f.sync_eio);
            let lose = self.disk.faults.borrow().sync_loses_writes;
            let mut st = self.disk.st.borrow_mut();
            let ino = st.inodes.get_mut(&self.ino).expect("inode");
            self.disk
                .note(|| format!("fdatasync ino {} failed={failed}", self.ino));
            if failed {
                if lose {
                    // Buffered I/O: the kernel marks the dirty pages clean. They stay visible,
                    // but no later sync writes them.
                    ino.unsynced.clear();
                }
                // Direct I/O: the writes reached the device, whose cache could not be flushed;
                // a later flush may still make them durable, a power loss may lose them.
                return Err(eio());
            }
            let mut durable = std::mem::take(&mut ino.durable);
            for c in ino.unsynced.drain(..) {
                apply(&mut durable, &c);
            }
            ino.durable = durable;
            Ok(())
        })
    }

    fn truncate(&self, size: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.disk.delay().await;
            self.alive()?;
            self.disk
                .note(|| format!("truncate ino {} to {size}", self.ino));
            self.change(Change::Resize(size));
            Ok(())
        })
    }

    fn pre_allocate(&self, size: u64, keep_size: bool) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.disk.delay().await;
            self.alive()?;
            if self.disk.chance(|f| f.write_enospc) {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let len = self.disk.st.borrow().inodes[&self.ino].visible.len() as u64;
            if !keep_size && size > len {
                self.change(Change::Resize(size));
            }
            Ok(())
        })
    }

    fn file_size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move {
            self.alive()?;
            Ok(self.disk.st.borrow().inodes[&self.ino].visible.len() as u64)
        })
    }
}

/// The `Rc` a [`Disk`] method needs to hand out files: the simulator keeps one in a thread-local
/// wrapper, [`SimHandle`].
pub struct SimHandle(pub Rc<SimDisk>);

impl SimHandle {
    fn d(&self) -> &Rc<SimDisk> {
        &self.0
    }
}

impl Disk for SimHandle {
    fn open(&self, path: &Path, create: bool) -> IoFuture<'_, Rc<dyn DiskFile>> {
        let path = path.to_path_buf();
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let ino = match d.lookup(&path) {
                Ok(ino) => ino,
                Err(e) if !create => return Err(e),
                Err(_) => {
                    let mut st = d.st.borrow_mut();
                    if !path.parent().is_some_and(|p| st.dirs.contains(p)) {
                        return Err(not_found(&path));
                    }
                    let ino = SimDisk::new_inode(&mut st, Vec::new(), Vec::new());
                    st.names.insert(path.clone(), ino);
                    ino
                }
            };
            d.note(|| format!("open {} -> ino {ino}", path.display()));
            Ok(d.file(ino))
        })
    }

    fn read(&self, path: &Path) -> IoFuture<'_, Vec<u8>> {
        let path = path.to_path_buf();
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let ino = d.lookup(&path)?;
            if d.chance(|f| f.read_eio) {
                return Err(eio());
            }
            Ok(d.st.borrow().inodes[&ino].visible.clone())
        })
    }

    fn replace_all(&self, files: Vec<(PathBuf, Vec<u8>)>) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let d = self.d();
            let mut dirs = BTreeSet::new();
            for (path, contents) in files {
                d.delay().await;
                let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
                if !d.st.borrow().dirs.contains(&parent) {
                    return Err(not_found(&path));
                }
                if d.chance(|f| f.sync_eio) {
                    d.note(|| "  -> sync EIO".into());
                    return Err(crate::fault::sync_failed(&path, eio()));
                }
                d.note(|| format!("replace {}", path.display()));
                // The temporary file is written and synced, then renamed over the old name.
                let mut st = d.st.borrow_mut();
                let ino = SimDisk::new_inode(&mut st, contents.clone(), contents);
                st.names.insert(path, ino);
                dirs.insert(parent);
            }
            for dir in dirs {
                d.sync_dir_now(&dir)?;
            }
            Ok(())
        })
    }

    fn remove_files(&self, paths: Vec<PathBuf>) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            d.note(|| format!("remove {paths:?}"));
            let mut st = d.st.borrow_mut();
            for p in paths {
                st.names.remove(&p);
            }
            Ok(())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> IoFuture<'_, ()> {
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let ino = d.lookup(&from)?;
            d.note(|| format!("rename {} -> {}", from.display(), to.display()));
            let mut st = d.st.borrow_mut();
            st.names.remove(&from);
            st.names.insert(to, ino);
            Ok(())
        })
    }

    fn list(&self, dir: &Path) -> IoFuture<'_, Vec<String>> {
        let dir = dir.to_path_buf();
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let st = d.st.borrow();
            if !st.dirs.contains(&dir) {
                return Err(not_found(&dir));
            }
            Ok(st
                .names
                .keys()
                .filter(|p| p.parent() == Some(dir.as_path()))
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect())
        })
    }

    fn create_dir_all(&self, dir: &Path) -> IoFuture<'_, bool> {
        let dir = dir.to_path_buf();
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let mut st = d.st.borrow_mut();
            if st.dirs.contains(&dir) {
                return Ok(false);
            }
            for a in dir.ancestors() {
                st.dirs.insert(a.to_path_buf());
            }
            Ok(true)
        })
    }

    fn sync_dir(&self, dir: &Path) -> IoFuture<'_, ()> {
        let dir = dir.to_path_buf();
        Box::pin(async move {
            let d = self.d();
            d.delay().await;
            let failed = d.chance(|f| f.sync_eio);
            d.note(|| format!("sync dir {} failed={failed}", dir.display()));
            if failed {
                return Err(crate::fault::sync_failed(&dir, eio()));
            }
            d.sync_dir_now(&dir)
        })
    }
}

impl SimDisk {
    /// Makes the entries of `dir` durable as they are now visible.
    fn sync_dir_now(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.st.borrow_mut();
        let st = &mut *st;
        st.durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, ino) in &st.names {
            if p.parent() == Some(dir) {
                st.durable_names.insert(p.clone(), *ino);
            }
        }
        Ok(())
    }
}
