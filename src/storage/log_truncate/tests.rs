//! Unit tests of [`PartitionLog::truncate_to`] on a real directory: cuts inside a batch, at a
//! batch and a segment boundary, at the log start and at the end; idempotent and
//! transactional producer state after a cut; appends after a cut; a reopen after a cut; and
//! [`PartitionLog::truncate_fully_and_start_at`] (log_restart.rs); and DeleteRecords racing a
//! retention pass (retention.rs), which share the segment-prefix deletion.

use std::path::Path;
use std::rc::Rc;

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::records::{Compression, Record};

use crate::batch;
use crate::cache::CacheBudget;
use crate::log::{Appended, LogConfig, LogError, PartitionLog};

/// A batch of `n` records of producer `pid` (-1: none) starting at sequence `seq`.
fn batch_of(n: usize, pid: i64, seq: i32, txn: bool, fill: u8) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let value = Some(Bytes::from(vec![fill; 300]));
            let mut r = crate::testing::record(i as i64, None, value, 1_700_000_000_000);
            if pid >= 0 {
                r.producer_id = pid;
                r.producer_epoch = 0;
                r.sequence = seq + i as i32;
                r.transactional = txn;
            }
            r
        })
        .collect();
    crate::testing::encode(&records, Compression::None)
}

/// Runs `f` on a fresh executor (a phase: most tests reopen the log between phases, as a
/// restart does).
fn run<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(f)
        .expect("executor")
        .join()
        .expect("join")
}

async fn append(log: &Rc<PartitionLog>, data: &Bytes) -> Appended {
    let infos = batch::validate_batches(data, usize::MAX).expect("valid batch");
    let a = log.append(&infos, data).expect("append");
    log.wait_durable(&a).await.expect("durable");
    a
}

/// (base, next) of every batch readable from the log start.
async fn batches(log: &Rc<PartitionLog>) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    loop {
        let got = log.read(at, 1 << 20, false).await.expect("read");
        if got.is_empty() {
            return out;
        }
        for b in got {
            let mut pos = 0;
            while let Some(h) = batch::peek_header(&b, pos) {
                if h.next_offset() > at {
                    out.push((h.base_offset, h.next_offset()));
                    at = h.next_offset();
                }
                pos += h.len;
            }
        }
    }
}

/// Segments of about three batches of three records each.
fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 3000,
        ..LogConfig::default()
    }
}

async fn open(path: &Path) -> Rc<PartitionLog> {
    PartitionLog::open(path, small_segments(), CacheBudget::new(64 << 20))
        .await
        .expect("open")
}

/// Ten plain batches of three records: offsets 0..30, several segments.
async fn ten_batches(log: &Rc<PartitionLog>) {
    for k in 0..10 {
        append(log, &batch_of(3, -1, 0, false, k)).await;
    }
    assert_eq!(log.log_end_offset(), 30);
}

fn upto(end: i64) -> Vec<(i64, i64)> {
    (0..end / 3).map(|k| (3 * k, 3 * k + 3)).collect()
}

fn phase<F, Fut>(path: &Path, f: F)
where
    F: FnOnce(Rc<PartitionLog>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let path = path.to_path_buf();
    run(move || async move { f(open(&path).await).await })
}

#[test]
fn cuts_inside_a_batch_back_to_its_base_and_appends_continue_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    phase(&path, |log| async move { ten_batches(&log).await });
    phase(&path, |log| async move {
        assert_eq!(batches(&log).await, upto(30));
        assert_eq!(log.truncate_to(14).await, Ok(12));
        assert_eq!(log.log_end_offset(), 12);
        assert_eq!(log.high_watermark(), 12);
        assert_eq!(batches(&log).await, upto(12));
        assert!(log.read(12, 1 << 20, false).await.expect("read").is_empty());
        assert_eq!(
            log.read(13, 1 << 20, false).await,
            Err(LogError::OffsetOutOfRange)
        );
        let a = append(&log, &batch_of(2, -1, 0, false, 99)).await;
        assert_eq!((a.base_offset, a.next_offset), (12, 14));
        log.close().await;
    });
    phase(&path, |log| async move {
        let mut want = upto(12);
        want.push((12, 14));
        assert_eq!(log.log_end_offset(), 14);
        assert_eq!(batches(&log).await, want);
    });
}

