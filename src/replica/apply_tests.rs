//! Unit tests of a follower applying leader answers to a real partition log: good answers
//! are appended as they are (offsets, epochs, bytes), the high watermark and log start follow;
//! lying or malformed answers (a bad CRC, a gap, an epoch going back, garbage, a partial or
//! oversized batch, an error code, a diverging epoch that makes no sense) are refused or
//! ignored without a panic and without touching the log; a diverging epoch truncates as
//! Kafka's follower does.

use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::records::{Compression, Record};

use super::*;
use crate::storage::{CacheBudget, LogConfig, PartitionLog};

/// A leader's batch of `n` records at offset `base`, written in leader epoch `epoch`.
fn leader_batch(base: i64, n: usize, epoch: i32) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let value = Some(Bytes::from(vec![7u8; 700]));
            crate::storage::testing::record(i as i64, None, value, 1_700_000_000_000)
        })
        .collect();
    let mut b = BytesMut::from(&crate::storage::testing::encode(&records, Compression::None)[..]);
    batch::set_base_offset(&mut b, base);
    batch::set_leader_epoch(&mut b, epoch);
    b.freeze()
}

fn answer(records: Bytes, hw: i64, log_start: i64) -> PartitionData {
    let mut pd = PartitionData::default();
    pd.high_watermark = hw;
    pd.log_start_offset = log_start;
    pd.records = Some(records);
    pd
}

fn joined(batches: &[Bytes]) -> Bytes {
    let mut all = BytesMut::new();
    for b in batches {
        all.extend_from_slice(b);
    }
    all.freeze()
}

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(f)
        .expect("executor")
        .join()
        .expect("join");
}

async fn followed(dir: &std::path::Path) -> Followed {
    crate::storage::open_files::set_capacity(64);
    let log = PartitionLog::open(
        &dir.join("t-0"),
        LogConfig {
            segment_bytes: 3000,
            ..LogConfig::default()
        },
        CacheBudget::new(64 << 20),
    )
    .await
    .expect("open");
    Followed {
        topic: Arc::from("t"),
        topic_id: uuid::Uuid::nil(),
        partition: 0,
        leader_epoch: 3,
        log,
    }
}

/// Every stored batch's bytes, read as a follower's leader would serve them.
async fn stored(log: &Rc<PartitionLog>) -> Bytes {
    let mut out = BytesMut::new();
    for b in log.read_for_replica(0, 1 << 20).await.expect("read") {
        out.extend_from_slice(&b);
    }
    out.freeze()
}

#[test]
fn complete_prefix_drops_partial_tails_and_refuses_bad_lengths() {
    let header = |len: i32| {
        let mut h = vec![0u8; 8];
        h.extend_from_slice(&len.to_be_bytes());
        h
    };
    let mut b = header(4);
    b.extend_from_slice(&[1, 2, 3, 4]);
    let one = b.len();
    b.extend_from_slice(&header(100));
    b.extend_from_slice(&[0; 10]);
    assert_eq!(complete_prefix(&b), Some(one));
    assert_eq!(complete_prefix(&header(-5)), None);
    assert_eq!(complete_prefix(&header(i32::MAX)), None);
    assert_eq!(complete_prefix(&[0; 5]), Some(0));
    assert_eq!(complete_prefix(&[]), Some(0));
}

#[test]
fn good_answers_are_appended_as_they_are() {
    run(|| async {
        let dir = tempfile::tempdir().unwrap();
        let p = followed(dir.path()).await;
        let sent = joined(&[leader_batch(0, 3, 1), leader_batch(3, 2, 2)]);
        // A trailing partial batch is left for the next fetch.
        let partial = leader_batch(5, 2, 2);
        let mut with_partial = BytesMut::from(&sent[..]);
        with_partial.extend_from_slice(&partial[..partial.len() - 5]);
        let out = apply(&p, answer(with_partial.freeze(), 4, 0)).await;
        assert_eq!(out, Outcome::Progress);
        assert_eq!(p.log.log_end_offset(), 5);
        assert_eq!(stored(&p.log).await, sent, "the leader's bytes, unchanged");
        assert_eq!(p.log.latest_epoch(), Some(2));
        // The high watermark is the leader's, never above the follower's log end.
        assert_eq!(p.log.high_watermark(), 4);
        let out = apply(&p, answer(Bytes::new(), 99, 0)).await;
        assert_eq!(out, Outcome::Idle);
        assert_eq!(p.log.high_watermark(), 5);
        // The log start follows the leader's, up to the high watermark.
        let out = apply(&p, answer(Bytes::new(), 5, 3)).await;
        assert_eq!(out, Outcome::Idle);
        assert_eq!(p.log.log_start_offset(), 3);
    });
}

