//! Checks of stored batches before a Fetch serves them from disk.
//!
//! Fetch hands batches read from a segment file to the client as they are (slices of the read
//! buffer, never decoded). Bytes that went bad on disk after they were written (a bit flip, a
//! length that overruns, data of an older version) would reach the consumer, which then stalls
//! or fails far from the cause. So before a range of stored batches is served, each batch's
//! framing, magic, stored header rules and CRC32C are checked here, in place (no copy).
//!
//! Each stored byte is checked once per process lifetime, not on every fetch: every segment
//! file remembers the byte ranges already verified since it was opened ([`Verified`], a few
//! ranges at most; data is appended in order, so consumers reading along a segment extend one
//! range). A batch that fails is never remembered: every fetch that reaches it fails again.
//!
//! The base offset and the length prefix are outside the CRC (as in Kafka's format); the reader
//! checks that offsets never go back and stay below the next segment's base, and a wrong length
//! makes the CRC cover the wrong bytes.

use super::batch::{self, BatchInfo, HEADER_LEN};
use super::validate;

/// Most verified ranges remembered per segment file; past it the smallest is forgotten.
const MAX_RANGES: usize = 8;

/// What is wrong with a stored batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The batch length is below the header size or runs past the segment's data.
    Length,
    /// The magic byte is not 2.
    Magic,
    /// The CRC32C does not match the batch's content.
    Crc,
    /// The header's counts break the stored rules (see [`validate::Origin::Stored`]).
    Header,
    /// The base offset goes back, or the batch runs past the next segment's base offset.
    Offsets,
}

/// A stored batch that failed its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptBatch {
    /// Base offset read from the batch (the offset being fetched where the header is unreadable).
    pub offset: i64,
    /// Position of the batch in its segment file.
    pub position: u64,
    /// What is wrong.
    pub fault: Fault,
}

/// Byte ranges of one segment file verified since it was opened: sorted, disjoint, at most
/// [`MAX_RANGES`].
#[derive(Debug, Default)]
pub struct Verified {
    ranges: Vec<(u64, u64)>,
}

impl Verified {
    /// True when `start..end` lies inside one verified range.
    pub fn contains(&self, start: u64, end: u64) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= start && end <= e)
    }

    /// Marks `start..end` verified, merging it with the ranges it touches.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        self.ranges.retain(|&(a, b)| {
            if b < s || a > e {
                return true;
            }
            s = s.min(a);
            e = e.max(b);
            false
        });
        let at = self.ranges.partition_point(|&(a, _)| a < s);
        self.ranges.insert(at, (s, e));
        if self.ranges.len() > MAX_RANGES {
            let smallest = (0..self.ranges.len())
                .min_by_key(|&i| self.ranges[i].1 - self.ranges[i].0)
                .unwrap_or(0);
            self.ranges.remove(smallest);
        }
    }

    /// The verified ranges, oldest position first.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
}

/// Checks one stored batch in place: length bounds, magic 2, stored header rules, CRC32C.
pub fn check_batch(batch: &[u8], info: &BatchInfo) -> Result<(), Fault> {
    if info.len < HEADER_LEN || batch.len() < info.len {
        return Err(Fault::Length);
    }
    let batch = &batch[..info.len];
    if batch[16] != 2 {
        return Err(Fault::Magic);
    }
    if !validate::stored_header_ok(info) {
        return Err(Fault::Header);
    }
    if !batch::crc_ok(batch) {
        return Err(Fault::Crc);
    }
    Ok(())
}

