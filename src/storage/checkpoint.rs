//! Small per-partition checkpoint files holding one offset each: the log start offset (moved by
//! DeleteRecords inside a segment) and the cleaner's position (how far compaction has gone).
//!
//! A checkpoint is written to a temporary file, synced and renamed over the old one, so a crash
//! leaves either the old or the new value. The file carries a checksum; a torn or missing file
//! reads as absent and the log falls back to what its segments say.
//!
//! The file-system calls run on the executor's blocking pool ([`super::fault::blocking`]); a
//! failed sync is reported as [`super::fault::SyncFailed`].

use std::path::{Path, PathBuf};

/// File of the log start offset.
pub(super) const LOG_START: &str = "log-start-offset";
/// File of the cleaner's position.
pub(super) const CLEANER: &str = "cleaner-offset";

/// Reads checkpoint `name` in `dir`.
pub(super) fn read(dir: &Path, name: &str) -> Option<i64> {
    let b = std::fs::read(dir.join(name)).ok()?;
    if b.len() != 12 {
        return None;
    }
    let value: [u8; 8] = b[..8].try_into().ok()?;
    let crc: [u8; 4] = b[8..].try_into().ok()?;
    (crc32c::crc32c(&value).to_be_bytes() == crc).then(|| i64::from_be_bytes(value))
}

/// Writes checkpoint `name` in `dir` durably, on the blocking pool.
pub(super) async fn write(dir: &Path, name: &str, value: i64) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    let path = dir.join(name);
    super::fault::blocking(move || write_blocking(&dir, &path, value)).await
}

fn write_blocking(dir: &Path, path: &Path, value: i64) -> std::io::Result<()> {
    let bytes = value.to_be_bytes();
    let mut b = Vec::with_capacity(12);
    b.extend_from_slice(&bytes);
    b.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    replace_file(path, &b)?;
    super::fault::sync_dir_blocking(dir)
}

/// Replaces each `(path, contents)` with [`replace_file`], on the blocking pool.
pub(super) async fn replace_files(files: Vec<(PathBuf, Vec<u8>)>) -> std::io::Result<()> {
    super::fault::blocking(move || {
        files
            .iter()
            .try_for_each(|(path, contents)| replace_file(path, contents))
    })
    .await
}

/// Replaces the file at `path` with `contents` so that a crash leaves the old or the new
/// version: write `<path>.tmp`, fdatasync it, rename it over `path`. The caller syncs the
/// directory when the new name itself must survive a crash. Blocking.
pub(super) fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_data()
        .map_err(|e| super::fault::sync_failed(Path::new(&tmp), e))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_torn() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path(), LOG_START), None);
        write_blocking(d.path(), &d.path().join(LOG_START), 1234).unwrap();
        assert_eq!(read(d.path(), LOG_START), Some(1234));
        let p = d.path().join(LOG_START);
        let mut b = std::fs::read(&p).unwrap();
        b[3] ^= 1;
        std::fs::write(&p, &b).unwrap();
        assert_eq!(read(d.path(), LOG_START), None);
    }
}
