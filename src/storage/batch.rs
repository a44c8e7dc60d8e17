//! Record batch headers (magic v2): parsing, validation and in-place offset assignment.
//!
//! The broker never decodes the records inside a batch on the produce or fetch path. It reads the
//! fixed 61-byte header, checks the CRC (crc32c over everything after the CRC field) and rewrites
//! the 8-byte base offset, which the CRC does not cover.

/// Size of the fixed v2 batch header.
pub const HEADER_LEN: usize = 61;
/// Bytes before the `batch_length` field ends: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;
const MAGIC_POS: usize = 16;
const CRC_POS: usize = 17;
const ATTRIBUTES_POS: usize = 21;
const LAST_OFFSET_DELTA_POS: usize = 23;
const BASE_TIMESTAMP_POS: usize = 27;
const MAX_TIMESTAMP_POS: usize = 35;
const PRODUCER_ID_POS: usize = 43;
const PRODUCER_EPOCH_POS: usize = 51;
const BASE_SEQUENCE_POS: usize = 53;
const RECORDS_COUNT_POS: usize = 57;

/// Why a batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    /// Header truncated, lengths inconsistent or CRC mismatch (CORRUPT_MESSAGE).
    Corrupt,
    /// Magic byte other than 2 (UNSUPPORTED_FOR_MESSAGE_FORMAT).
    UnsupportedMagic,
    /// A single batch larger than the allowed maximum (MESSAGE_TOO_LARGE).
    TooLarge,
    /// No batch at all where one was required (INVALID_RECORD).
    Empty,
}

/// What the broker needs to know about one batch, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// Byte position of the batch inside the buffer it was parsed from.
    pub pos: usize,
    /// Total size of the batch in bytes, header included.
    pub len: usize,
    /// Base offset as stored in the header.
    pub base_offset: i64,
    /// `last_offset_delta`: the batch covers `base_offset ..= base_offset + last_offset_delta`.
    pub last_offset_delta: i32,
    /// First timestamp of the batch.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Batch attributes (compression, timestamp type, transactional, control).
    pub attributes: i16,
    /// Producer id, -1 when not idempotent.
    pub producer_id: i64,
    /// Producer epoch, -1 when not idempotent.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 when not idempotent.
    pub base_sequence: i32,
    /// Number of records claimed by the header.
    pub records_count: i32,
}

impl BatchInfo {
    /// Offset of the last record of the batch.
    pub fn last_offset(&self) -> i64 {
        // Saturating: a base offset read from disk may be anything.
        self.base_offset
            .saturating_add(self.last_offset_delta as i64)
    }
    /// Offset following the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }
    /// Sequence number of the last record (wrapping past `i32::MAX` as Kafka does).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = self.base_sequence as i64 + self.last_offset_delta as i64;
        (last % (i32::MAX as i64 + 1)) as i32
    }
    /// True when the batch carries a producer id (idempotent or transactional producer).
    pub fn has_producer(&self) -> bool {
        self.producer_id >= 0
    }
    /// True for batches written inside a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }
    /// True for transaction markers.
    pub fn is_control(&self) -> bool {
        is_control(self.attributes)
    }
}

fn be_i16(b: &[u8], p: usize) -> i16 {
    i16::from_be_bytes([b[p], b[p + 1]])
}
fn be_i32(b: &[u8], p: usize) -> i32 {
    i32::from_be_bytes(b[p..p + 4].try_into().expect("4 bytes"))
}
fn be_i64(b: &[u8], p: usize) -> i64 {
    i64::from_be_bytes(b[p..p + 8].try_into().expect("8 bytes"))
}

/// Reads the header of the batch starting at `pos` without checking its CRC.
///
/// Returns `None` when fewer bytes than the header, or than the batch length claims, remain, or
/// when the length is implausible (a torn or zero-filled tail looks like this).
pub fn peek_header(buf: &[u8], pos: usize) -> Option<BatchInfo> {
    let b = buf.get(pos..)?;
    if b.len() < HEADER_LEN {
        return None;
    }
    let batch_length = be_i32(b, 8);
    if batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
        return None;
    }
    let len = batch_length as usize + LOG_OVERHEAD;
    if b.len() < len {
        return None;
    }
    Some(BatchInfo {
        pos,
        len,
        base_offset: be_i64(b, 0),
        last_offset_delta: be_i32(b, LAST_OFFSET_DELTA_POS),
        base_timestamp: be_i64(b, BASE_TIMESTAMP_POS),
        max_timestamp: be_i64(b, MAX_TIMESTAMP_POS),
        attributes: be_i16(b, ATTRIBUTES_POS),
        producer_id: be_i64(b, PRODUCER_ID_POS),
        producer_epoch: be_i16(b, PRODUCER_EPOCH_POS),
        base_sequence: be_i32(b, BASE_SEQUENCE_POS),
        records_count: be_i32(b, RECORDS_COUNT_POS),
    })
}

/// Length the batch at `pos` claims (base offset + length prefix included), if a length is there.
pub fn claimed_len(buf: &[u8], pos: usize) -> Option<usize> {
    let b = buf.get(pos..pos + LOG_OVERHEAD)?;
    let l = be_i32(b, 8);
    // Lazily: a negative length must not be converted (it overflows).
    (l >= 0).then(|| l as usize + LOG_OVERHEAD)
}

/// True when the batch's stored CRC matches its content.
pub fn crc_ok(batch: &[u8]) -> bool {
    if batch.len() < HEADER_LEN {
        return false;
    }
    let stored = be_i32(batch, CRC_POS) as u32;
    crc32c::crc32c(&batch[ATTRIBUTES_POS..]) == stored
}

