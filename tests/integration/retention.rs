//! Retention and the log start offset: retention.bytes and retention.ms delete whole old
//! segments, DeleteRecords moves the log start offset, and ListOffsets by timestamp finds the
//! right record through the time index, before and after restarts.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::Broker;
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// Broker settings that make housekeeping run often.
const FAST_HOUSEKEEPING: &str =
    "log.retention.check.interval.ms = 100\nlog.cleaner.backoff.ms = 100\n";

fn consumer(bs: &str) -> BaseConsumer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "retention-test")
        .create()
        .expect("consumer")
}

fn watermarks(bs: &str, topic: &str, p: i32) -> (i64, i64) {
    consumer(bs)
        .fetch_watermarks(topic, p, Duration::from_secs(10))
        .expect("watermarks")
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// Waits (bounded) until `cond` holds.
fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn values(n: usize, size: usize, ts: Option<i64>) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(format!("{i:0size$}").into_bytes()),
            timestamp: ts,
            ..Default::default()
        })
        .collect()
}

#[test]
fn retention_bytes_deletes_oldest_segments_and_survives_restart() {
    let mut b = Broker::start_with_config(FAST_HOUSEKEEPING, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(
        &bs,
        "rb",
        1,
        &[("segment.bytes", "16384"), ("retention.bytes", "65536")],
    );
    let acked = client::produce(
        &bs,
        "rb",
        &values(2000, 200, None),
        &[("acks", "all"), ("batch.size", "4000")],
    );
    assert_eq!(acked.last(), Some(&(0, 1999)));
    let dir = b.data_dir().join("rb-0");
    wait_until("retention to delete segments", 30, || {
        watermarks(&bs, "rb", 0).0 > 0
    });
    // retention.bytes keeps at least that much: whole closed segments plus the active one.
    let files = segment_files(&dir);
    assert!(files.len() <= 65536 / 16384 + 2, "segments left: {files:?}");
    let (low, high) = watermarks(&bs, "rb", 0);
    assert_eq!(high, 2000);
    let kept: u64 = files
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).unwrap().len())
        .sum();
    assert!(kept >= 65536 - 16384, "kept only {kept} bytes");
    // The log start is a segment boundary, and everything from it is readable and contiguous.
    assert_eq!(format!("{low:020}.log"), files[0]);
    let got = client::consume(
        &bs,
        "rb",
        &[0],
        Offset::Beginning,
        (high - low) as usize,
        &[],
    );
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.offset, low + i as i64);
        assert_eq!(g.value, Some(format!("{:0200}", g.offset).into_bytes()));
    }
    // Both after a clean restart and after kill -9 the log start stays.
    assert!(b.stop());
    b.restart();
    assert_eq!(watermarks(&bs, "rb", 0), (low, high));
    b.kill9();
    b.restart();
    assert_eq!(watermarks(&bs, "rb", 0), (low, high));
}

