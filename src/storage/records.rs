//! A walk over the records of one v2 record batch body, as Kafka's `DefaultRecord` lays them
//! out, that neither allocates nor copies: every length read from the bytes is checked against
//! the bytes that remain before it is used, so a lying length or count cannot size anything.
//!
//! Record layout (all integers zig-zag varints unless noted):
//!
//! ```text
//! length: varint            bytes of the record after this field
//! attributes: int8          unused
//! timestamp_delta: varlong
//! offset_delta: varint
//! key_length: varint        -1 = null key
//! key: bytes
//! value_length: varint      -1 = null value
//! value: bytes
//! header_count: varint
//! headers: header_key_length: varint (>= 0), header_key, header_value_length: varint (-1 =
//!          null), header_value
//! ```
//!
//! [`walk`] is shared by the produce-path validation ([`super::validate`]) and by the readers
//! of stored data (ListOffsets by timestamp, compaction), so data that passed validation once
//! is read back by the same rules.

/// Smallest possible record: length (1) + attributes (1) + timestamp delta (1) + offset delta
/// (1) + key length (1) + value length (1) + header count (1).
pub const MIN_RECORD_LEN: usize = 7;

/// What is wrong with the records of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFault {
    /// A varint runs past the end of its record or is longer than its type allows.
    BadVarint,
    /// A record length that is negative, too small or larger than the bytes left.
    RecordLength,
    /// A key, value or header length below -1 (or below 0 for header keys), or past the record.
    FieldLength,
    /// A header count that is negative or larger than the record could hold.
    HeaderCount,
    /// A record whose fields do not exactly fill its declared length.
    RecordSize,
    /// An offset delta that is not the record's place in the batch (produce) or that does not
    /// grow within `0..=last_offset_delta` (stored, possibly compacted, batches).
    OffsetDelta,
    /// More or fewer records than the header's count, or bytes left after the last record.
    Count,
}

/// A record fault together with the index (0-based) of the record where it was found, for
/// per-record errors (KIP-467).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkError {
    /// Index of the first bad record (the count of records read before it).
    pub index: u32,
    /// What is wrong.
    pub fault: RecordFault,
}

/// One record as seen by a walk: borrowed slices of the batch body, nothing copied.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Place of the record in the batch.
    pub index: u32,
    /// Offset delta from the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp delta from the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The key, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Number of headers.
    pub header_count: u32,
}

/// How offset deltas must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deltas {
    /// Record `i` has offset delta `i` (batches from producers).
    Dense,
    /// Offset deltas strictly increase and stay within `0..=last` (stored batches, where
    /// compaction may have removed records).
    Increasing {
        /// The batch's `last_offset_delta`.
        last: i32,
    },
}

/// A cursor over a byte slice with checked reads.
struct Cursor<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Option<i32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let byte = *self.b.get(self.p)?;
            self.p += 1;
            if i == 4 && byte & 0xf0 != 0 {
                return None;
            }
            v |= ((byte & 0x7f) as u32) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(((v >> 1) as i32) ^ -((v & 1) as i32));
            }
        }
        None
    }

    fn varlong(&mut self) -> Option<i64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = *self.b.get(self.p)?;
            self.p += 1;
            if i == 9 && byte & 0xfe != 0 {
                return None;
            }
            v |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        None
    }

    fn remaining(&self) -> usize {
        self.b.len() - self.p
    }

    /// A length-prefixed field: `None` as the outer result when the length is bad.
    fn field(&mut self, null_ok: bool) -> Result<Option<&'a [u8]>, RecordFault> {
        let len = self.varint().ok_or(RecordFault::BadVarint)?;
        if len == -1 && null_ok {
            return Ok(None);
        }
        if len < 0 || len as usize > self.remaining() {
            return Err(RecordFault::FieldLength);
        }
        let s = &self.b[self.p..self.p + len as usize];
        self.p += len as usize;
        Ok(Some(s))
    }
}

