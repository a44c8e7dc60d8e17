//! Group commit of durable small-file replaces on one executor thread.
//!
//! Every [`crate::durable::replace_all`] of the real disk comes here. Replaces requested while
//! the blocking pool is busy with an earlier one wait in a queue; the next round takes all of
//! them at once. A round of a few files replaces each as [`crate::durable::replace_all_blocking`]
//! does (fdatasync the temporary file, rename, fsync the directory). A round of many files (a
//! core closing thousands of partitions, each writing its producer snapshot) writes every
//! temporary file, makes them all durable with one `syncfs(2)` per file system, renames them,
//! and makes the renames durable with a second `syncfs`: two flushes instead of two per file.
//! The guarantees are the same: when a caller's future answers `Ok`, its files hold the new
//! contents durably; a crash before leaves the old or the new contents under each path.
//!
//! The queue holds at most one entry per waiting caller, and a round never takes two replaces
//! of one path (they share a temporary name): the later one waits for the next round, so
//! replaces of one path land in the order they were asked for.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::fault;
use crate::signal::Signal;

/// Rounds with at least this many files use `syncfs` instead of a sync per file.
const SYNCFS_FROM_FILES: usize = 8;

/// The files of one replace: each path with its new contents.
type Files = Vec<(PathBuf, Vec<u8>)>;

/// The outcome of one `syncfs`, shared by every file on that file system.
type SyncOutcome = Result<(), (io::ErrorKind, String)>;

/// One caller's replace: its files and where its result goes.
struct Job {
    files: Files,
    done: Rc<Done>,
}

/// A caller's result slot.
#[derive(Default)]
struct Done {
    result: RefCell<Option<io::Result<()>>>,
    signal: Signal,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    worker_running: bool,
}

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Replaces every `(path, contents)` durably, batched with the other replaces of this thread
/// that wait at the same time.
pub async fn replace_all(files: Files) -> io::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let done = Rc::new(Done::default());
    let start_worker = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.jobs.push(Job {
            files,
            done: done.clone(),
        });
        !std::mem::replace(&mut q.worker_running, true)
    });
    if start_worker {
        glommio::spawn_local(run_rounds()).detach();
    }
    loop {
        if let Some(r) = done.result.borrow_mut().take() {
            return r;
        }
        done.signal.wait().await;
    }
}

/// Runs rounds until the queue is empty.
async fn run_rounds() {
    loop {
        let round = QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            let round = take_round(&mut q.jobs);
            if round.is_empty() {
                q.worker_running = false;
            }
            round
        });
        if round.is_empty() {
            return;
        }
        let (dones, files): (Vec<Rc<Done>>, Vec<Files>) =
            round.into_iter().map(|j| (j.done, j.files)).unzip();
        let results = fault::blocking(move || replace_round(&files)).await;
        for (done, r) in dones.into_iter().zip(results) {
            *done.result.borrow_mut() = Some(r);
            done.signal.notify_all();
        }
    }
}

/// Takes the queued jobs, in order, up to the first one naming a path an earlier one names.
fn take_round(jobs: &mut Vec<Job>) -> Vec<Job> {
    let mut seen: HashSet<&Path> = HashSet::new();
    let mut n = 0;
    'jobs: for job in jobs.iter() {
        for (p, _) in &job.files {
            if !seen.insert(p.as_path()) {
                break 'jobs;
            }
        }
        n += 1;
    }
    // A job repeating a path of its own would never fit: take it alone.
    let n = n.max(1).min(jobs.len());
    jobs.drain(..n).collect()
}

/// Runs one round (blocking): the result of each job, in order.
fn replace_round(jobs: &[Files]) -> Vec<io::Result<()>> {
    let files: usize = jobs.iter().map(Vec::len).sum();
    let distinct = jobs
        .iter()
        .flatten()
        .map(|(p, _)| p.as_path())
        .collect::<HashSet<_>>()
        .len();
    if files < SYNCFS_FROM_FILES || distinct < files {
        return jobs
            .iter()
            .map(|files| crate::durable::replace_all_blocking(files))
            .collect();
    }
    // One descriptor per file system, opened before the first write: `syncfs` reports the
    // writeback errors recorded since its descriptor was opened, so none of this round's can
    // slip past it.
    let mut file_systems = FileSystems::default();
    let mut results: Vec<io::Result<()>> = jobs
        .iter()
        .map(|files| {
            files
                .iter()
                .try_for_each(|(p, _)| file_systems.open(parent_of(p)))?;
            files
                .iter()
                .try_for_each(|(p, c)| std::fs::write(crate::durable::temporary_path(p), c))
        })
        .collect();
    for (files, r) in jobs.iter().zip(&results) {
        if r.is_err() {
            for (p, _) in files {
                let _ = std::fs::remove_file(crate::durable::temporary_path(p));
            }
        }
    }
    file_systems.sync(jobs, &mut results);
    for (files, r) in jobs.iter().zip(results.iter_mut()) {
        if r.is_ok() {
            *r = files
                .iter()
                .try_for_each(|(p, _)| std::fs::rename(crate::durable::temporary_path(p), p));
        }
    }
    file_systems.sync(jobs, &mut results);
    results
}