#[test]
fn cuts_at_batch_and_segment_boundaries_the_start_and_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    phase(&path, |log| async move { ten_batches(&log).await });
    phase(&path, |log| async move {
        // At the end: nothing changes. Past it or below the start: refused.
        assert_eq!(log.truncate_to(30).await, Ok(30));
        assert_eq!(batches(&log).await, upto(30));
        assert_eq!(log.truncate_to(31).await, Err(LogError::OffsetOutOfRange));
        assert_eq!(log.truncate_to(-1).await, Err(LogError::OffsetOutOfRange));
        // Batch boundaries (27, 18 and 9 are also segment bases), going down.
        for cut in [27, 21, 18, 9, 3] {
            assert_eq!(log.truncate_to(cut).await, Ok(cut));
            assert_eq!(batches(&log).await, upto(cut));
        }
    });
    phase(&path, |log| async move {
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(batches(&log).await, upto(3));
        assert_eq!(log.truncate_to(0).await, Ok(0));
        assert!(batches(&log).await.is_empty());
        ten_batches(&log).await;
        assert_eq!(batches(&log).await, upto(30));
    });
    // Without a clean close: the next start recovers what truncate_to left.
    phase(&path, |log| async move {
        assert_eq!(log.truncate_to(16).await, Ok(15));
    });
    phase(&path, |log| async move {
        assert_eq!(batches(&log).await, upto(15));
    });
}

#[test]
fn a_retried_batch_that_was_cut_is_appended_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let pid = 7;
    let b = move |k: i32| batch_of(3, pid, 3 * k, false, k as u8);
    phase(&path, move |log| async move {
        for k in 0..3 {
            append(&log, &b(k)).await;
        }
    });
    phase(&path, move |log| async move {
        // Before the cut a retry of the last batch is a duplicate.
        let b2 = b(2);
        let infos = batch::validate_batches(&b2, usize::MAX).expect("valid");
        assert_eq!(log.append(&infos, &b2).expect("dup").base_offset, 6);
        assert_eq!(log.log_end_offset(), 9);
        assert_eq!(log.truncate_to(6).await, Ok(6));
        // The batch still there is still a duplicate; the cut one is written again.
        let b1 = b(1);
        let infos = batch::validate_batches(&b1, usize::MAX).expect("valid");
        let dup = log.append(&infos, &b1).expect("dup");
        assert_eq!((dup.base_offset, log.log_end_offset()), (3, 6));
        let again = append(&log, &b2).await;
        assert_eq!((again.base_offset, again.next_offset), (6, 9));
    });
    phase(&path, move |log| async move {
        // A cut inside the producer's batches: it continues after the kept one.
        assert_eq!(log.truncate_to(4).await, Ok(3));
        let b2 = b(2);
        let infos = batch::validate_batches(&b2, usize::MAX).expect("valid");
        assert!(matches!(
            log.append(&infos, &b2),
            Err(LogError::Producer(_))
        ));
        assert_eq!(append(&log, &b(1)).await.base_offset, 3);
    });
}

