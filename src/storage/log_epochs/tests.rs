//! Unit tests of leader epochs in a partition log on a real directory: epochs stamped into
//! appended batches and kept across a reopen, the checkpoint rebuilt from the batch headers
//! when missing or corrupt, cut by `truncate_to` and by a log start move (DeleteRecords); and
//! the visible offset set from above.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::records::{Compression, Record};

use crate::batch;
use crate::cache::CacheBudget;
use crate::epochs::FILE;
use crate::log::{LogConfig, PartitionLog};

/// A batch of `n` plain records.
fn batch_of(n: usize) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let value = Some(Bytes::from(vec![7u8; 100]));
            crate::testing::record(i as i64, None, value, 1_700_000_000_000)
        })
        .collect();
    crate::testing::encode(&records, Compression::None)
}

/// Runs `f` on a fresh executor (each phase that reads back from disk gets its own; see
/// log_truncate/tests.rs).
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

async fn open(path: &Path) -> Rc<PartitionLog> {
    PartitionLog::open(path, LogConfig::default(), CacheBudget::new(64 << 20))
        .await
        .expect("open")
}

async fn append(log: &Rc<PartitionLog>, n: usize) {
    let data = batch_of(n);
    let infos = batch::validate_batches(&data, usize::MAX).expect("valid batch");
    let a = log.append(&infos, &data).expect("append");
    log.wait_durable(&a).await.expect("durable");
}

/// (base offset, leader epoch) of every batch readable from the log start.
async fn stamped(log: &Rc<PartitionLog>) -> Vec<(i64, i32)> {
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
                    out.push((h.base_offset, batch::leader_epoch(&b[pos..])));
                    at = h.next_offset();
                }
                pos += h.len;
            }
        }
    }
}

fn entries(log: &PartitionLog) -> Vec<(i32, i64)> {
    log.epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

/// Writes epochs 0 (offsets 0..6), 3 (6..10) and 5 (10..15) to a new log in `path`.
fn write_three_epochs(path: PathBuf) {
    run(move || async move {
        let log = open(&path).await;
        append(&log, 3).await;
        append(&log, 3).await;
        log.set_leader_epoch(3);
        append(&log, 4).await;
        log.set_leader_epoch(2);
        assert_eq!(log.leader_epoch(), 3, "an older epoch is ignored");
        log.set_leader_epoch(5);
        append(&log, 5).await;
        assert_eq!(entries(&log), vec![(0, 0), (3, 6), (5, 10)]);
        assert_eq!(stamped(&log).await, vec![(0, 0), (3, 0), (6, 3), (10, 5)]);
        log.close().await;
    });
}

#[test]
fn epochs_are_stamped_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    write_three_epochs(path.clone());
    let file = std::fs::read(path.join(FILE)).expect("checkpoint written");
    assert_eq!(file, b"0\n3\n0 0\n3 6\n5 10\n");
    run(move || async move {
        let log = open(&path).await;
        assert_eq!(entries(&log), vec![(0, 0), (3, 6), (5, 10)]);
        assert_eq!(log.leader_epoch(), 5, "the newest epoch in the log");
        assert_eq!(stamped(&log).await, vec![(0, 0), (3, 0), (6, 3), (10, 5)]);
        assert_eq!(log.end_offset_for_epoch(5), (5, 15));
        assert_eq!(log.end_offset_for_epoch(3), (3, 10));
        assert_eq!(log.end_offset_for_epoch(4), (3, 10));
        assert_eq!(log.end_offset_for_epoch(0), (0, 6));
        assert_eq!(log.end_offset_for_epoch(6), (-1, -1));
    });
}

#[test]
fn missing_or_corrupt_checkpoint_is_rebuilt_from_batches() {
    for damage in [None, Some(&b"0\n3\n0 0\n3 6\n"[..]), Some(b"garbage")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p-0");
        write_three_epochs(path.clone());
        match damage {
            None => std::fs::remove_file(path.join(FILE)).expect("remove"),
            Some(b) => std::fs::write(path.join(FILE), b).expect("damage"),
        }
        let p = path.clone();
        run(move || async move {
            let log = open(&p).await;
            assert_eq!(entries(&log), vec![(0, 0), (3, 6), (5, 10)], "{damage:?}");
        });
        let file = std::fs::read(path.join(FILE)).expect("checkpoint rewritten");
        assert_eq!(file, b"0\n3\n0 0\n3 6\n5 10\n", "{damage:?}");
    }
}