/// The file systems of one round: an open directory on each, by device number.
#[derive(Default)]
struct FileSystems {
    open: Vec<(u64, std::fs::File)>,
}

impl FileSystems {
    /// Opens `dir` unless its file system already has a descriptor.
    fn open(&mut self, dir: &Path) -> io::Result<()> {
        let dev = std::fs::metadata(dir)?.dev();
        if !self.open.iter().any(|(d, _)| *d == dev) {
            self.open.push((dev, std::fs::File::open(dir)?));
        }
        Ok(())
    }

    /// `syncfs` on every file system holding a file of a job still `Ok`; a failure fails every
    /// job on that file system.
    fn sync(&self, jobs: &[Files], results: &mut [io::Result<()>]) {
        let mut synced: Vec<(u64, SyncOutcome)> = Vec::new();
        for (files, r) in jobs.iter().zip(results.iter_mut()) {
            for (p, _) in files {
                if r.is_err() {
                    break;
                }
                let dir = parent_of(p);
                let outcome = match std::fs::metadata(dir) {
                    Err(e) => Err((e.kind(), e.to_string())),
                    Ok(m) => match synced.iter().find(|(dev, _)| *dev == m.dev()) {
                        Some((_, o)) => o.clone(),
                        None => {
                            let o = match self.open.iter().find(|(d, _)| *d == m.dev()) {
                                Some((_, f)) => syncfs(f),
                                None => Err(io::Error::other("file system not opened")),
                            }
                            .map_err(|e| (e.kind(), e.to_string()));
                            synced.push((m.dev(), o.clone()));
                            o
                        }
                    },
                };
                if let Err((kind, msg)) = outcome {
                    *r = Err(fault::sync_failed(dir, io::Error::new(kind, msg)));
                }
            }
        }
    }
}

/// Flushes the whole file system `f` is on (data, metadata and the journal).
fn syncfs(f: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `f` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_executor<F: std::future::Future<Output = ()> + 'static>(
        f: impl FnOnce() -> F + Send + 'static,
    ) {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn many_concurrent_replaces_all_land_with_the_newest_contents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        on_executor(move || async move {
            let mut tasks = Vec::new();
            // 40 files, each replaced three times by concurrent tasks: rounds batch them and
            // keep each path's replaces in order.
            for gen in 0..3u8 {
                for i in 0..40 {
                    let p = root.join(format!("f{i}"));
                    tasks.push(glommio::spawn_local(async move {
                        replace_all(vec![(p, vec![gen; 100 + i])]).await
                    }));
                }
            }
            for t in tasks {
                t.await.unwrap();
            }
            for i in 0..40 {
                let got = std::fs::read(root.join(format!("f{i}"))).unwrap();
                assert_eq!(got, vec![2u8; 100 + i], "file {i}");
                assert!(!crate::durable::temporary_path(&root.join(format!("f{i}"))).exists());
            }
            assert!(!QUEUE.with(|q| q.borrow().worker_running));
        });
    }

    #[test]
    fn a_failed_write_fails_only_its_own_job() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        on_executor(move || async move {
            let mut tasks = Vec::new();
            for i in 0..20 {
                // Every fifth job writes into a directory that does not exist.
                let p = if i % 5 == 0 {
                    root.join("missing").join(format!("f{i}"))
                } else {
                    root.join(format!("f{i}"))
                };
                tasks.push(glommio::spawn_local(async move {
                    (i, replace_all(vec![(p, vec![7; 10])]).await)
                }));
            }
            for t in tasks {
                let (i, r) = t.await;
                assert_eq!(r.is_err(), i % 5 == 0, "job {i}: {r:?}");
            }
        });
    }
}