/// Validates every batch of a produce payload: framing, magic, CRC and per-batch size.
///
/// The payload must consist of whole batches only. Returns the batches in order.
pub fn validate_batches(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchInfo>, BatchError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        if buf.len() - pos < HEADER_LEN {
            return Err(BatchError::Corrupt);
        }
        if buf[pos + MAGIC_POS] != 2 {
            return Err(BatchError::UnsupportedMagic);
        }
        let info = peek_header(buf, pos).ok_or(BatchError::Corrupt)?;
        if info.len > max_batch_bytes {
            return Err(BatchError::TooLarge);
        }
        if info.last_offset_delta < 0 || info.records_count < 0 {
            return Err(BatchError::Corrupt);
        }
        if !crc_ok(&buf[pos..pos + info.len]) {
            return Err(BatchError::Corrupt);
        }
        out.push(info);
        pos += info.len;
    }
    if out.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(out)
}

/// Writes `base_offset` into the header of the batch that starts at `batch[0]`.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes the partition leader epoch (not covered by the CRC).
pub fn set_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// The partition leader epoch of the batch starting at `batch[0]` (-1 if it is too short).
pub fn leader_epoch(batch: &[u8]) -> i32 {
    batch
        .get(12..16)
        .and_then(|b| b.try_into().ok())
        .map_or(-1, i32::from_be_bytes)
}

/// Attribute bit of the timestamp type: set for LogAppendTime.
pub const LOG_APPEND_TIME_BIT: i16 = 0x08;

/// Stamps the batch starting at `batch[0]` with the broker's append time: max timestamp
/// `now`, timestamp type LogAppendTime, CRC recomputed. The records are not touched.
pub fn set_log_append_time(batch: &mut [u8], now: i64) {
    batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&now.to_be_bytes());
    set_attribute_bits(batch, LOG_APPEND_TIME_BIT);
}

/// Sets attribute `bits` in the batch starting at `batch[0]` and recomputes its CRC.
pub fn set_attribute_bits(batch: &mut [u8], bits: i16) {
    let attrs = be_i16(batch, ATTRIBUTES_POS) | bits;
    batch[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attrs.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_POS..]);
    batch[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
}

/// True for transaction control batches (commit / abort markers).
pub fn is_control(attributes: i16) -> bool {
    attributes & 0x20 != 0
}

/// The kind of marker a control batch holds: `Some(true)` commit, `Some(false)` abort, `None`
/// for anything else (an unknown control type, or bytes that do not parse).
///
/// A control batch holds one uncompressed record whose key is `version: i16, type: i16`.
pub fn control_marker(batch: &[u8]) -> Option<bool> {
    let mut p = HEADER_LEN;
    let _len = read_varint(batch, &mut p)?;
    p += 1; // record attributes
    let _ts = read_varint(batch, &mut p)?;
    let _od = read_varint(batch, &mut p)?;
    let key_len = read_varint(batch, &mut p)?;
    if key_len < 4 {
        return None;
    }
    let kind = be_i16(batch.get(p..p + 4)?, 2);
    match kind {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Reads one zig-zag varint (up to 64 bits) at `*p`, advancing `*p`.
fn read_varint(b: &[u8], p: &mut usize) -> Option<i64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*p)?;
        *p += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(((v >> 1) as i64) ^ -((v & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a minimal valid batch with `n` claimed records and `body` as records payload.
    pub(crate) fn make_batch(last_delta: i32, ts: i64, body: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        b.extend_from_slice(body);
        let len = (b.len() - LOG_OVERHEAD) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[MAGIC_POS] = 2;
        b[LAST_OFFSET_DELTA_POS..LAST_OFFSET_DELTA_POS + 4]
            .copy_from_slice(&last_delta.to_be_bytes());
        b[BASE_TIMESTAMP_POS..BASE_TIMESTAMP_POS + 8].copy_from_slice(&ts.to_be_bytes());
        b[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&ts.to_be_bytes());
        b[PRODUCER_ID_POS..PRODUCER_ID_POS + 8].copy_from_slice(&(-1i64).to_be_bytes());
        b[RECORDS_COUNT_POS..RECORDS_COUNT_POS + 4]
            .copy_from_slice(&(last_delta + 1).to_be_bytes());
        let crc = crc32c::crc32c(&b[ATTRIBUTES_POS..]);
        b[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn validates_and_rewrites_offsets() {
        let mut buf = make_batch(2, 1000, b"abc");
        buf.extend(make_batch(0, 2000, b"de"));
        let infos = validate_batches(&buf, 1 << 20).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].last_offset_delta, 2);
        assert_eq!(infos[1].pos, infos[0].len);
        set_base_offset(&mut buf[infos[1].pos..], 42);
        // The base offset is outside the CRC: still valid after the rewrite.
        let again = validate_batches(&buf, 1 << 20).unwrap();
        assert_eq!(again[1].base_offset, 42);
        assert_eq!(again[1].max_timestamp, 2000);
    }

    #[test]
    fn rejects_bad_crc_magic_size_and_truncation() {
        let mut buf = make_batch(0, 1, b"hello");
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(validate_batches(&buf, 1 << 20), Err(BatchError::Corrupt));
        let mut buf = make_batch(0, 1, b"hello");
        buf[MAGIC_POS] = 1;
        assert_eq!(
            validate_batches(&buf, 1 << 20),
            Err(BatchError::UnsupportedMagic)
        );
        let buf = make_batch(0, 1, b"hello");
        assert_eq!(validate_batches(&buf, 10), Err(BatchError::TooLarge));
        assert_eq!(
            validate_batches(&buf[..buf.len() - 1], 1 << 20),
            Err(BatchError::Corrupt)
        );
        assert_eq!(validate_batches(&[], 1 << 20), Err(BatchError::Empty));
    }
}
