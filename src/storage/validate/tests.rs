//! Unit tests of batch validation, with batches built by hand (lying headers) and by
//! kafka-protocol's encoder (every codec).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::batch::{peek_header, validate_batches};
use crate::records::tests::record;
use crate::records::RecordFault;

/// A batch with the given header fields over `body`, with a correct CRC.
pub(crate) fn hand_batch(attrs: i16, last_delta: i32, count: i32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN];
    b.extend_from_slice(body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[16] = 2;
    b[21..23].copy_from_slice(&attrs.to_be_bytes());
    b[23..27].copy_from_slice(&last_delta.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn encoded(codec: Compression, n: i64) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            // As the decoder reports them: base sequence (-1) + delta, one batch.
            sequence: -1 + i as i32,
            timestamp: 1_000 + i,
            key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'v'; 300])),
            headers: [("h".into(), Some(Bytes::from_static(b"x")))]
                .into_iter()
                .collect(),
        })
        .collect();
    let mut out = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut out, records.iter(), &opts).unwrap();
    out.freeze()
}

fn run(batch: &[u8], origin: Origin) -> Result<u32, Invalid> {
    let info = validate_batches(batch, usize::MAX).expect("framing and CRC are fine");
    check(batch, &info[0], origin)
}

#[test]
fn batches_of_every_codec_pass_and_decode() {
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let b = encoded(codec, 7);
        assert_eq!(run(&b, Origin::Client), Ok(7), "{codec:?}");
        assert_eq!(run(&b, Origin::Stored), Ok(7), "{codec:?}");
        let info = peek_header(&b, 0).unwrap();
        assert_eq!(all_keyed(&b, &info, Origin::Client), Ok(false));
        let set = decode(&b, &info, Origin::Stored).unwrap();
        assert_eq!(set.records.len(), 7);
        assert_eq!(set.records[2].key.as_deref(), Some(&b"k2"[..]));
    }
}

#[test]
fn header_counts_must_agree() {
    let one = record(0, Some(b"k"), Some(b"v"));
    let header = |lod, count| run(&hand_batch(0, lod, count, &one), Origin::Client);
    let fault = |f| Err(Invalid::Header(f));
    assert_eq!(header(0, 1), Ok(1));
    // records_count disagreeing with last_offset_delta + 1.
    assert_eq!(header(i32::MAX - 1, 1), fault(HeaderFault::CountMismatch));
    assert_eq!(header(0, 1000), fault(HeaderFault::CountMismatch));
    // 0 records with last offset delta 5.
    assert_eq!(header(5, 0), fault(HeaderFault::Count));
    // Consistent header claiming 2^31-1 records over one.
    let e = header(i32::MAX - 1, i32::MAX).unwrap_err();
    assert!(!e.is_header());
    assert!(matches!(e, Invalid::Records(w) if w.fault == RecordFault::Count && w.index == 1));
    // 1000 claimed, one present.
    assert!(matches!(header(999, 1000), Err(Invalid::Records(_))));
    assert!(Invalid::Header(HeaderFault::Count).is_header());
}

#[test]
fn producer_id_needs_a_sequence() {
    let one = record(0, Some(b"k"), Some(b"v"));
    let mut b = hand_batch(0, 0, 1, &one);
    b[43..51].copy_from_slice(&7i64.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        run(&b, Origin::Client),
        Err(Invalid::Header(HeaderFault::Sequence))
    );
}

#[test]
fn stored_batches_may_have_gaps_left_by_compaction() {
    let body: Vec<u8> = [0, 3]
        .iter()
        .flat_map(|&d| record(d, Some(b"k"), None))
        .collect();
    let b = hand_batch(0, 3, 2, &body);
    assert!(matches!(run(&b, Origin::Client), Err(Invalid::Header(_))));
    assert_eq!(run(&b, Origin::Stored), Ok(2));
    // A count above the offset range is never valid.
    let b = hand_batch(0, 0, 2, &body);
    assert!(run(&b, Origin::Stored).is_err());
}

#[test]
fn garbage_under_a_codec_is_corrupt() {
    for codec in 1..=4 {
        let b = hand_batch(codec, 0, 1, b"\x00\x01garbage garbage");
        let e = run(&b, Origin::Client).unwrap_err();
        assert!(matches!(e, Invalid::Decompress(_)), "codec {codec}: {e:?}");
        assert!(!e.is_header());
    }
    let b = hand_batch(6, 0, 1, &record(0, None, None));
    assert!(run(&b, Origin::Client).is_err());
}

#[test]
fn compressed_records_are_walked_too() {
    // Valid gzip over records that claim one more than they hold.
    let body = record(0, Some(b"k"), Some(b"v"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &body).unwrap();
    let b = hand_batch(1, 1, 2, &gz.finish().unwrap());
    assert!(matches!(run(&b, Origin::Client), Err(Invalid::Records(_))));
    let info = peek_header(&b, 0).unwrap();
    assert!(decode(&Bytes::from(b), &info, Origin::Stored).is_err());
}
