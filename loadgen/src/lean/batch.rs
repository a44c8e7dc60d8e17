//! Uncompressed v2 record batches written straight into a buffer, one record at a time: no
//! per-record allocation, one CRC32C per batch. The lean producer uses it for
//! `compression = "none"`; compressed batches go through `kafka-protocol`'s encoder.
//!
//! Layout (Kafka's message format v2): a 61-byte header (base offset, batch length, partition
//! leader epoch, magic 2, CRC32C of everything from the attributes on, attributes, last offset
//! delta, base and max timestamp, producer id, epoch, base sequence, record count) followed by
//! the records, each a varint length, attributes, varint timestamp and offset deltas, key,
//! value and an empty header list.

use bytes::{BufMut, BytesMut};

/// Size of the batch header.
pub const HEADER_LEN: usize = 61;
/// Byte position of the CRC in the header; it covers everything after it.
const CRC_POS: usize = 17;

/// The records of one batch being built.
#[derive(Debug, Default)]
pub struct RawBatch {
    records: BytesMut,
    count: i32,
    base_ts: i64,
    max_ts: i64,
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint_len(v: i64) -> usize {
    let z = zigzag(v);
    (64 - z.leading_zeros() as usize).max(1).div_ceil(7)
}

fn put_varint(out: &mut BytesMut, v: i64) {
    let mut z = zigzag(v);
    while z >= 0x80 {
        out.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

impl RawBatch {
    /// Number of records so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when no record was added since the last [`RawBatch::finish`].
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a record with timestamp `ts_ms`.
    pub fn push(&mut self, ts_ms: i64, key: Option<&[u8]>, value: &[u8]) {
        if self.count == 0 {
            self.base_ts = ts_ms;
            self.max_ts = ts_ms;
        }
        self.max_ts = self.max_ts.max(ts_ms);
        let ts_delta = ts_ms - self.base_ts;
        let offset_delta = self.count as i64;
        let key_len = key.map_or(-1, |k| k.len() as i64);
        let body = 1
            + varint_len(ts_delta)
            + varint_len(offset_delta)
            + varint_len(key_len)
            + key.map_or(0, <[u8]>::len)
            + varint_len(value.len() as i64)
            + value.len()
            + 1;
        self.records.reserve(body + 5);
        put_varint(&mut self.records, body as i64);
        self.records.put_u8(0);
        put_varint(&mut self.records, ts_delta);
        put_varint(&mut self.records, offset_delta);
        put_varint(&mut self.records, key_len);
        if let Some(k) = key {
            self.records.put_slice(k);
        }
        put_varint(&mut self.records, value.len() as i64);
        self.records.put_slice(value);
        put_varint(&mut self.records, 0);
        self.count += 1;
    }

    /// Writes the batch (header and records) to `out` and empties this one for reuse.
    pub fn finish(&mut self, out: &mut BytesMut) {
        let start = out.len();
        out.reserve(HEADER_LEN + self.records.len());
        out.put_i64(0); // base offset: the broker assigns it
        out.put_i32((HEADER_LEN - 12 + self.records.len()) as i32);
        out.put_i32(-1); // partition leader epoch
        out.put_i8(2); // magic
        out.put_u32(0); // CRC, filled in below
        out.put_i16(0); // attributes: no compression, create time
        out.put_i32(self.count - 1);
        out.put_i64(self.base_ts);
        out.put_i64(self.max_ts);
        out.put_i64(-1); // producer id
        out.put_i16(-1); // producer epoch
        out.put_i32(-1); // base sequence
        out.put_i32(self.count);
        out.put_slice(&self.records);
        let crc = crc32c::crc32c(&out[start + CRC_POS + 4..]);
        out[start + CRC_POS..start + CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
        self.records.clear();
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn batches_decode_with_kafka_protocol() {
        let mut b = RawBatch::default();
        let big = vec![7u8; 300];
        b.push(1_700_000_000_000, None, b"first");
        b.push(1_700_000_000_005, Some(b"key-1"), &big);
        b.push(1_699_999_999_999, Some(b""), b"");
        assert_eq!(b.len(), 3);
        let mut out = BytesMut::new();
        b.finish(&mut out);
        assert!(b.is_empty(), "finish empties the batch for reuse");
        // A second batch in the same buffer, as a request with many partitions would not do,
        // but as a reused builder must get right.
        b.push(5, None, b"again");
        b.finish(&mut out);

        let mut bytes = out.freeze();
        // The decoder checks the CRC and the batch length.
        let first = RecordBatchDecoder::decode(&mut bytes).expect("valid batch");
        let r = &first.records;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].offset, 0);
        assert_eq!(r[2].offset, 2);
        assert_eq!(r[0].timestamp, 1_700_000_000_000);
        assert_eq!(r[1].timestamp, 1_700_000_000_005);
        assert_eq!(
            r[2].timestamp, 1_699_999_999_999,
            "negative deltas round-trip"
        );
        assert_eq!(r[0].key, None);
        assert_eq!(r[1].key.as_deref(), Some(&b"key-1"[..]));
        assert_eq!(r[2].key.as_deref(), Some(&b""[..]));
        assert_eq!(r[0].value.as_deref(), Some(&b"first"[..]));
        assert_eq!(r[1].value.as_deref(), Some(&big[..]));
        assert_eq!(r[0].producer_id, -1);
        assert_eq!(r[0].sequence, -1);
        let second = RecordBatchDecoder::decode(&mut bytes).expect("second batch");
        assert_eq!(second.records.len(), 1);
        assert_eq!(second.records[0].value.as_deref(), Some(&b"again"[..]));
        assert_eq!(second.records[0].offset, 0);
    }

    #[test]
    fn varints_match_their_length() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            8191,
            8192,
            -8193,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }
}