/// Reads one record from `c` (positioned at its length). `index` is only for the result.
fn read_record<'a>(c: &mut Cursor<'a>, index: u32) -> Result<RecordRef<'a>, RecordFault> {
    let len = c.varint().ok_or(RecordFault::BadVarint)?;
    if len < (MIN_RECORD_LEN - 1) as i32 || len as usize > c.remaining() {
        return Err(RecordFault::RecordLength);
    }
    let end = c.p + len as usize;
    let mut r = Cursor {
        b: &c.b[..end],
        p: c.p,
    };
    r.p += 1; // attributes: unused in v2
    let timestamp_delta = r.varlong().ok_or(RecordFault::BadVarint)?;
    let offset_delta = r.varint().ok_or(RecordFault::BadVarint)?;
    let key = r.field(true)?;
    let value = r.field(true)?;
    let header_count = r.varint().ok_or(RecordFault::BadVarint)?;
    // Each header takes at least two bytes (two length varints).
    if header_count < 0 || header_count as usize > r.remaining() / 2 {
        return Err(RecordFault::HeaderCount);
    }
    for _ in 0..header_count {
        r.field(false)?;
        r.field(true)?;
    }
    if r.p != end {
        return Err(RecordFault::RecordSize);
    }
    c.p = end;
    Ok(RecordRef {
        index,
        offset_delta,
        timestamp_delta,
        key,
        value,
        header_count: header_count as u32,
    })
}

