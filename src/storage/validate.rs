//! Record-batch validation below the header, as Kafka's `LogValidator` does it: the header's
//! counts are checked against each other and against the records, and every record is walked
//! ([`super::records::walk`]) after decompression (bounded, [`super::decompress`]) where the
//! batch is compressed.
//!
//! Two sets of rules:
//!
//! - [`Origin::Client`] (produce): `records_count >= 1`, `records_count == last_offset_delta + 1`,
//!   a producer id comes with a sequence `>= 0` (all [`Invalid::Header`], `INVALID_RECORD`, as
//!   Kafka); record `i` has offset delta `i`, exactly `records_count` records fill the batch
//!   (otherwise [`Invalid::Records`] / [`Invalid::Decompress`], `CORRUPT_MESSAGE`).
//! - [`Origin::Stored`] (reading the log): compaction removes records but keeps the offsets of
//!   the others, so `records_count <= last_offset_delta + 1` and offset deltas only have to grow
//!   within `0..=last_offset_delta`.
//!
//! An uncompressed batch is walked in place; a compressed one is decompressed into a buffer of
//! the executor thread that is reused (and given back when it grew large).

use std::cell::RefCell;

use bytes::Bytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder, RecordSet};

use super::batch::{BatchInfo, HEADER_LEN};
use super::decompress::{self, DecompressError};
use super::records::{self, Deltas, RecordRef, WalkError};

/// Which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A batch sent by a producer.
    Client,
    /// A batch read back from a segment (possibly compacted).
    Stored,
}

/// What is wrong with the header's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFault {
    /// `last_offset_delta` is negative.
    OffsetRange,
    /// `records_count` is not positive (client) or negative (stored).
    Count,
    /// `records_count` disagrees with `last_offset_delta`.
    CountMismatch,
    /// A producer id with a negative base sequence.
    Sequence,
}

/// Why a batch is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The header's counts are inconsistent (Kafka answers `INVALID_RECORD`).
    Header(HeaderFault),
    /// A record is malformed or the records do not match the header (Kafka answers
    /// `CORRUPT_MESSAGE`).
    Records(WalkError),
    /// The records could not be decompressed within the bound (Kafka answers `CORRUPT_MESSAGE`).
    Decompress(DecompressError),
}

impl Invalid {
    /// Whether the header's counts are to blame (rather than the records they describe).
    pub fn is_header(&self) -> bool {
        matches!(self, Invalid::Header(_))
    }

    /// Index of the first bad record, where one record is to blame (KIP-467 record errors).
    pub fn record_index(&self) -> Option<u32> {
        match self {
            Invalid::Records(w) => Some(w.index),
            _ => None,
        }
    }
}

/// Checks the header's counts for `origin`.
fn check_header(info: &BatchInfo, origin: Origin) -> Result<(), Invalid> {
    let fault = |f| Err(Invalid::Header(f));
    if info.last_offset_delta < 0 {
        return fault(HeaderFault::OffsetRange);
    }
    let span = info.last_offset_delta as i64 + 1;
    match origin {
        Origin::Client => {
            if info.records_count <= 0 {
                return fault(HeaderFault::Count);
            }
            if info.records_count as i64 != span {
                return fault(HeaderFault::CountMismatch);
            }
            if info.producer_id >= 0 && info.base_sequence < 0 {
                return fault(HeaderFault::Sequence);
            }
        }
        Origin::Stored => {
            if info.records_count < 0 {
                return fault(HeaderFault::Count);
            }
            if info.records_count as i64 > span {
                return fault(HeaderFault::CountMismatch);
            }
        }
    }
    Ok(())
}

