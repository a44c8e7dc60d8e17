//! The process's file-descriptor limit (RLIMIT_NOFILE), raised at startup.
//!
//! Each client connection and each open segment file costs a descriptor. Many systems start
//! processes with a soft limit of 1024 although the hard limit is far higher; the broker raises
//! its soft limit to the hard limit before it opens anything, and logs both.

/// The soft and hard RLIMIT_NOFILE, `None` if they cannot be read.
pub fn nofile() -> Option<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return None;
    }
    Some((rl.rlim_cur, rl.rlim_max))
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped at what the kernel allows per
/// process, `fs.nr_open`) and logs the outcome. Returns the soft limit in effect.
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = nofile()?;
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(hard);
    let target = hard.min(ceiling);
    if target <= soft {
        tracing::info!(soft, hard, "file descriptor limit (RLIMIT_NOFILE)");
        return Some(soft);
    }
    let rl = libc::rlimit {
        rlim_cur: target as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(soft, hard, error = %e, "cannot raise the file descriptor limit (RLIMIT_NOFILE)");
        return Some(soft);
    }
    tracing::info!(
        from = soft,
        to = target,
        hard,
        "raised the file descriptor limit (RLIMIT_NOFILE)"
    );
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_soft_limit_to_the_hard_limit() {
        let (_, hard) = nofile().unwrap();
        let now = raise_nofile().unwrap();
        assert_eq!(nofile().unwrap().0, now);
        assert!(now <= hard);
    }
}