/// Walks the records of an (uncompressed or already decompressed) batch body, checking that
/// exactly `count` well-formed records fill it and that their offset deltas follow `deltas`.
/// Calls `visit` for each record until it returns false (the rest is then still checked).
///
/// Returns the number of records walked, which equals `count` on success. Nothing is
/// allocated: `count` only bounds the loop, and the loop also ends with the bytes.
pub fn walk<'a, F>(
    body: &'a [u8],
    count: i32,
    deltas: Deltas,
    mut visit: F,
) -> Result<u32, WalkError>
where
    F: FnMut(&RecordRef<'a>) -> bool,
{
    let mut c = Cursor { b: body, p: 0 };
    let mut index: u32 = 0;
    let mut prev: i64 = -1;
    let mut visiting = true;
    let fail = |index: u32, fault: RecordFault| WalkError { index, fault };
    if count < 0 {
        return Err(fail(0, RecordFault::Count));
    }
    while c.remaining() > 0 {
        if index as i64 >= count as i64 {
            // Bytes left after the last counted record.
            return Err(fail(index, RecordFault::Count));
        }
        let rec = read_record(&mut c, index).map_err(|f| fail(index, f))?;
        let delta_ok = match deltas {
            Deltas::Dense => rec.offset_delta as i64 == index as i64,
            Deltas::Increasing { last } => {
                rec.offset_delta as i64 > prev && rec.offset_delta <= last
            }
        };
        if !delta_ok {
            return Err(fail(index, RecordFault::OffsetDelta));
        }
        prev = rec.offset_delta as i64;
        if visiting {
            visiting = visit(&rec);
        }
        index += 1;
    }
    if index as i64 != count as i64 {
        return Err(fail(index, RecordFault::Count));
    }
    Ok(index)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Appends a zig-zag varint.
    pub fn put_varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// Encodes one record with the given fields (no headers).
    pub fn record(offset_delta: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0u8];
        put_varint(&mut body, offset_delta * 10);
        put_varint(&mut body, offset_delta);
        for f in [key, value] {
            match f {
                Some(b) => {
                    put_varint(&mut body, b.len() as i64);
                    body.extend_from_slice(b);
                }
                None => put_varint(&mut body, -1),
            }
        }
        put_varint(&mut body, 0);
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i64);
        out.extend(body);
        out
    }

    fn records(n: i64) -> Vec<u8> {
        (0..n)
            .flat_map(|i| record(i, Some(b"k"), Some(b"value")))
            .collect()
    }

    #[test]
    fn walks_well_formed_records() {
        let body = records(3);
        let mut keys = 0;
        let n = walk(&body, 3, Deltas::Dense, |r| {
            keys += r.key.is_some() as u32;
            assert_eq!(r.value, Some(&b"value"[..]));
            true
        })
        .unwrap();
        assert_eq!((n, keys), (3, 3));
        // Null key and value are fine.
        let body = record(0, None, None);
        assert_eq!(walk(&body, 1, Deltas::Dense, |_| true), Ok(1));
    }

    #[test]
    fn count_must_match_records() {
        let body = records(3);
        for count in [0, 2, 4, i32::MAX, -1] {
            let e = walk(&body, count, Deltas::Dense, |_| true).unwrap_err();
            assert_eq!(e.fault, RecordFault::Count, "count {count}");
        }
        // Trailing garbage after the last record.
        let mut body = records(1);
        body.push(0);
        assert_eq!(
            walk(&body, 1, Deltas::Dense, |_| true).unwrap_err().fault,
            RecordFault::Count
        );
    }

    #[test]
    fn offset_deltas_follow_the_rules() {
        let body: Vec<u8> = [0, 2].iter().flat_map(|&d| record(d, None, None)).collect();
        assert_eq!(
            walk(&body, 2, Deltas::Dense, |_| true).unwrap_err(),
            WalkError {
                index: 1,
                fault: RecordFault::OffsetDelta
            }
        );
        assert_eq!(
            walk(&body, 2, Deltas::Increasing { last: 2 }, |_| true),
            Ok(2)
        );
        assert!(walk(&body, 2, Deltas::Increasing { last: 1 }, |_| true).is_err());
    }

    /// A record with a raw body after its length varint.
    fn raw(fields: &[i64], tail: &[u8], len_adjust: i64) -> Vec<u8> {
        let mut body = vec![0u8];
        for &f in fields {
            put_varint(&mut body, f);
        }
        body.extend_from_slice(tail);
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i64 + len_adjust);
        out.extend(body);
        out
    }

    #[test]
    fn impossible_lengths_are_refused_with_the_record_index() {
        let good = record(0, Some(b"k"), Some(b"v"));
        let cases: Vec<(Vec<u8>, RecordFault)> = vec![
            (raw(&[0, 1, -7, -1, 0], b"", 0), RecordFault::FieldLength),
            (
                raw(&[0, 1, 1 << 31, -1, 0], b"", 0),
                RecordFault::FieldLength,
            ),
            (
                raw(&[0, 1, -1, -1, i32::MAX as i64], b"", 0),
                RecordFault::HeaderCount,
            ),
            (raw(&[0, 1, -1, -1, -3], b"", 0), RecordFault::HeaderCount),
            (raw(&[0, 1, -1, -1, 0], b"xx", 0), RecordFault::RecordSize),
            (raw(&[0, 1, -1, -1, 0], b"", 5), RecordFault::RecordLength),
            (
                raw(&[0, 1, -1, -1, 1, -2, 0], b"", 0),
                RecordFault::FieldLength,
            ),
        ];
        for (bad, fault) in cases {
            // Record 1 is the bad one: the index says so.
            let mut body = good.clone();
            body.extend(&bad);
            let e = walk(&body, 2, Deltas::Dense, |_| true).unwrap_err();
            assert_eq!(e.index, 1, "{bad:?}");
            assert!(
                e.fault == fault || matches!(e.fault, RecordFault::BadVarint),
                "{bad:?}: {e:?} want {fault:?}"
            );
        }
        // A record length of -1.
        let mut body = good.clone();
        put_varint(&mut body, -1);
        assert_eq!(
            walk(&body, 2, Deltas::Dense, |_| true).unwrap_err().fault,
            RecordFault::RecordLength
        );
        // An endless varint.
        let body = vec![0xff; 12];
        assert_eq!(
            walk(&body, 1, Deltas::Dense, |_| true).unwrap_err().fault,
            RecordFault::BadVarint
        );
    }
}
