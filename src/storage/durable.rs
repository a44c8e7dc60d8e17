//! Durable small files: the one way Runnel replaces a file (checkpoints, indexes, producer
//! snapshots, topic and config metadata, the broker identity, producer-id blocks).
//!
//! [`replace_blocking`] writes `<path>.tmp`, fdatasyncs it, renames it over `path` and fsyncs
//! the directory, so that a crash at any point leaves either the old or the new contents under
//! `path`, and the new contents survive a crash once the call returns. Every error is returned;
//! a failed sync is tagged [`crate::fault::SyncFailed`] so that a caller holding a log can take
//! it offline. A crash may leave a `*.tmp` file behind; a log removes its own when it opens.
//!
//! [`replace`] and [`replace_all`] do the same through the thread's [`crate::disk::Disk`]: the
//! real disk runs them on the executor's blocking pool, so that a slow disk never stalls an
//! executor thread, and group-commits the replaces that wait at the same time
//! (`disk/replace_batch.rs`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::fault;

/// The temporary name `path` is written under before the rename.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Writes `contents` under `path`'s temporary name and syncs it: the first half of a replace.
fn write_synced(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    let tmp = temporary_path(path);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_data().map_err(|e| fault::sync_failed(&tmp, e))?;
    Ok(tmp)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces the file at `path` with `contents` durably (see the module comment). Blocking: call
/// it from startup code, tools, or a closure already on the blocking pool.
pub fn replace_blocking(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = write_synced(path, contents)?;
    std::fs::rename(&tmp, path)?;
    fault::sync_dir_blocking(parent_of(path))
}

/// [`replace_blocking`] of every `(path, contents)`, each directory synced once at the end.
/// Blocking.
pub fn replace_all_blocking(files: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
    let mut dirs: Vec<&Path> = Vec::new();
    for (path, contents) in files {
        let tmp = write_synced(path, contents)?;
        std::fs::rename(&tmp, path)?;
        let dir = parent_of(path);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.into_iter().try_for_each(fault::sync_dir_blocking)
}

/// [`replace_blocking`] through this thread's disk (the real one runs it on the executor's
/// blocking pool).
pub async fn replace(path: PathBuf, contents: Vec<u8>) -> io::Result<()> {
    replace_all(vec![(path, contents)]).await
}

/// [`replace_all_blocking`] through this thread's disk (the real one runs it on the executor's
/// blocking pool).
pub async fn replace_all(files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
    crate::disk::current().replace_all(files).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        replace_blocking(&p, b"one").unwrap();
        replace_blocking(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!temporary_path(&p).exists());
        let files = vec![
            (d.path().join("a"), b"A".to_vec()),
            (d.path().join("b"), b"B".to_vec()),
        ];
        replace_all_blocking(&files).unwrap();
        assert_eq!(std::fs::read(d.path().join("b")).unwrap(), b"B");
    }

    #[test]
    fn errors_are_returned() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("state");
        assert!(replace_blocking(&p, b"x").is_err());
    }
}