#[test]
fn retention_ms_deletes_segments_whose_records_expired() {
    let b = Broker::start_with_config(FAST_HOUSEKEEPING, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(
        &bs,
        "rt",
        1,
        &[("segment.bytes", "8192"), ("retention.ms", "60000")],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let old = now - 10 * 60 * 1000;
    client::produce(
        &bs,
        "rt",
        &values(500, 100, Some(old)),
        &[("acks", "all"), ("batch.size", "4000")],
    );
    client::produce(
        &bs,
        "rt",
        &values(500, 100, Some(now)),
        &[("acks", "all"), ("batch.size", "4000")],
    );
    // Segments holding only old records go; the one where the new records start stays.
    wait_until("expired segments to go", 30, || {
        watermarks(&bs, "rt", 0).0 > 400
    });
    let (low, high) = watermarks(&bs, "rt", 0);
    assert!(
        low <= 500,
        "a segment with unexpired records was deleted: low={low}"
    );
    assert_eq!(high, 1000);
    let got = client::consume(
        &bs,
        "rt",
        &[0],
        Offset::Beginning,
        (high - low) as usize,
        &[],
    );
    assert_eq!(got[0].offset, low);
    assert!(got
        .iter()
        .filter(|g| g.offset >= 500)
        .all(|g| g.timestamp == Some(now)));
}

#[test]
fn delete_records_moves_the_log_start_offset() {
    let mut b = Broker::start_with_config(FAST_HOUSEKEEPING, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(&bs, "dr", 2, &[("segment.bytes", "8192")]);
    client::produce(
        &bs,
        "dr",
        &values(1000, 100, None),
        &[("acks", "all"), ("batch.size", "4000")],
    );
    let admin = client::admin(&bs);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("dr", 0, Offset::Offset(600))
        .unwrap();
    let res = futures_lite::future::block_on(admin.delete_records(&tpl, &opts)).unwrap();
    let e = res.find_partition("dr", 0).unwrap();
    assert!(e.error().is_ok(), "{:?}", e.error());
    assert_eq!(e.offset(), Offset::Offset(600));
    assert_eq!(watermarks(&bs, "dr", 0), (600, 1000));
    // Segments entirely below the new start are deleted; reading starts at 600.
    let files = segment_files(&b.data_dir().join("dr-0"));
    let first: i64 = files[0].trim_end_matches(".log").parse().unwrap();
    assert!(first > 0 && first <= 600, "first segment {first}");
    let got = client::consume(&bs, "dr", &[0], Offset::Beginning, 400, &[]);
    assert_eq!(got[0].offset, 600);
    assert_eq!(got.last().unwrap().offset, 999);
    b.kill9();
    b.restart();
    assert_eq!(watermarks(&bs, "dr", 0), (600, 1000));
    // Beyond the high watermark: OFFSET_OUT_OF_RANGE; End: everything.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("dr", 0, Offset::Offset(5000))
        .unwrap();
    let res = futures_lite::future::block_on(admin.delete_records(&tpl, &opts));
    let failed = match res {
        Ok(l) => l.find_partition("dr", 0).unwrap().error().is_err(),
        Err(_) => true,
    };
    assert!(failed, "deleting past the high watermark must fail");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("dr", 0, Offset::End).unwrap();
    futures_lite::future::block_on(admin.delete_records(&tpl, &opts)).unwrap();
    assert_eq!(watermarks(&bs, "dr", 0), (1000, 1000));
    // The other partition is untouched.
    assert_eq!(watermarks(&bs, "dr", 1).0, 0);
}

#[test]
fn offsets_for_times_across_segments_and_restarts() {
    let mut b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic_with(&bs, "ts", 1, &[("segment.bytes", "8192")]);
    let base = 1_700_000_000_000i64;
    let msgs: Vec<Msg> = (0..3000)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(vec![b'x'; 50]),
            timestamp: Some(base + i * 10),
            ..Default::default()
        })
        .collect();
    client::produce(
        &bs,
        "ts",
        &msgs,
        &[("acks", "all"), ("linger.ms", "20"), ("batch.size", "4000")],
    );
    let check = |label: &str| {
        let c = consumer(&bs);
        for (t, want) in [
            (base - 100, Some(0)),
            (base, Some(0)),
            (base + 5, Some(1)),
            (base + 10, Some(1)),
            (base + 15_000, Some(1500)),
            (base + 29_985, Some(2999)),
            (base + 29_991, None),
        ] {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("ts", 0, Offset::Offset(t))
                .unwrap();
            let r = c.offsets_for_times(tpl, Duration::from_secs(10)).unwrap();
            let got = r.find_partition("ts", 0).unwrap().offset();
            let want = want.map_or(Offset::End, Offset::Offset);
            assert_eq!(got, want, "{label}: timestamp {t}");
        }
    };
    check("live");
    assert!(b.stop());
    let dir = b.data_dir().join("ts-0");
    let time_indexes = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".timeindex"))
        .count();
    assert!(time_indexes > 5, "time index files: {time_indexes}");
    b.restart();
    check("after clean restart");
    // Lose every index: they are rebuilt from the segments.
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.ends_with("index") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    b.kill9();
    b.restart();
    check("after kill -9 without indexes");
}

#[test]
fn segment_ms_rolls_idle_segments_so_retention_can_delete_them() {
    let b = Broker::start_with_config(FAST_HOUSEKEEPING, &[]);
    let bs = b.bootstrap();
    client::create_topic_with(
        &bs,
        "roll",
        1,
        &[("segment.ms", "300"), ("retention.ms", "1000")],
    );
    client::produce(&bs, "roll", &values(10, 10, None), &[("acks", "all")]);
    assert_eq!(watermarks(&bs, "roll", 0), (0, 10));
    // No more writes: the housekeeping task rolls the idle segment after segment.ms, and once its
    // records are older than retention.ms it is deleted.
    wait_until("the idle segment to roll and expire", 20, || {
        watermarks(&bs, "roll", 0) == (10, 10)
    });
    assert_eq!(
        segment_files(&b.data_dir().join("roll-0")),
        vec![format!("{:020}.log", 10)]
    );
    // The log goes on at offset 10.
    let acked = client::produce(&bs, "roll", &values(1, 10, None), &[("acks", "all")]);
    assert_eq!(acked, vec![(0, 10)]);
}
