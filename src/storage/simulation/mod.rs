//! Deterministic simulation of the log engine on a disk that lies ([`crate::disk::sim`]).
//!
//! One seed is one run: a partition log on a fresh simulated disk goes through random
//! lifetimes. In each, the simulated client appends batches (one or several at a time), reads,
//! deletes records and applies retention, with segments small enough to roll often; the
//! lifetime ends in a clean close, a crash (kill -9) or a power loss, at a random point, with
//! appends and syncs in flight. After every restart the log must keep the invariants of
//! [`model::Model`], and a second restart must find the same log (recovery is idempotent).
//!
//! Each lifetime runs in its own glommio executor on the calling thread, so that a crash drops
//! every task of the old "process". The same seed replays the same run: the disk's randomness,
//! the workload's choices and the executor's task order all follow from it.
//!
//! `cargo run -p runnel-storage --bin runnel-sim -- --seeds N` runs many seeds; the storage
//! crate's tests run a bounded number of them.

pub mod client;
pub mod ghost;
pub mod model;
mod truncate;

use std::path::PathBuf;
use std::rc::Rc;

use glommio::{LocalExecutorBuilder, Placement};

use crate::cache::CacheBudget;
use crate::disk::sim::{Faults, SimDisk, SimHandle};
use crate::log::{LogConfig, PartitionLog};
use crate::rng::Rng;
use client::Clients;
use ghost::Ghost;
use model::Model;

/// Raises this process's open-file limit to its hard limit: glommio 0.9 keeps an eventfd of
/// every executor it made (about 1.6 descriptors per lifetime), and a run of many seeds makes
/// thousands of executors.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// What one seed did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Lifetimes run (restarts + 1).
    pub lifetimes: u32,
    /// Batches acknowledged.
    pub acked: usize,
    /// Appends that failed (never acknowledged).
    pub failed_appends: u64,
    /// Power losses simulated.
    pub power_losses: u32,
    /// Faults the disk injected.
    pub faults: u64,
    /// Truncations that returned (`truncate_to` cut the log).
    pub truncations: u64,
}

/// How a lifetime ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Close,
    Crash,
    PowerLoss,
}

/// One partition of a seed: its directory, settings, clients and what they were told.
struct Part {
    dir: PathBuf,
    cfg: LogConfig,
    model: Model,
    /// Every batch read below the high watermark (not kept for compacted logs).
    ghost: Option<Ghost>,
    clients: Clients,
}

impl Part {
    fn new(rng: &mut Rng, index: usize) -> Part {
        // A quarter of the partitions are compacted logs (keys k0..k15, one record in four a
        // tombstone), with the cleaner as one of the random steps.
        let compact = rng.below(4) == 0;
        let size_retention = !compact && rng.below(2) == 0;
        // Time runs on the virtual clock: the steps sleep up to a minute, so these settings
        // delete, roll and drop tombstones within a lifetime or two.
        let retention_ms = if !compact && rng.below(2) == 0 {
            60_000 + rng.below(600_000) as i64
        } else {
            -1
        };
        let segment_ms = if rng.below(2) == 0 {
            30_000 + rng.below(300_000) as i64
        } else {
            LogConfig::default().segment_ms
        };
        let delete_retention_ms = [0, 10_000, 60_000, 600_000][rng.below(4) as usize];
        let cfg = LogConfig {
            segment_bytes: 2048 + rng.below(8192),
            segment_ms,
            index_interval_bytes: 256,
            flush_messages: 1,
            retention_bytes: if size_retention { 16 << 10 } else { -1 },
            retention_ms,
            delete: !compact,
            compact,
            delete_retention_ms,
            min_cleanable_ratio: 0.1,
            ..LogConfig::default()
        };
        // Compaction rewrites batches, so producers (whose history the ghost checks) write to
        // delete-policy logs: one to three idempotent producers, and a transactional one in
        // half of them.
        let clients = if compact {
            Clients::new(index, 0, 0, 4)
        } else {
            Clients::new(index, 1 + rng.below(3) as usize, rng.below(2) as usize, 0)
        };
        Part {
            dir: PathBuf::from(format!("/sim/topic-{index}")),
            model: if compact {
                Model::compacted(delete_retention_ms)
            } else {
                Model::deleting((retention_ms >= 0 && !size_retention).then_some(retention_ms))
            },
            ghost: (!compact).then(Ghost::default),
            cfg,
            clients,
        }
    }

    /// Checks the log just opened: the model's invariants, and the history's producer state.
    async fn check(&mut self, log: &Rc<PartitionLog>) -> Result<usize, String> {
        let all = self.model.check_log(log).await?;
        self.model.observe(&all);
        if !self.cfg.compact {
            truncate::check_epochs(log, &all)?;
        }
        if let Some(ghost) = &mut self.ghost {
            ghost.absorb(&all)?;
            ghost.check_sequences()?;
            ghost.check_transactions(log)?;
        }
        Ok(all.len())
    }