/// Largest decompression buffer kept between batches; a larger one is freed after use.
const KEEP_SCRATCH: usize = 8 << 20;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Validates the batch `batch` (whole, header included, described by `info`) by the rules of
/// `origin` and visits its records in order until `visit` returns false.
///
/// Returns the number of records. Nothing is allocated for an uncompressed batch; a compressed
/// one is decompressed into a reused buffer bounded by [`decompress::limit`].
pub fn for_each_record<F>(
    batch: &[u8],
    info: &BatchInfo,
    origin: Origin,
    mut visit: F,
) -> Result<u32, Invalid>
where
    F: FnMut(&RecordRef<'_>) -> bool,
{
    check_header(info, origin)?;
    let body = batch.get(HEADER_LEN..info.len).unwrap_or(&[]);
    let deltas = match origin {
        Origin::Client => Deltas::Dense,
        Origin::Stored => Deltas::Increasing {
            last: info.last_offset_delta,
        },
    };
    let codec = info.attributes & 0x07;
    if codec == 0 {
        return records::walk(body, info.records_count, deltas, visit).map_err(Invalid::Records);
    }
    let max = decompress::limit(info.len);
    let run = |buf: &mut Vec<u8>, visit: &mut F| {
        decompress::decompress_into(codec, body, max, buf).map_err(Invalid::Decompress)?;
        records::walk(buf, info.records_count, deltas, |r| visit(r)).map_err(Invalid::Records)
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let r = run(&mut buf, &mut visit);
            if buf.capacity() > KEEP_SCRATCH {
                *buf = Vec::new();
            }
            r
        }
        // Called from inside a visit: use a buffer of its own.
        Err(_) => run(&mut Vec::new(), &mut visit),
    })
}

/// Validates `batch` by the rules of `origin` without looking at its records' contents.
pub fn check(batch: &[u8], info: &BatchInfo, origin: Origin) -> Result<u32, Invalid> {
    for_each_record(batch, info, origin, |_| false)
}

/// The check a batch read back from a segment must pass to count as part of the log (crash
/// recovery and segment scans): magic 2, a correct CRC, stored header rules and, for an
/// uncompressed batch, a walk of its records. Compressed batches are not decompressed here
/// (recovery stays fast); their records are checked when they are read.
pub fn stored_batch_ok(batch: &[u8], info: &BatchInfo) -> bool {
    if batch.len() < info.len || info.len < HEADER_LEN || batch[16] != 2 {
        return false;
    }
    let batch = &batch[..info.len];
    if !super::batch::crc_ok(batch) || check_header(info, Origin::Stored).is_err() {
        return false;
    }
    info.attributes & 0x07 != 0 || check(batch, info, Origin::Stored).is_ok()
}

/// True when the header's counts follow the stored rules (see [`Origin::Stored`]).
pub fn stored_header_ok(info: &BatchInfo) -> bool {
    check_header(info, Origin::Stored).is_ok()
}

/// True when every record of the valid batch `batch` has a key (compacted topics need them).
pub fn all_keyed(batch: &[u8], info: &BatchInfo, origin: Origin) -> Result<bool, Invalid> {
    let mut keyed = true;
    for_each_record(batch, info, origin, |r| {
        keyed &= r.key.is_some();
        keyed
    })?;
    Ok(keyed)
}

/// Validates `batch` by the rules of `origin`, then decodes it with kafka-protocol's decoder,
/// decompressing with the same bound. This is the only way the broker decodes records: the
/// decoder sizes its record vector from the header's count, which is safe only once the walk
/// has shown that many records are really there.
pub fn decode(batch: &Bytes, info: &BatchInfo, origin: Origin) -> Result<RecordSet, Invalid> {
    check(batch, info, origin)?;
    let max = decompress::limit(info.len);
    let codec = info.attributes & 0x07;
    let bounded = |input: &mut Bytes, _: Compression| -> anyhow::Result<Bytes> {
        if codec == 0 {
            return Ok(input.clone());
        }
        let mut out = Vec::new();
        decompress::decompress_into(codec, input, max, &mut out)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(Bytes::from(out))
    };
    let mut buf = batch.slice(..info.len.min(batch.len()));
    RecordBatchDecoder::decode_with_custom_compression(&mut buf, Some(bounded)).map_err(|_| {
        Invalid::Records(WalkError {
            index: 0,
            fault: records::RecordFault::Count,
        })
    })
}

#[cfg(test)]
pub(crate) mod tests;
