//! The production disk: segment files with direct I/O on glommio's io_uring reactor; small
//! files and directories with `std::fs` on the executor's blocking pool, so that a slow disk
//! stalls no executor thread.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{DmaFile, OpenOptions};

use super::{Disk, DiskFile, IoFuture};
use crate::fault;

/// The real file system.
pub struct RealDisk;

impl DiskFile for DmaFile {
    fn inode(&self) -> u64 {
        DmaFile::inode(self)
    }

    fn alignment(&self) -> u64 {
        DmaFile::alignment(self)
    }

    fn write_at<'a>(&'a self, pos: u64, parts: &'a [&'a [u8]]) -> IoFuture<'a, usize> {
        Box::pin(async move {
            let payload: usize = parts.iter().map(|p| p.len()).sum();
            let align = DmaFile::alignment(self) as usize;
            let padded = payload.div_ceil(align) * align;
            let mut buf = self.alloc_dma_buffer(padded);
            {
                let dst = buf.as_bytes_mut();
                let mut at = 0;
                for p in parts {
                    dst[at..at + p.len()].copy_from_slice(p);
                    at += p.len();
                }
                dst[at..].fill(0);
            }
            DmaFile::write_at(self, buf, pos)
                .await
                .map_err(io::Error::from)
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Bytes> {
        Box::pin(async move {
            let r = DmaFile::read_at(self, pos, len)
                .await
                .map_err(io::Error::from)?;
            // One copy out of the DMA buffer, which goes back to the reactor.
            Ok(Bytes::copy_from_slice(&r))
        })
    }

    fn fdatasync(&self) -> IoFuture<'_, ()> {
        Box::pin(async move { DmaFile::fdatasync(self).await.map_err(io::Error::from) })
    }

    fn truncate(&self, size: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { DmaFile::truncate(self, size).await.map_err(io::Error::from) })
    }

    fn pre_allocate(&self, size: u64, keep_size: bool) -> IoFuture<'_, ()> {
        Box::pin(async move {
            DmaFile::pre_allocate(self, size, keep_size)
                .await
                .map_err(io::Error::from)
        })
    }

    fn file_size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move { DmaFile::file_size(self).await.map_err(io::Error::from) })
    }
}

impl Disk for RealDisk {
    fn open(&self, path: &Path, create: bool) -> IoFuture<'_, Rc<dyn DiskFile>> {
        let path = path.to_path_buf();
        Box::pin(async move {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .dma_open(&path)
                .await
                .map_err(io::Error::from)?;
            Ok(Rc::new(f) as Rc<dyn DiskFile>)
        })
    }

    fn read(&self, path: &Path) -> IoFuture<'_, Vec<u8>> {
        let path = path.to_path_buf();
        Box::pin(fault::blocking(move || std::fs::read(&path)))
    }

    fn replace_all(&self, files: Vec<(PathBuf, Vec<u8>)>) -> IoFuture<'_, ()> {
        Box::pin(super::replace_batch::replace_all(files))
    }

    fn remove_files(&self, paths: Vec<PathBuf>) -> IoFuture<'_, ()> {
        Box::pin(fault::blocking(move || {
            for p in paths {
                if let Err(e) = std::fs::remove_file(&p) {
                    if e.kind() != io::ErrorKind::NotFound {
                        return Err(e);
                    }
                }
            }
            Ok(())
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> IoFuture<'_, ()> {
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        Box::pin(fault::blocking(move || std::fs::rename(&from, &to)))
    }

    fn list(&self, dir: &Path) -> IoFuture<'_, Vec<String>> {
        let dir = dir.to_path_buf();
        Box::pin(fault::blocking(move || {
            Ok(std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect())
        }))
    }

    fn create_dir_all(&self, dir: &Path) -> IoFuture<'_, bool> {
        let dir = dir.to_path_buf();
        Box::pin(fault::blocking(move || {
            if dir.exists() {
                return Ok(false);
            }
            std::fs::create_dir_all(&dir)?;
            // The new directory's entry must survive a crash too.
            if let Some(parent) = dir.parent() {
                fault::sync_dir_blocking(parent)?;
            }
            Ok(true)
        }))
    }

    fn sync_dir(&self, dir: &Path) -> IoFuture<'_, ()> {
        let dir = dir.to_path_buf();
        Box::pin(fault::blocking(move || fault::sync_dir_blocking(&dir)))
    }
}
