//! Unit tests of the per-record produce rules, on batches built by hand and by kafka-protocol's
//! encoder (compressed).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::batch::validate_batches;
use crate::records::tests::record;
use crate::validate::tests::hand_batch;

const NOW: i64 = 1_700_000_000_000;

fn create_time(before: i64, after: i64) -> RecordRules {
    RecordRules {
        require_key: false,
        timestamps: TimestampRule::CreateTime {
            now: NOW,
            before_max_ms: before,
            after_max_ms: after,
        },
    }
}

fn keys_required() -> RecordRules {
    RecordRules {
        require_key: true,
        ..create_time(i64::MAX, i64::MAX)
    }
}

/// Sets the base and max timestamps of a hand-made batch and repairs its CRC.
fn stamped(mut b: Vec<u8>, base: i64, max: i64) -> Vec<u8> {
    b[27..35].copy_from_slice(&base.to_be_bytes());
    b[35..43].copy_from_slice(&max.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Runs [`check`] on the single batch `b`, indexes starting at `first`.
fn findings(b: &[u8], rules: &RecordRules, first: u32) -> Result<Findings, Invalid> {
    let info = validate_batches(b, usize::MAX).expect("framing and CRC are fine");
    let mut out = Findings::default();
    check(b, &info[0], rules, first, &mut out)?;
    Ok(out)
}

fn indexes(f: &Findings) -> Vec<u32> {
    f.kept.iter().map(|f| f.index).collect()
}

/// Five records; `keyless` lists the ones without a key. Record `i` has timestamp delta 10 i.
fn five(keyless: &[i64]) -> Vec<u8> {
    let body: Vec<u8> = (0..5)
        .flat_map(|i| record(i, (!keyless.contains(&i)).then_some(&b"k"[..]), Some(b"v")))
        .collect();
    hand_batch(0, 4, 5, &body)
}

#[test]
fn keyless_records_are_named_by_index() {
    let f = findings(&five(&[1, 3]), &keys_required(), 0).unwrap();
    assert_eq!(indexes(&f), [1, 3]);
    assert_eq!(f.total, 2);
    assert!(f.kept.iter().all(|f| f.finding == Finding::MissingKey));
    // Indexes continue from earlier batches of the same partition.
    let f = findings(&five(&[0]), &keys_required(), 7).unwrap();
    assert_eq!(indexes(&f), [7]);
    // Keys are not required elsewhere.
    let f = findings(&five(&[1, 3]), &create_time(i64::MAX, i64::MAX), 0).unwrap();
    assert!(f.is_empty());
}

#[test]
fn nothing_is_allocated_for_a_clean_batch() {
    let f = findings(&five(&[]), &keys_required(), 0).unwrap();
    assert!(f.is_empty());
    assert_eq!(f.kept.capacity(), 0);
}

#[test]
fn every_record_timestamp_is_checked() {
    // Base timestamp at now - 100: record i is at now - 100 + 10 i; the header's base and max
    // timestamps are within the window, only the records tell.
    let b = stamped(five(&[]), NOW - 100, NOW - 60);
    // Before-window of 75 ms: records 0 (-100) and 1 (-90) and 2 (-80) are too old.
    let f = findings(&b, &create_time(75, 0), 0).unwrap();
    assert_eq!(indexes(&f), [0, 1, 2]);
    assert_eq!(
        f.kept[1].finding,
        Finding::TimestampOutOfRange {
            timestamp: NOW - 90,
            offset: 1
        }
    );
    // In the future: base at now + 50, after-window 65 ms: records 2.. (>= now + 70) refused.
    let b = stamped(five(&[]), NOW + 50, NOW + 90);
    let f = findings(&b, &create_time(i64::MAX, 65), 0).unwrap();
    assert_eq!(indexes(&f), [2, 3, 4]);
    // Timestamp -1 is not checked.
    let body: Vec<u8> = (0..2).flat_map(|i| record(i, Some(b"k"), None)).collect();
    let zero_delta = stamped(hand_batch(0, 1, 2, &body), -1, -1);
    // record() gives delta 10 i: record 0 has timestamp -1, record 1 has 9.
    let f = findings(&zero_delta, &create_time(1000, 1000), 0).unwrap();
    assert_eq!(indexes(&f), [1]);
}

#[test]
fn a_missing_key_is_reported_before_the_timestamp() {
    let b = stamped(five(&[2]), 0, 40);
    let f = findings(
        &b,
        &RecordRules {
            require_key: true,
            ..create_time(10, 10)
        },
        0,
    )
    .unwrap();
    assert_eq!(f.total, 5);
    assert_eq!(f.kept[2].finding, Finding::MissingKey);
    assert!(matches!(
        f.kept[3].finding,
        Finding::TimestampOutOfRange { .. }
    ));
}

#[test]
fn producer_log_append_time_batches() {
    let lat = |max| stamped(hand_batch(0x08, 4, 5, &five_body()), 0, max);
    // CreateTime topic: the batch's max timestamp stands for every record.
    assert!(findings(&lat(NOW), &create_time(1000, 1000), 0)
        .unwrap()
        .is_empty());
    let f = findings(&lat(NOW - 5000), &create_time(1000, 1000), 0).unwrap();
    assert_eq!(f.total, 5);
    assert_eq!(
        f.kept[0].finding,
        Finding::TimestampOutOfRange {
            timestamp: NOW - 5000,
            offset: 0
        }
    );
    // No timestamp at all: refused as a producer-set LogAppendTime.
    let f = findings(&lat(-1), &create_time(1000, 1000), 0).unwrap();
    assert_eq!(
        f.kept[4].finding,
        Finding::ProducerLogAppendTime {
            offset: 4,
            timestamp: -1,
            key_len: 1,
            value_len: 1
        }
    );
    // LogAppendTime topic: always refused; unflagged batches are fine.
    let rules = RecordRules {
        require_key: false,
        timestamps: TimestampRule::LogAppendTime,
    };
    assert_eq!(findings(&lat(NOW), &rules, 0).unwrap().total, 5);
    assert!(findings(&five(&[]), &rules, 0).unwrap().is_empty());
}

fn five_body() -> Vec<u8> {
    (0..5)
        .flat_map(|i| record(i, Some(b"k"), Some(b"v")))
        .collect()
}

#[test]
fn findings_are_bounded() {
    let n = MAX_FINDINGS as i64 + 5;
    let body: Vec<u8> = (0..n).flat_map(|i| record(i, None, None)).collect();
    let b = hand_batch(0, n as i32 - 1, n as i32, &body);
    let f = findings(&b, &keys_required(), 0).unwrap();
    assert_eq!(f.total, n as usize);
    assert_eq!(f.kept.len(), MAX_FINDINGS);
    assert_eq!(f.kept.last().unwrap().index, MAX_FINDINGS as u32 - 1);
}

#[test]
fn malformed_batches_stay_errors() {
    let mut body = five_body();
    body.truncate(body.len() - 1);
    let b = hand_batch(0, 4, 5, &body);
    assert!(matches!(
        findings(&b, &keys_required(), 0),
        Err(Invalid::Records(_))
    ));
}

#[test]
fn compressed_batches_are_checked_record_by_record() {
    let records: Vec<Record> = (0..6)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            // As the decoder reports them (base sequence -1 + delta): one batch.
            sequence: -1 + i as i32,
            timestamp: NOW,
            key: (i % 3 != 1).then(|| Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'v'; 100])),
            headers: Default::default(),
        })
        .collect();
    for compression in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
        let mut out = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut out, records.iter(), &opts).unwrap();
        let f = findings(&out, &keys_required(), 0).unwrap();
        assert_eq!(indexes(&f), [1, 4], "{compression:?}");
    }
}