/// Checks the whole batches in `buf[start..end]`, where `buf[0]` is at position `file_pos` of
/// the segment file, skipping those inside `verified` ranges and adding what passes.
///
/// `Err((valid_end, fault))` names the first bad batch; `buf[start..valid_end]` (possibly
/// empty) holds the good batches before it.
pub fn check_range(
    buf: &[u8],
    start: usize,
    end: usize,
    file_pos: u64,
    verified: &mut Verified,
) -> Result<(), (usize, CorruptBatch)> {
    let mut at = start;
    let mut prev_next = i64::MIN;
    let mut failed = None;
    while at < end {
        let position = file_pos + at as u64;
        let Some(info) = batch::peek_header(&buf[..end], at) else {
            failed = Some(CorruptBatch {
                offset: prev_next,
                position,
                fault: Fault::Length,
            });
            break;
        };
        let fault = if info.base_offset < prev_next {
            Some(Fault::Offsets)
        } else if verified.contains(position, position + info.len as u64) {
            None
        } else {
            check_batch(&buf[at..], &info).err()
        };
        if let Some(fault) = fault {
            failed = Some(CorruptBatch {
                offset: info.base_offset,
                position,
                fault,
            });
            break;
        }
        prev_next = info.next_offset();
        at += info.len;
    }
    verified.insert(file_pos + start as u64, file_pos + at as u64);
    match failed {
        None => Ok(()),
        Some(c) => Err((at, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid batch of `n` one-byte records at `base` (CRC set), as stored.
    fn stored(base: i64, n: i32) -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..n {
            // length, attributes, timestamp delta, offset delta, key -1, value len 1, value, 0 headers
            let rec = [0u8, 0, (i as u8) << 1, 1, 2, b'x', 0];
            body.push((rec.len() as u8) << 1);
            body.extend_from_slice(&rec);
        }
        let mut b = vec![0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        let len = (HEADER_LEN - 12 + body.len()) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(n - 1).to_be_bytes());
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
        b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
        b[57..61].copy_from_slice(&n.to_be_bytes());
        b.extend_from_slice(&body);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn three() -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for (base, n) in [(0, 2), (2, 3), (5, 1)] {
            starts.push(buf.len());
            buf.extend(stored(base, n));
        }
        starts.push(buf.len());
        (buf, starts)
    }

    #[test]
    fn good_batches_pass_and_are_remembered() {
        let (buf, _) = three();
        let mut v = Verified::default();
        assert_eq!(check_range(&buf, 0, buf.len(), 100, &mut v), Ok(()));
        assert_eq!(v.ranges(), &[(100, 100 + buf.len() as u64)]);
    }

    #[test]
    fn a_flipped_byte_stops_the_range_at_that_batch() {
        let (mut buf, s) = three();
        let last = s[2] - 1;
        buf[last] ^= 0x40;
        let mut v = Verified::default();
        let (valid, c) = check_range(&buf, 0, buf.len(), 0, &mut v).unwrap_err();
        assert_eq!(valid, s[1]);
        assert_eq!(
            (c.offset, c.position, c.fault),
            (2, s[1] as u64, Fault::Crc)
        );
        assert_eq!(v.ranges(), &[(0, s[1] as u64)]);
        // Again from the bad batch: nothing valid, the same fault (it is never remembered).
        let (valid, c) = check_range(&buf, s[1], buf.len(), 0, &mut v).unwrap_err();
        assert_eq!((valid, c.fault), (s[1], Fault::Crc));
    }

    #[test]
    fn verified_bytes_are_not_checked_again() {
        let (mut buf, s) = three();
        let mut v = Verified::default();
        check_range(&buf, 0, buf.len(), 0, &mut v).unwrap();
        // A change after verification goes unseen: the bytes are trusted once checked.
        buf[s[1] + HEADER_LEN] ^= 1;
        assert_eq!(check_range(&buf, s[1], buf.len(), 0, &mut v), Ok(()));
    }

    #[test]
    fn magic_length_header_and_offsets_faults() {
        let (buf, s) = three();
        let fault = |b: &[u8]| {
            check_range(b, 0, b.len(), 0, &mut Verified::default())
                .unwrap_err()
                .1
                .fault
        };
        let mut m = buf.clone();
        m[s[1] + 16] = 1;
        assert_eq!(fault(&m), Fault::Magic);
        let mut l = buf.clone();
        l[s[1] + 8..s[1] + 12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(fault(&l), Fault::Length);
        let mut h = buf.clone();
        h[s[1] + 57..s[1] + 61].copy_from_slice(&(-4i32).to_be_bytes());
        assert_eq!(fault(&h), Fault::Header);
        let mut o = buf.clone();
        o[s[2]..s[2] + 8].copy_from_slice(&1i64.to_be_bytes());
        assert_eq!(fault(&o), Fault::Offsets);
    }

    #[test]
    fn ranges_merge_and_stay_bounded() {
        let mut v = Verified::default();
        v.insert(0, 10);
        v.insert(10, 20);
        v.insert(30, 40);
        assert_eq!(v.ranges(), &[(0, 20), (30, 40)]);
        v.insert(15, 35);
        assert_eq!(v.ranges(), &[(0, 40)]);
        for i in 0..20u64 {
            v.insert(1000 + i * 100, 1000 + i * 100 + 1 + i);
        }
        assert_eq!(v.ranges().len(), MAX_RANGES);
        assert!(v.contains(0, 40), "the largest ranges are kept");
        assert!(v.ranges().windows(2).all(|w| w[0].1 < w[1].0));
    }
}