#[test]
fn transactions_and_aborted_list_follow_the_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let pid = 9;
    phase(&path, move |log| async move {
        // A transaction at 0..3 aborted by the marker at 3, then an open one at 4..7.
        append(&log, &batch_of(3, pid, 0, true, 1)).await;
        let m = log.append_marker(pid, 0, false, 0).expect("marker");
        log.wait_durable(&m).await.expect("durable");
        assert_eq!(m.base_offset, 3);
        append(&log, &batch_of(3, pid, 3, true, 2)).await;
        assert_eq!(log.last_stable_offset(), 4);
        assert_eq!(log.aborted_between(0, 100), vec![(pid, 0)]);
    });
    phase(&path, move |log| async move {
        // Cutting the open transaction: nothing holds the LSO back.
        assert_eq!(log.truncate_to(4).await, Ok(4));
        assert_eq!(log.last_stable_offset(), 4);
        assert_eq!(log.aborted_between(0, 100), vec![(pid, 0)]);
        // Cutting the marker: the first transaction is open again and not known as aborted.
        assert_eq!(log.truncate_to(3).await, Ok(3));
        assert_eq!(log.last_stable_offset(), 0);
        assert!(log.aborted_between(0, 100).is_empty());
        assert!(log.read(0, 1 << 20, true).await.expect("read").is_empty());
        // Commit it now: all of it is stable and nothing is aborted, also after a reopen.
        let m = log.append_marker(pid, 0, true, 0).expect("marker");
        log.wait_durable(&m).await.expect("durable");
        assert_eq!(log.last_stable_offset(), 4);
    });
    phase(&path, move |log| async move {
        assert_eq!(log.last_stable_offset(), 4);
        assert!(log.aborted_between(0, 100).is_empty());
    });
}

/// Written, cut and read back on one executor, whose first direct-I/O file is an empty new
/// segment. glommio probes polled-I/O support with a read of the first file it opens on a
/// device; an empty file used to answer "supported" on devices without poll queues, and every
/// later read of a file opened on that executor failed with EOPNOTSUPP (vendor/glommio,
/// RUNNEL-PATCHES.md, "iopoll-probe").
#[test]
fn cuts_a_log_written_by_the_same_executor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    phase(&path, |log| async move {
        ten_batches(&log).await;
        assert_eq!(log.truncate_to(14).await, Ok(12));
        assert_eq!(batches(&log).await, upto(12));
        let a = append(&log, &batch_of(3, -1, 0, false, 7)).await;
        assert_eq!((a.base_offset, a.next_offset), (12, 15));
        log.close().await;
    });
}

/// A follower behind its leader's log start: everything goes, the log restarts empty at the
/// offset with no producer, transaction or epoch state, appends continue there, and all of it
/// holds after a reopen (no old segment, snapshot or epoch entry comes back).
#[test]
fn restarts_empty_at_an_offset_past_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let pid = 11;
    let p2 = path.clone();
    phase(&path, move |log| async move {
        log.set_leader_epoch(3);
        ten_batches(&log).await;
        // An open transaction at 30..33: it holds the last stable offset back.
        append(&log, &batch_of(3, pid, 0, true, 1)).await;
        assert_eq!(log.last_stable_offset(), 30);
        assert_eq!(log.latest_epoch(), Some(3));
        assert_eq!(log.truncate_fully_and_start_at(100).await, Ok(()));
        assert_eq!(log.log_start_offset(), 100);
        assert_eq!(log.log_end_offset(), 100);
        assert_eq!(log.durable_offset(), 100);
        assert_eq!(log.high_watermark(), 100);
        assert_eq!(log.last_stable_offset(), 100);
        assert!(log.producer_entries().is_empty());
        assert_eq!(log.latest_epoch(), None);
        assert_eq!(
            log.read(20, 1 << 20, false).await,
            Err(LogError::OffsetOutOfRange)
        );
        assert!(log
            .read(100, 1 << 20, false)
            .await
            .expect("read")
            .is_empty());
        let a = append(&log, &batch_of(3, -1, 0, false, 5)).await;
        assert_eq!((a.base_offset, a.next_offset), (100, 103));
        assert_eq!(log.latest_epoch(), Some(3));
        log.close().await;
    });
    let names: Vec<String> = std::fs::read_dir(&p2)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let logs: Vec<&String> = names.iter().filter(|n| n.ends_with(".log")).collect();
    assert_eq!(logs, vec![&format!("{:020}.log", 100)], "{names:?}");
    let old_snapshot = |n: &String| {
        n.strip_suffix(".snapshot")
            .and_then(|o| o.parse::<i64>().ok())
            .is_some_and(|o| o < 100)
    };
    assert!(!names.iter().any(old_snapshot), "{names:?}");
    phase(&path, move |log| async move {
        assert_eq!(log.log_start_offset(), 100);
        assert_eq!(log.log_end_offset(), 103);
        assert_eq!(batches(&log).await, vec![(100, 103)]);
        assert_eq!(log.last_stable_offset(), 103);
        assert!(log.producer_entries().is_empty());
        assert_eq!(log.epoch_entries().len(), 1);
        assert_eq!(log.end_offset_for_epoch(3), (3, 103));
    });
}