    /// Reads the log into the ghost before records are deleted; `Ok(false)` if it could not.
    async fn catch_up(&mut self, log: &Rc<PartitionLog>) -> Result<bool, String> {
        match &mut self.ghost {
            Some(g) => g.catch_up(log).await,
            None => Ok(true),
        }
    }
}

/// [`run_seed`], with a panic of the engine (an assertion of the simulated disk, say) turned
/// into an `Err` that names it, so that a run of many seeds names the seed that panicked.
pub fn run_seed_caught(seed: u64) -> Result<Report, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_seed(seed))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(format!("panicked: {msg}"))
    })
}

/// Runs seed `seed`. `Err` names the first broken invariant.
pub fn run_seed(seed: u64) -> Result<Report, String> {
    let mut rng = Rng::new(seed);
    // A third of the seeds run on a disk that never fails, to reach deep histories; the others
    // fail writes, reads and syncs now and then.
    let faults = if rng.below(3) == 0 {
        Faults::none()
    } else {
        Faults {
            write_enospc: 0.02,
            write_eio: 0.01,
            read_eio: 0.01,
            sync_eio: 0.01,
            max_yields: 4,
            sync_loses_writes: false,
        }
    };
    let disk = SimDisk::new(rng.next_u64(), faults);
    // Few descriptors, so that segments are closed and reopened by path often.
    crate::open_files::reset(2 + rng.below(6) as usize);
    crate::disk::install(Rc::new(SimHandle(disk.clone())));
    crate::clock::simulate(Some(1_700_000_000_000));
    // One to three partitions share the disk, so that their I/O, faults, crashes and power
    // losses interleave.
    let n = 1 + rng.below(3) as usize;
    let mut parts: Vec<Part> = (0..n).map(|i| Part::new(&mut rng, i)).collect();
    let mut report = Report::default();
    let lifetimes = 2 + rng.below(4) as u32;
    let result = (|| {
        for life in 0..lifetimes {
            report.lifetimes += 1;
            let end = match rng.below(3) {
                0 => End::Close,
                1 => End::Crash,
                _ => End::PowerLoss,
            };
            let steps = 5 + rng.below(40);
            let r = lifetime(&disk, &mut parts, &mut rng, &mut report, steps, end);
            r.map_err(|e| format!("lifetime {life}: {e}"))?;
            match end {
                End::Close => {}
                End::Crash => disk.crash(),
                End::PowerLoss => {
                    report.power_losses += 1;
                    disk.power_loss()
                }
            }
        }
        // The last restart: the invariants hold, and recovery is idempotent.
        let first = reopen_and_check(&disk, &mut parts)?;
        disk.crash();
        let second = reopen_and_check(&disk, &mut parts)?;
        if first != second {
            return Err(format!(
                "recovery is not idempotent: {first:?} after one restart, {second:?} after two"
            ));
        }
        Ok(())
    })();
    report.acked = parts.iter().map(|p| p.model.acked_batches()).sum();
    report.faults = disk.faults_injected();
    result.map(|()| report)
}

/// (log start, high watermark, batches) of a log opened and checked.
type Shape = (i64, i64, usize);

fn reopen_and_check(disk: &Rc<SimDisk>, parts: &mut [Part]) -> Result<Vec<Shape>, String> {
    let saved = disk_faults_off(disk);
    let r = executor().run(async move {
        let mut shapes = Vec::new();
        for p in parts.iter_mut() {
            let log = open(p).await?;
            let n = p.check(&log).await?;
            shapes.push((log.log_start_offset(), log.high_watermark(), n));
        }
        Ok(shapes)
    });
    disk.set_faults(saved);
    r
}

/// Turns faults off (a check must see the log, not a new failure); returns the old setting.
fn disk_faults_off(disk: &SimDisk) -> Faults {
    let saved = disk.faults();
    disk.set_faults(Faults {
        max_yields: saved.max_yields,
        ..Faults::none()
    });
    saved
}

fn executor() -> glommio::LocalExecutor {
    LocalExecutorBuilder::new(Placement::Unbound)
        .make()
        .expect("a glommio executor for the simulation")
}

async fn open(part: &Part) -> Result<Rc<PartitionLog>, String> {
    PartitionLog::open(&part.dir, part.cfg.clone(), CacheBudget::new(1 << 20))
        .await
        .map_err(|e| format!("{}: open failed: {e}", part.dir.display()))
}

