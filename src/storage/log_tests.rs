//! Unit tests of a partition log on a real directory: the segment tail kept across unaligned
//! writes, reads from disk through the read-ahead window, and the cache budget given back when
//! a log is dropped.

use std::rc::Rc;

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::records::{Compression, Record};

use super::batch;
use super::cache::CacheBudget;
use super::log::{LogConfig, PartitionLog};

/// One batch of `n` records whose values are `size` bytes of `fill`.
fn batch_of(n: usize, size: usize, fill: u8) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let value = Some(Bytes::from(vec![fill; size]));
            crate::testing::record(i as i64, None, value, 1_700_000_000_000)
        })
        .collect();
    crate::testing::encode(&records, Compression::None)
}

fn run<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    let ex = LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(f)
        .expect("executor");
    ex.join().expect("join")
}

async fn append_durable(log: &Rc<PartitionLog>, data: &Bytes) {
    let infos = batch::validate_batches(data, usize::MAX).expect("valid batch");
    let appended = log.append(&infos, data).expect("append");
    log.wait_durable(&appended).await.expect("durable");
}

#[test]
fn unaligned_appends_read_back_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let written = run(move || async move {
        let budget = CacheBudget::new(64 << 20);
        let log = PartitionLog::open(&path, LogConfig::default(), budget.clone())
            .await
            .expect("open");
        // Sizes chosen so that writes start and end at every kind of unaligned position.
        let mut written = Vec::new();
        for (k, (n, size)) in [(1, 7), (3, 1000), (1, 5000), (2, 3), (5, 777), (1, 4096)]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
        {
            let b = batch_of(*n, *size, k as u8);
            append_durable(&log, &b).await;
            written.push(b);
        }
        log.close().await;
        drop(log);
        assert_eq!(
            budget.used(),
            0,
            "a dropped log gives its cached bytes back"
        );
        written
    });
    // Reopen on a fresh executor, as a restarted broker does, and read everything from disk.
    let path = dir.path().join("p-0");
    run(move || async move {
        let budget = CacheBudget::new(64 << 20);
        let log = PartitionLog::open(&path, LogConfig::default(), budget.clone())
            .await
            .expect("reopen");
        let mut offset = 0i64;
        let mut read_ahead = 0;
        for (k, want) in written.iter().enumerate() {
            let got = log.read(offset, 1, false).await.expect("read");
            assert_eq!(got.len(), 1, "batch {k}");
            let info = batch::peek_header(&got[0], 0).expect("header");
            assert_eq!(info.base_offset, offset, "batch {k}");
            // Everything after the base offset and the leader epoch is the producer's bytes.
            let first_diff = got[0]
                .iter()
                .zip(want.iter())
                .skip(16)
                .position(|(a, b)| a != b);
            assert_eq!(
                (got[0].len(), first_diff),
                (want.len(), None),
                "batch {k}: length and first differing byte"
            );
            offset = info.next_offset();
            // A window read ahead is reserved in the budget while it waits for the next read.
            if budget.ahead_used() > 0 {
                read_ahead += 1;
            }
        }
        assert!(read_ahead > 0, "disk reads read the next window ahead");
        drop(log);
        assert_eq!(budget.used(), 0, "nothing was cached by reads");
        assert_eq!(
            budget.ahead_used(),
            0,
            "a dropped log gives its read-ahead bytes back"
        );
    });
}
