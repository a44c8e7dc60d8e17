//! Small per-partition checkpoint files holding one offset each: the log start offset (moved by
//! DeleteRecords inside a segment) and the cleaner's position (how far compaction has gone).
//!
//! A checkpoint is replaced with [`crate::durable`], so a crash leaves either the old or the new
//! value. The file carries a checksum; a torn or missing file
//! reads as absent and the log falls back to what its segments say.
//!
//! The file-system calls run on the executor's blocking pool; a failed sync is reported as
//! [`super::fault::SyncFailed`].

use std::path::Path;

/// File of the log start offset.
pub(super) const LOG_START: &str = "log-start-offset";
/// File of the cleaner's position.
pub(super) const CLEANER: &str = "cleaner-offset";

/// Reads checkpoint `name` in `dir`.
pub(super) async fn read(dir: &Path, name: &str) -> Option<i64> {
    let b = crate::disk::current().read(&dir.join(name)).await.ok()?;
    decode(&b)
}

/// The value of a checkpoint file's contents, if they are whole and match their CRC.
fn decode(b: &[u8]) -> Option<i64> {
    if b.len() != 12 {
        return None;
    }
    let value: [u8; 8] = b[..8].try_into().ok()?;
    let crc: [u8; 4] = b[8..].try_into().ok()?;
    (crc32c::crc32c(&value).to_be_bytes() == crc).then(|| i64::from_be_bytes(value))
}

/// Writes checkpoint `name` in `dir` durably, on the blocking pool.
pub(super) async fn write(dir: &Path, name: &str, value: i64) -> std::io::Result<()> {
    crate::durable::replace(dir.join(name), encode(value)).await
}

/// A checkpoint file's contents: the value and its CRC.
fn encode(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut b = Vec::with_capacity(12);
    b.extend_from_slice(&bytes);
    b.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_torn() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(LOG_START);
        assert_eq!(std::fs::read(&p).ok(), None);
        crate::durable::replace_blocking(&p, &encode(1234)).unwrap();
        let mut b = std::fs::read(&p).unwrap();
        assert_eq!(decode(&b), Some(1234));
        b[3] ^= 1;
        assert_eq!(decode(&b), None);
        assert_eq!(decode(&b[..11]), None);
    }
}
