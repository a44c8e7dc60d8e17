//! Unit tests of the compaction rules on real encoded batches.

use std::cell::Cell;

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder};

use super::filter::{Outcome, Rules};
use super::keymap::KeyMap;
use crate::batch;
use crate::producers::AbortedTxn;

fn record(offset: i64, key: &str, value: Option<&str>, ts: i64) -> Record {
    crate::testing::record(
        offset,
        Some(Bytes::copy_from_slice(key.as_bytes())),
        value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        ts,
    )
}

fn encode(records: &[Record], compression: Compression) -> Bytes {
    crate::testing::encode(records, compression)
}

fn rules<'a>(keys: &'a KeyMap, aborted: &'a [AbortedTxn], clean_until: i64) -> Rules<'a> {
    Rules {
        keys,
        aborted,
        clean_until,
        tombstone_horizon: 1_000,
        delete_retention_ms: 500,
        next_tombstone_due: Cell::new(None),
    }
}

#[test]
fn superseded_records_go_and_the_rest_keep_offsets_and_codec() {
    let data = encode(
        &[
            record(10, "a", Some("a1"), 100),
            record(11, "b", Some("b1"), 101),
            record(12, "a", Some("a2"), 102),
        ],
        Compression::Lz4,
    );
    let info = batch::peek_header(&data, 0).unwrap();
    let mut keys = KeyMap::with_memory(1 << 20);
    for (k, o) in [("a", 10), ("b", 11), ("a", 12)] {
        keys.put(k.as_bytes(), o);
    }
    let Outcome::Rewrite(out) = rules(&keys, &[], 0).apply(&info, &data) else {
        panic!("expected a rewrite");
    };
    assert!(batch::crc_ok(&out));
    let mut buf = out.clone();
    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
    assert_eq!(set.compression, Compression::Lz4);
    let got: Vec<(i64, &[u8])> = set
        .records
        .iter()
        .map(|r| (r.offset, r.value.as_deref().unwrap()))
        .collect();
    assert_eq!(got, vec![(11, &b"b1"[..]), (12, &b"a2"[..])]);
    // Nothing superseded: kept byte for byte. Everything superseded: dropped.
    let mut newest = KeyMap::with_memory(1 << 20);
    newest.put(b"a", 12);
    newest.put(b"b", 11);
    let tail = encode(&[record(12, "a", Some("a2"), 102)], Compression::None);
    let tinfo = batch::peek_header(&tail, 0).unwrap();
    assert!(matches!(
        rules(&newest, &[], 0).apply(&tinfo, &tail),
        Outcome::Keep
    ));
    newest.put(b"a", 20);
    assert!(matches!(
        rules(&newest, &[], 0).apply(&tinfo, &tail),
        Outcome::Drop
    ));
}

#[test]
fn tombstones_stay_until_cleaned_once_and_old_enough() {
    let data = encode(
        &[record(5, "t", None, 900), record(6, "u", Some("x"), 900)],
        Compression::None,
    );
    let info = batch::peek_header(&data, 0).unwrap();
    let keys = KeyMap::with_memory(1 << 20);
    // Not yet through a pass (offset >= clean_until): kept, with a due time.
    let r = rules(&keys, &[], 0);
    assert!(matches!(r.apply(&info, &data), Outcome::Keep));
    assert_eq!(r.next_tombstone_due.get(), Some(1_400));
    // Cleaned before and older than the horizon: removed.
    let r = rules(&keys, &[], 100);
    let Outcome::Rewrite(out) = r.apply(&info, &data) else {
        panic!("expected the tombstone to go");
    };
    let mut buf = out;
    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
    assert_eq!(set.records.len(), 1);
    assert_eq!(set.records[0].offset, 6);
}

#[test]
fn aborted_transactions_go_and_markers_stay() {
    let mut rec = record(30, "k", Some("v"), 1);
    rec.transactional = true;
    rec.producer_id = 7;
    rec.producer_epoch = 0;
    rec.sequence = 0;
    let data = encode(&[rec], Compression::None);
    let info = batch::peek_header(&data, 0).unwrap();
    let keys = KeyMap::with_memory(1 << 20);
    let aborted = [AbortedTxn {
        producer_id: 7,
        first_offset: 30,
        last_offset: 31,
    }];
    assert!(matches!(
        rules(&keys, &aborted, 0).apply(&info, &data),
        Outcome::Drop
    ));
    assert!(matches!(
        rules(&keys, &[], 0).apply(&info, &data),
        Outcome::Keep
    ));
}

#[test]
fn batches_with_lying_counts_are_kept_never_decoded() {
    use crate::records::tests::record as raw_record;
    use crate::validate::tests::hand_batch;
    let one = raw_record(0, Some(b"k"), Some(b"v"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &one).unwrap();
    let gz = gz.finish().unwrap();
    // Correct CRCs, headers claiming 2^31-1 records over one (the decoder would reserve room
    // for all of them and abort the process).
    for (attrs, body) in [(0, one.clone()), (1, gz)] {
        let data = Bytes::from(hand_batch(attrs, i32::MAX - 1, i32::MAX, &body));
        let info = batch::peek_header(&data, 0).unwrap();
        let mut seen = 0;
        assert!(!super::filter::for_each_key(&data, &info, |_, _| seen += 1));
        let mut keys = KeyMap::with_memory(1 << 20);
        keys.put(b"k", 5);
        assert!(matches!(
            rules(&keys, &[], 0).apply(&info, &data),
            Outcome::Keep
        ));
    }
}