/// A restart at an offset inside the log, again at the same offset, then below the log start
/// (Kafka allows any offset: everything goes anyway).
#[test]
fn restarts_inside_the_log_and_refuses_below_its_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    phase(&path, |log| async move {
        ten_batches(&log).await;
        assert_eq!(log.delete_records(6).await, Ok(6));
        assert_eq!(log.truncate_fully_and_start_at(14).await, Ok(()));
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (14, 14));
        assert_eq!(log.truncate_fully_and_start_at(14).await, Ok(()));
        append(&log, &batch_of(2, -1, 0, false, 1)).await;
        assert_eq!(log.truncate_fully_and_start_at(2).await, Ok(()));
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
        let a = append(&log, &batch_of(2, -1, 0, false, 1)).await;
        assert_eq!((a.base_offset, a.next_offset), (2, 4));
        log.close().await;
    });
    phase(&path, |log| async move {
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 4));
        assert_eq!(batches(&log).await, vec![(2, 4)]);
    });
}

/// A follower is served durable batches only: a batch the flusher has not synced yet (which a
/// failed write would cut back) is not read for a replica until it is durable.
#[test]
fn replica_reads_stop_at_the_durable_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    phase(&path, |log| async move {
        append(&log, &batch_of(3, -1, 0, false, 1)).await;
        let data = batch_of(2, -1, 0, false, 2);
        let infos = batch::validate_batches(&data, usize::MAX).expect("valid");
        let a = log.append(&infos, &data).expect("append");
        assert_eq!((log.log_end_offset(), log.durable_offset()), (5, 3));
        let got = log.read_for_replica(0, 1 << 20).await.expect("read");
        assert_eq!(got.len(), 1);
        assert!(log
            .read_for_replica(3, 1 << 20)
            .await
            .expect("read")
            .is_empty());
        log.wait_durable(&a).await.expect("durable");
        assert_eq!(
            log.read_for_replica(3, 1 << 20).await.expect("read").len(),
            1
        );
    });
}

/// DeleteRecords and a retention pass that starts while DeleteRecords is still saving its new
/// log start: the retention pass deletes the segments below the new start, and DeleteRecords
/// must not then delete as many segments again (it once did, by count: records above the
/// requested offset were deleted and the log start jumped past them).
#[test]
fn delete_records_racing_retention_deletes_only_below_the_requested_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let segment_files = {
        let path = path.clone();
        move || {
            std::fs::read_dir(&path)
                .expect("read dir")
                .filter(|e| {
                    let name = e.as_ref().expect("entry").file_name();
                    name.to_string_lossy().ends_with(".log")
                })
                .count()
        }
    };
    let count = segment_files.clone();
    phase(&path, |log| async move {
        ten_batches(&log).await;
        let segments_before = count();
        assert!(segments_before >= 4, "{segments_before} segments");
        let target = 12;
        let retention = {
            let log = log.clone();
            async move {
                while log.log_start_offset() < target {
                    futures_lite::future::yield_now().await;
                }
                log.apply_retention(1_700_000_000_000)
                    .await
                    .expect("retention")
            }
        };
        let (moved, _) = futures_lite::future::zip(log.delete_records(target), retention).await;
        assert_eq!(moved, Ok(target));
        assert_eq!(log.log_start_offset(), target);
        assert_eq!(batches(&log).await, upto(30)[4..].to_vec());
        // Segments of three batches: the one holding offsets 9-17 stays.
        assert_eq!(count(), segments_before - 1);
        log.close().await;
    });
    phase(&path, |log| async move {
        assert_eq!(log.log_start_offset(), 12);
        assert_eq!(batches(&log).await, upto(30)[4..].to_vec());
    });
}
