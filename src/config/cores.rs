//! `cores` / `--cores`: which CPUs get an executor, checked against the CPUs this process may run
//! on (its affinity mask, as set by taskset, cgroups' cpusets or systemd's `CPUAffinity=`).

use anyhow::{bail, Context, Result};

/// The CPUs this process may run on, in ascending order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills the set we pass for this process.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if ok != 0 {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Shows a CPU list compactly: `0-3,6`.
pub fn describe(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// Resolves a cores spec against the `allowed` CPUs: `all` (or empty), a count (`4`: the first
/// four allowed CPUs), or a CPU list (`0-3,6`). One executor per CPU: a count above the allowed
/// CPUs, a CPU outside them, or a CPU named twice is an error naming what is allowed.
pub fn resolve(spec: &str, allowed: &[usize]) -> Result<Vec<usize>> {
    let spec = spec.trim();
    let shown = describe(allowed);
    if spec.is_empty() || spec == "all" {
        if allowed.is_empty() {
            bail!("cores: this process may run on no CPU");
        }
        return Ok(allowed.to_vec());
    }
    if !spec.contains([',', '-']) {
        let n: usize = spec
            .parse()
            .with_context(|| format!("cores: '{spec}' is neither a count, a CPU list nor 'all'"))?;
        if n == 0 {
            bail!("cores: must be at least 1");
        }
        if n > allowed.len() {
            bail!(
                "cores: {n} executors asked for, but this process may run on {} CPUs ({shown}); \
                 one executor per CPU",
                allowed.len()
            );
        }
        return Ok(allowed[..n].to_vec());
    }
    let mut cpus = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let bad = || format!("cores: bad CPU list item '{part}' in '{spec}'");
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().with_context(bad)?;
                let b: usize = b.trim().parse().with_context(bad)?;
                if b < a {
                    bail!("cores: bad CPU range '{part}'");
                }
                if b - a >= libc::CPU_SETSIZE as usize {
                    bail!("cores: CPU range '{part}' is too large");
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().with_context(bad)?),
        }
    }
    if cpus.is_empty() {
        bail!("cores: empty CPU list");
    }
    let mut seen = std::collections::BTreeSet::new();
    for &c in &cpus {
        if !allowed.contains(&c) {
            bail!("cores: CPU {c} is not one this process may run on ({shown})");
        }
        if !seen.insert(c) {
            bail!("cores: CPU {c} is listed twice");
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lists_and_all_resolve_within_the_allowed_cpus() {
        let allowed = [0, 1, 2, 3, 6];
        assert_eq!(resolve("all", &allowed).unwrap(), allowed.to_vec());
        assert_eq!(resolve("3", &allowed).unwrap(), vec![0, 1, 2]);
        assert_eq!(resolve("0-2,6", &allowed).unwrap(), vec![0, 1, 2, 6]);
        assert_eq!(describe(&allowed), "0-3,6");
    }

    #[test]
    fn counts_above_the_cpus_foreign_cpus_and_repeats_are_refused() {
        let allowed = [0, 1];
        let e = resolve("8", &allowed).unwrap_err().to_string();
        assert!(e.contains("2 CPUs (0-1)"), "{e}");
        assert!(resolve("99", &allowed).is_err());
        assert!(resolve("0", &allowed).is_err());
        let e = resolve("1-4", &allowed).unwrap_err().to_string();
        assert!(e.contains("CPU 2"), "{e}");
        assert!(resolve("0,0", &allowed).is_err());
        assert!(resolve("x", &allowed).is_err());
        assert!(resolve("0-99999999", &allowed).is_err());
    }

    #[test]
    fn this_process_has_cpus() {
        assert!(!allowed_cpus().is_empty());
    }
}