#[test]
fn lying_or_malformed_answers_change_nothing() {
    run(|| async {
        let dir = tempfile::tempdir().unwrap();
        let p = followed(dir.path()).await;
        let first = leader_batch(0, 3, 2);
        assert_eq!(
            apply(&p, answer(first.clone(), 3, 0)).await,
            Outcome::Progress
        );
        let before = stored(&p.log).await;
        let mut bad_crc = BytesMut::from(&leader_batch(3, 2, 2)[..]);
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0xff;
        let mut garbage_len = BytesMut::from(&leader_batch(3, 1, 2)[..]);
        garbage_len[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        let lies: Vec<(&str, PartitionData, bool)> = vec![
            ("bad CRC", answer(bad_crc.freeze(), 5, 0), true),
            ("a gap", answer(leader_batch(7, 2, 2), 9, 0), true),
            ("an overlap", answer(leader_batch(1, 2, 2), 9, 0), true),
            (
                "an epoch going back",
                answer(leader_batch(3, 2, 1), 5, 0),
                true,
            ),
            ("garbage", answer(Bytes::from(vec![0xab; 300]), 3, 0), true),
            (
                "an oversized length",
                answer(garbage_len.freeze(), 3, 0),
                true,
            ),
            (
                "a bad magic",
                {
                    let mut b = BytesMut::from(&leader_batch(3, 1, 2)[..]);
                    b[16] = 1;
                    answer(b.freeze(), 3, 0)
                },
                true,
            ),
            (
                "an error code",
                {
                    let mut pd = answer(leader_batch(3, 2, 2), 5, 0);
                    pd.error_code = 6;
                    pd
                },
                true,
            ),
            (
                "a diverging epoch past the log end",
                {
                    let mut pd = answer(Bytes::new(), 3, 0);
                    pd.diverging_epoch.epoch = 2;
                    pd.diverging_epoch.end_offset = 10;
                    pd
                },
                true,
            ),
        ];
        for (what, pd, refused) in lies {
            let out = apply(&p, pd).await;
            if refused {
                assert!(matches!(out, Outcome::Retry(_)), "{what}: {out:?}");
            } else {
                assert_eq!(out, Outcome::Idle, "{what}");
            }
            assert_eq!(p.log.log_end_offset(), 3, "{what}: nothing appended");
            assert_eq!(stored(&p.log).await, before, "{what}: bytes unchanged");
        }
    });
}

#[test]
fn a_diverging_epoch_truncates_as_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    // The follower has epoch 2 at 0..3 and epoch 4 at 3..8 (a leader's tail it lost).
    // Written in one run and truncated in the next, as the storage crate's truncation tests
    // do (see docs/replication.md, "Known gaps", on truncating in the run that wrote).
    let first = path.clone();
    run(move || async move {
        let p = followed(&first).await;
        let mine = joined(&[leader_batch(0, 3, 2), leader_batch(3, 5, 4)]);
        assert_eq!(apply(&p, answer(mine, 2, 0)).await, Outcome::Progress);
        assert_eq!(p.log.log_end_offset(), 8);
        p.log.close().await;
    });
    run(move || async move {
        let p = followed(&path).await;
        assert_eq!(p.log.log_end_offset(), 8);
        // The leader never had epoch 4: its epoch 2 ends at 5. The follower's epoch 2 ends
        // at 3 (where its epoch 4 starts): cut to 3.
        let mut pd = answer(Bytes::new(), 3, 0);
        pd.diverging_epoch.epoch = 2;
        pd.diverging_epoch.end_offset = 5;
        assert_eq!(apply(&p, pd).await, Outcome::Progress);
        assert_eq!(p.log.log_end_offset(), 3);
        assert_eq!(p.log.latest_epoch(), Some(2));
        // Then the leader's records continue it.
        let next = leader_batch(3, 2, 5);
        assert_eq!(apply(&p, answer(next, 5, 0)).await, Outcome::Progress);
        assert_eq!(p.log.log_end_offset(), 5);
    });
}

/// OFFSET_OUT_OF_RANGE with the leader's log start past the follower's end: the follower's
/// log is emptied and restarts there (Kafka's `truncateFullyAndStartAt`), the leader's next
/// batches are appended from there, and a leader that keeps answering out of range for the
/// restarted log is backed off instead of restarting it again.
#[test]
fn out_of_range_restarts_the_log_at_the_leader_start() {
    run(|| async {
        let dir = tempfile::tempdir().unwrap();
        let p = followed(dir.path()).await;
        let sent = joined(&[leader_batch(0, 3, 1), leader_batch(3, 2, 1)]);
        assert_eq!(apply(&p, answer(sent, 5, 0)).await, Outcome::Progress);
        assert_eq!(p.log.log_end_offset(), 5);
        // The leader deleted everything below 40 meanwhile.
        let mut oor = answer(Bytes::new(), 60, 40);
        oor.error_code = 1;
        assert_eq!(apply(&p, oor.clone()).await, Outcome::Progress);
        assert_eq!(p.log.log_start_offset(), 40);
        assert_eq!(p.log.log_end_offset(), 40);
        assert_eq!(p.log.high_watermark(), 40);
        assert_eq!(p.log.latest_epoch(), None);
        // Out of range again at the same start: backed off, not restarted in a loop.
        assert!(matches!(apply(&p, oor).await, Outcome::Retry(_)));
        // A leader answer without a log start: refused.
        let mut bad = answer(Bytes::new(), 60, -1);
        bad.error_code = 1;
        assert!(matches!(apply(&p, bad).await, Outcome::Retry(_)));
        // Fetching resumes at the leader's start, inside the batch 38..41 (DeleteRecords
        // cut there): the log restarts at its base and the log start follows the leader's.
        let holding = leader_batch(38, 3, 2);
        assert_eq!(
            apply(&p, answer(holding.clone(), 41, 40)).await,
            Outcome::Progress
        );
        assert_eq!((p.log.log_start_offset(), p.log.log_end_offset()), (40, 41));
        assert_eq!(p.log.latest_epoch(), Some(2));
        let next = leader_batch(41, 2, 2);
        assert_eq!(
            apply(&p, answer(next.clone(), 43, 40)).await,
            Outcome::Progress
        );
        assert_eq!(p.log.log_end_offset(), 43);
        assert_eq!(
            p.log.read_for_replica(40, 1 << 20).await.unwrap(),
            vec![holding, next]
        );
        // A batch below a log that is not empty is still refused.
        let below = leader_batch(30, 3, 2);
        assert!(matches!(
            apply(&p, answer(below, 43, 40)).await,
            Outcome::Retry(_)
        ));
    });
}
