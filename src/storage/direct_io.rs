//! Checks whether O_DIRECT really works in a directory.
//!
//! glommio silently falls back to buffered I/O where the filesystem refuses O_DIRECT (tmpfs, for
//! one), so the broker probes the data directory at startup and says which mode is in effect.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// True when a file in `dir` can be opened with O_DIRECT.
pub fn o_direct_supported(dir: &Path) -> bool {
    let probe = dir.join(".runnel-odirect-probe");
    let mut bytes = probe.as_os_str().as_bytes().to_vec();
    bytes.push(0);
    // SAFETY: `bytes` is a NUL-terminated path that outlives the call.
    let fd = unsafe {
        libc::open(
            bytes.as_ptr() as *const libc::c_char,
            libc::O_CREAT | libc::O_RDWR | libc::O_DIRECT | libc::O_CLOEXEC,
            0o600,
        )
    };
    let ok = fd >= 0;
    if ok {
        // SAFETY: `fd` was just opened by us.
        unsafe { libc::close(fd) };
    }
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Makes glommio decide correctly whether the data directory's device supports polled I/O.
///
/// glommio probes io_uring IOPOLL support with a read at offset 0 of the first direct-I/O file
/// it opens on a device and caches the answer. If that file is empty, the read "succeeds" at
/// end of file on devices without poll queues (virtio, most cloud disks), and every later read
/// then fails with EOPNOTSUPP. Opening a non-empty file first makes the probe meaningful.
pub async fn prime_iopoll_probe(dir: &Path, core: usize) -> std::io::Result<()> {
    let probe = dir.join(format!(
        ".runnel-iopoll-probe-{}-{core}",
        std::process::id()
    ));
    std::fs::write(&probe, vec![0u8; 64 * 1024])?;
    let result = glommio::io::DmaFile::open(&probe).await;
    if let Ok(f) = result {
        let _ = f.read_at(0, 4096).await;
        let _ = f.close().await;
    }
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