fn lifetime(
    disk: &Rc<SimDisk>,
    parts: &mut [Part],
    rng: &mut Rng,
    report: &mut Report,
    steps: u64,
    end: End,
) -> Result<(), String> {
    // Opening and the check after a restart run on a disk that does not fail.
    let saved = disk_faults_off(disk);
    executor().run(async {
        let mut logs = Vec::new();
        for p in parts.iter_mut() {
            let log = open(p).await?;
            p.check(&log).await?;
            logs.push(log);
        }
        disk.set_faults(saved);
        for _ in 0..steps {
            if parts.len() > 1 && rng.one_in(4) {
                // Group commits on every partition at once: their flushers' writes and syncs
                // interleave on the disk.
                send_together(&logs, parts, rng, report).await?;
                continue;
            }
            let k = rng.below(parts.len() as u64) as usize;
            let name = parts[k].dir.display().to_string();
            step(&logs[k], &mut parts[k], rng, report)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
        }
        match end {
            End::Close => {
                for log in &logs {
                    log.close().await;
                }
            }
            // Appends in flight when the process dies: started, never acknowledged.
            End::Crash | End::PowerLoss => {
                for _ in 0..rng.below(3) {
                    let k = rng.below(parts.len() as u64) as usize;
                    parts[k].clients.send_in_flight(&logs[k], rng);
                }
                for _ in 0..rng.below(6) {
                    futures_lite::future::yield_now().await;
                }
            }
        }
        Ok::<(), String>(())
    })
}

/// One group commit on every partition, all in flight together.
async fn send_together(
    logs: &[Rc<PartitionLog>],
    parts: &mut [Part],
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    let mut rngs: Vec<Rng> = parts.iter().map(|_| Rng::new(rng.next_u64())).collect();
    let mut reports = vec![Report::default(); parts.len()];
    let sends: Vec<_> = parts
        .iter_mut()
        .zip(logs)
        .zip(rngs.iter_mut().zip(reports.iter_mut()))
        .map(|((p, log), (r, rep))| async move {
            let name = p.dir.display().to_string();
            p.clients
                .send(log, r, &mut p.model, rep)
                .await
                .map_err(|e| format!("{name}: {e}"))
        })
        .collect();
    let r = join_all(sends).await;
    report.failed_appends += reports.iter().map(|r| r.failed_appends).sum::<u64>();
    r
}

/// Polls every future until all are done; the first error, if any.
async fn join_all<F: std::future::Future<Output = Result<(), String>>>(
    futs: Vec<F>,
) -> Result<(), String> {
    let mut futs: Vec<Option<std::pin::Pin<Box<F>>>> =
        futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut first_err = None;
    futures_lite::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futs.iter_mut() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => {
                        if let Err(e) = r {
                            first_err.get_or_insert(e);
                        }
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    first_err.map_or(Ok(()), Err)
}

/// One random step on one partition.
async fn step(
    log: &Rc<PartitionLog>,
    p: &mut Part,
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    match rng.below(12) {
        0..=5 => p.clients.send(log, rng, &mut p.model, report).await?,
        // Not on compacted logs: see `truncate` (a cut that empties the tail segment after a
        // compacted gap may come back lower after a restart).
        7 if !p.cfg.compact && rng.one_in(3) => truncate::step(log, p, rng, report).await?,
        6 | 7 => {
            let hwm = log.high_watermark();
            let start = log.log_start_offset();
            let at = start + rng.below((hwm - start + 1) as u64) as i64;
            if let Ok(b) = log.read(at, 1 + rng.below(8192) as usize, false).await {
                p.model.check_read(at, &b)?;
            }
        }
        8 => {
            if !p.catch_up(log).await? {
                return Ok(());
            }
            let hwm = log.high_watermark();
            let start = log.log_start_offset();
            let to = start + rng.below((hwm - start) as u64 / 4 + 1) as i64;
            let answered = log.delete_records(to).await.ok();
            p.model.records_deleted(to, answered);
        }
        9 if p.clients.transactional() => {
            p.clients.end_transaction(log, rng, &mut p.model).await?;
            if let Some(g) = &mut p.ghost {
                if g.catch_up(log).await? {
                    g.check_transactions(log)?;
                }
            }
        }
        10 => {
            // segment.ms: the housekeeping task rolls an active segment once it is old.
            crate::clock::sleep(std::time::Duration::from_millis(rng.below(60_000))).await;
            let _ = log.roll_if_old().await;
        }
        _ if p.cfg.compact => {
            crate::clock::sleep(std::time::Duration::from_millis(rng.below(60_000))).await;
            let _ = log.compact(crate::clock::now_ms(), 1 << 20).await;
        }
        _ => {
            if !p.catch_up(log).await? {
                return Ok(());
            }
            crate::clock::sleep(std::time::Duration::from_millis(rng.below(60_000))).await;
            let now = crate::clock::now_ms();
            if log.apply_retention(now).await.is_ok() {
                let start = log.log_start_offset();
                p.model.check_retention(start, now)?;
                p.model.started_at(start);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A bounded number of seeds on every test run; `runnel-sim --seeds N` runs more.
    #[test]
    fn seeds_keep_every_invariant() {
        super::raise_fd_limit();
        let seeds: u64 = std::env::var("RUNNEL_SIM_SEEDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(500);
        for seed in 0..seeds {
            if let Err(e) = super::run_seed_caught(seed) {
                panic!("seed {seed} failed: {e} (replay: runnel-sim --seed {seed})");
            }
        }
    }
}
