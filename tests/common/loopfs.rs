//! Small ext4 filesystems on loop devices for the tests that need a real disk to misbehave
//! (disk full, power loss). They need root to mount.
//!
//! A test that needs root fails when it is not root, unless `RUNNEL_SKIP_ROOT_TESTS=1` is set:
//! then it prints `SKIPPED` and returns. CI runs as root, so these tests always run there.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Unmounts the test filesystem when dropped.
pub struct Mount(pub PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// True when the test may go on as root. Not root: panics with a clear message, unless
/// `RUNNEL_SKIP_ROOT_TESTS=1` asks to skip, in which case it prints SKIPPED and returns false.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("RUNNEL_SKIP_ROOT_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("{test}: SKIPPED (not root, RUNNEL_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!(
        "{test} needs root to mount a loop filesystem; run the tests as root, or set \
         RUNNEL_SKIP_ROOT_TESTS=1 to skip it explicitly"
    );
}

/// Creates a sparse `mib` MiB image file at `img` and formats it as ext4.
pub fn make_ext4_image(img: &Path, mib: u64) {
    let f = std::fs::File::create(img).expect("create image file");
    f.set_len(mib << 20).expect("size image file");
    let mkfs = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(img)
        .status();
    assert!(
        mkfs.is_ok_and(|s| s.success()),
        "mkfs.ext4 is missing or failed (install e2fsprogs)"
    );
}

/// Mounts image `img` on `mnt` through a loop device, with extra mount options `opts`.
pub fn mount_image(img: &Path, mnt: &Path, opts: &str) -> Mount {
    std::fs::create_dir_all(mnt).expect("create mount point");
    let mut o = String::from("loop");
    if !opts.is_empty() {
        o.push(',');
        o.push_str(opts);
    }
    let ok = Command::new("mount")
        .args(["-o", &o])
        .arg(img)
        .arg(mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot mount {} on {} here",
        img.display(),
        mnt.display()
    );
    Mount(mnt.to_path_buf())
}

/// A fresh `mib` MiB ext4 filesystem mounted at `dir/mnt` (image `dir/disk.img`).
pub fn mount_small_ext4(dir: &Path, mib: u64) -> Mount {
    let img = dir.join("disk.img");
    make_ext4_image(&img, mib);
    mount_image(&img, &dir.join("mnt"), "")
}
