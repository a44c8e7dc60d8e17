//! Unit tests of [`PartitionLog::append_as_follower`]: the leader's offsets, epochs and
//! producer state kept (also across a reopen), and the refusals: a bad CRC, a gap, an overlap,
//! an epoch going back; a refused append takes nothing.

use std::path::Path;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::records::{Compression, Record};

use crate::batch::{self, BatchInfo};
use crate::cache::CacheBudget;
use crate::error::FollowerFault;
use crate::log::{LogConfig, LogError, PartitionLog};

/// A leader's batch: `n` records of producer `pid` (-1: none) from sequence `seq`, at
/// offset `base`, written in leader epoch `epoch`.
fn leader_batch(base: i64, n: usize, epoch: i32, pid: i64, seq: i32) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let value = Some(Bytes::from(vec![3u8; 50]));
            let mut r = crate::testing::record(i as i64, None, value, 1_700_000_000_000);
            if pid >= 0 {
                r.producer_id = pid;
                r.producer_epoch = 0;
                r.sequence = seq + i as i32;
            }
            r
        })
        .collect();
    let mut b = BytesMut::from(&crate::testing::encode(&records, Compression::None)[..]);
    batch::set_base_offset(&mut b, base);
    batch::set_leader_epoch(&mut b, epoch);
    b.freeze()
}

fn joined(batches: &[Bytes]) -> (Vec<BatchInfo>, Bytes) {
    let mut all = BytesMut::new();
    for b in batches {
        all.extend_from_slice(b);
    }
    let all = all.freeze();
    let infos = batch::validate_batches(&all, usize::MAX).expect("valid batches");
    (infos, all)
}

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

async fn follow(log: &Rc<PartitionLog>, batches: &[Bytes]) -> Result<(), LogError> {
    let (infos, all) = joined(batches);
    let a = log.append_as_follower(&infos, &all)?;
    log.wait_durable(&a).await
}

/// (base offset, epoch, bytes) of every batch readable from the start.
async fn stored(log: &Rc<PartitionLog>) -> Vec<(i64, i32, Bytes)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let got = log.read(at, 1 << 20, false).await.expect("read");
        if got.is_empty() {
            return out;
        }
        for b in got {
            let mut pos = 0;
            while let Some(h) = batch::peek_header(&b, pos) {
                if h.next_offset() > at {
                    let data = b.slice(pos..pos + h.len);
                    out.push((h.base_offset, batch::leader_epoch(&data), data));
                    at = h.next_offset();
                }
                pos += h.len;
            }
        }
    }
}

fn epochs(log: &PartitionLog) -> Vec<(i32, i64)> {
    log.epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

#[test]
fn keeps_the_leaders_offsets_epochs_and_producer_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    let sent = vec![
        leader_batch(0, 3, 1, 7, 0),
        leader_batch(3, 2, 1, 7, 3),
        leader_batch(5, 4, 4, -1, 0),
    ];
    let want = sent.clone();
    let p = path.clone();
    run(move || async move {
        let log = open(&p).await;
        follow(&log, &sent[..2]).await.expect("first fetch");
        follow(&log, &sent[2..]).await.expect("second fetch");
        assert_eq!(log.log_end_offset(), 9);
        assert_eq!(epochs(&log), vec![(1, 0), (4, 5)]);
        assert_eq!(log.end_offset_for_epoch(1), (1, 5));
        assert_eq!(log.leader_epoch(), 4);
        let got = stored(&log).await;
        assert_eq!(got.len(), 3);
        for ((base, epoch, data), w) in got.iter().zip(&want) {
            assert_eq!(data, w, "batch at {base} stored byte for byte");
            assert_eq!(*epoch, batch::leader_epoch(w));
        }
        // The producer state is the leader's: producer 7's next sequence is 5.
        let producers = log.producer_entries();
        let (pid, entry) = producers.first().expect("producer 7 known");
        assert_eq!(*pid, 7);
        let last = entry.batches.back().expect("a batch");
        assert_eq!(
            (last.last_seq, last.base_offset, last.next_offset),
            (4, 3, 5),
            "{entry:?}"
        );
        log.close().await;
    });
    run(move || async move {
        let log = open(&path).await;
        assert_eq!(epochs(&log), vec![(1, 0), (4, 5)]);
        assert_eq!(stored(&log).await.len(), 3);
    });
}

#[test]
fn refuses_batches_that_do_not_continue_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p-0");
    run(move || async move {
        let log = open(&path).await;
        follow(&log, &[leader_batch(0, 2, 3, -1, 0)])
            .await
            .expect("first");
        let refused = |r: Result<(), LogError>| match r {
            Err(LogError::Follower(f)) => f,
            other => panic!("expected a refusal, got {other:?}"),
        };
        // A gap, an overlap, a gap between two batches of one fetch.
        assert_eq!(
            refused(follow(&log, &[leader_batch(3, 1, 3, -1, 0)]).await),
            FollowerFault::Offset {
                expected: 2,
                got: 3
            }
        );
        assert_eq!(
            refused(follow(&log, &[leader_batch(1, 1, 3, -1, 0)]).await),
            FollowerFault::Offset {
                expected: 2,
                got: 1
            }
        );
        assert_eq!(
            refused(
                follow(
                    &log,
                    &[leader_batch(2, 1, 3, -1, 0), leader_batch(4, 1, 3, -1, 0)]
                )
                .await
            ),
            FollowerFault::Offset {
                expected: 3,
                got: 4
            }
        );
        // An epoch older than the log's, or than the batch before it in the same fetch.
        assert_eq!(
            refused(follow(&log, &[leader_batch(2, 1, 2, -1, 0)]).await),
            FollowerFault::Epoch { newest: 3, got: 2 }
        );
        assert_eq!(
            refused(
                follow(
                    &log,
                    &[leader_batch(2, 1, 5, -1, 0), leader_batch(3, 1, 4, -1, 0)]
                )
                .await
            ),
            FollowerFault::Epoch { newest: 5, got: 4 }
        );
        // A corrupt batch (a record byte flipped; the CRC covers it).
        let mut bad = BytesMut::from(&leader_batch(2, 1, 3, -1, 0)[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let bad = bad.freeze();
        let infos = vec![batch::peek_header(&bad, 0).expect("header")];
        assert_eq!(
            log.append_as_follower(&infos, &bad).map(|_| ()),
            Err(LogError::Follower(FollowerFault::Crc { base_offset: 2 }))
        );
        // Nothing of a refused append was taken; the right batch still goes in.
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(epochs(&log), vec![(3, 0)]);
        follow(
            &log,
            &[leader_batch(2, 1, 3, -1, 0), leader_batch(3, 2, 6, -1, 0)],
        )
        .await
        .expect("continues the log");
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(epochs(&log), vec![(3, 0), (6, 3)]);
    });
}