#[test]
fn checkpoint_past_the_log_end_is_cut_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    write_three_epochs(path.clone());
    // As if a crash lost the batches of epoch 7 after its entry was checkpointed.
    std::fs::write(path.join(FILE), b"0\n4\n0 0\n3 6\n5 10\n7 15\n").expect("write");
    run(move || async move {
        let log = open(&path).await;
        assert_eq!(entries(&log), vec![(0, 0), (3, 6), (5, 10)]);
        assert_eq!(log.leader_epoch(), 5);
    });
}

#[test]
fn truncation_cuts_the_epochs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    write_three_epochs(path.clone());
    let p = path.clone();
    run(move || async move {
        let log = open(&p).await;
        // A cut inside epoch 3's batch (6..10) cuts back to its base: epochs 3 and 5 go.
        assert_eq!(log.truncate_to(8).await.expect("truncate"), 6);
        assert_eq!(entries(&log), vec![(0, 0)]);
        assert_eq!(log.end_offset_for_epoch(0), (0, 6));
        assert_eq!(log.end_offset_for_epoch(3), (-1, -1));
        // A new leader's epoch starts at the cut.
        log.set_leader_epoch(6);
        append(&log, 2).await;
        assert_eq!(entries(&log), vec![(0, 0), (6, 6)]);
        log.close().await;
    });
    assert_eq!(
        std::fs::read(path.join(FILE)).expect("checkpoint"),
        b"0\n2\n0 0\n6 6\n"
    );
    run(move || async move {
        let log = open(&path).await;
        assert_eq!(entries(&log), vec![(0, 0), (6, 6)]);
        assert_eq!(stamped(&log).await, vec![(0, 0), (3, 0), (6, 6)]);
    });
}

#[test]
fn log_start_moves_cut_the_epochs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    write_three_epochs(path.clone());
    let p = path.clone();
    run(move || async move {
        let log = open(&p).await;
        assert_eq!(log.delete_records(8).await.expect("delete records"), 8);
        assert_eq!(entries(&log), vec![(3, 8), (5, 10)]);
        assert_eq!(
            log.end_offset_for_epoch(0),
            (0, 8),
            "below the first: its start"
        );
        assert_eq!(log.delete_records(-1).await.expect("delete records"), 15);
        assert_eq!(entries(&log), vec![(5, 15)]);
        log.close().await;
    });
    assert_eq!(
        std::fs::read(path.join(FILE)).expect("checkpoint"),
        b"0\n1\n5 15\n"
    );
}

#[test]
fn visible_offset_set_from_above() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    run(move || async move {
        let log = open(&path).await;
        append(&log, 3).await;
        append(&log, 3).await;
        assert_eq!((log.durable_offset(), log.high_watermark()), (6, 6));
        log.set_high_watermark(Some(3));
        assert_eq!((log.durable_offset(), log.high_watermark()), (6, 3));
        assert_eq!(log.last_stable_offset(), 3);
        assert_eq!(
            stamped(&log).await,
            vec![(0, 0)],
            "nothing above the visible offset"
        );
        assert!(
            log.read(4, 1 << 20, false).await.is_err(),
            "past the visible offset"
        );
        // Never above the durable offset.
        log.set_high_watermark(Some(100));
        assert_eq!(log.high_watermark(), 6);
        log.set_high_watermark(None);
        append(&log, 1).await;
        assert_eq!(log.high_watermark(), 7, "follows the durable offset again");
    });
}

#[test]
fn rebuild_reads_segments_whose_epochs_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let p = path.clone();
    // Small segments: about four batches each. Epochs change inside segments and at their
    // boundaries; several segments hold one epoch only.
    let want = run(move || async move {
        let cfg = LogConfig {
            segment_bytes: 4 * batch_of(2).len() as u64,
            ..LogConfig::default()
        };
        let log = PartitionLog::open(&p, cfg, CacheBudget::new(64 << 20))
            .await
            .expect("open");
        for (k, epoch) in [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 5, 5, 5, 5, 5, 5, 5, 5, 9, 9,
        ]
        .into_iter()
        .enumerate()
        {
            log.set_leader_epoch(epoch);
            append(&log, 2).await;
            if k == 13 {
                // A log start inside the log.
                log.delete_records(3).await.expect("delete records");
            }
        }
        let want = entries(&log);
        log.close().await;
        want
    });
    assert_eq!(want, vec![(0, 3), (2, 18), (5, 22), (9, 38)]);
    let segments = std::fs::read_dir(&path)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count();
    assert!(segments >= 4, "{segments} segments");
    std::fs::remove_file(path.join(FILE)).expect("remove");
    run(move || async move {
        let log = open(&path).await;
        assert_eq!(entries(&log), want);
    });
}
