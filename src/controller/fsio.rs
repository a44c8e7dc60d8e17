//! Durable small files: checksummed frames, written atomically (temp file, fsync, rename, fsync
//! of the directory) and read back with a bound on their size.
//!
//! A frame is `len: u32 BE`, `crc32c(payload): u32 BE`, `payload`. The vote, the purge point and
//! the snapshot are one frame each in a file of their own; the log is a sequence of frames.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// Bytes of a frame's header.
pub const FRAME_HEADER: usize = 8;

/// `payload` as one frame.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of the frame at the start of `buf` and the frame's length, or `None` when `buf`
/// does not start with a whole, intact frame of at most `max` payload bytes.
pub fn unframe(buf: &[u8], max: usize) -> Option<(&[u8], usize)> {
    let header = buf.get(..FRAME_HEADER)?;
    let len = u32::from_be_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_be_bytes(header[4..].try_into().ok()?);
    if len > max {
        return None;
    }
    let payload = buf.get(FRAME_HEADER..FRAME_HEADER + len)?;
    (crc32c::crc32c(payload) == crc).then_some((payload, FRAME_HEADER + len))
}

/// Flushes a directory's entries (after a create or rename in it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with one frame of `payload`: written to a temp file, fsynced, renamed over
/// the old file, and the directory fsynced, so a crash leaves the old or the new file whole.
pub fn write_atomic(dir: &Path, name: &str, payload: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&frame(payload))?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// The payload of the one-frame file `dir/name`, `None` when there is no such file; an error
/// when it is larger than `max` payload bytes or damaged.
pub fn read_framed(dir: &Path, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut f = match File::open(dir.join(name)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    if size > (max + FRAME_HEADER) as u64 {
        return Err(invalid(format!("{name}: {size} bytes, more than allowed")));
    }
    let mut buf = Vec::with_capacity(size as usize);
    f.read_to_end(&mut buf)?;
    match unframe(&buf, max) {
        Some((payload, used)) if used == buf.len() => Ok(Some(payload.to_vec())),
        _ => Err(invalid(format!("{name}: damaged (length or checksum)"))),
    }
}

/// An `InvalidData` error.
pub fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_damage() {
        let f = frame(b"hello");
        assert_eq!(unframe(&f, 100), Some((&b"hello"[..], 13)));
        assert_eq!(unframe(&f[..12], 100), None);
        assert_eq!(unframe(&f, 4), None);
        let mut bad = f.clone();
        bad[10] ^= 1;
        assert_eq!(unframe(&bad, 100), None);
    }

    #[test]
    fn atomic_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_framed(dir.path(), "x", 10).unwrap(), None);
        write_atomic(dir.path(), "x", b"abc").unwrap();
        write_atomic(dir.path(), "x", b"abcd").unwrap();
        assert_eq!(
            read_framed(dir.path(), "x", 10).unwrap(),
            Some(b"abcd".to_vec())
        );
        assert!(read_framed(dir.path(), "x", 2).is_err());
        std::fs::write(dir.path().join("y"), b"garbage!!").unwrap();
        assert!(read_framed(dir.path(), "y", 10).is_err());
    }
}
