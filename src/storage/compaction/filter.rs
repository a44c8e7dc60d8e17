//! What compaction does to one record batch: keep it as it is, drop it, or rewrite it with only
//! the records that survive. A rewritten batch keeps its records' offsets, timestamps, producer
//! fields and compression codec; it gets a new CRC. Batches whose records all survive are kept
//! byte for byte, and so are batches whose records fail validation (stored rules) or hold
//! more than [`MAX_REWRITE_RECORDS`] records: compaction never trusts a count from disk.

use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions};

use super::keymap::KeyMap;
use crate::batch::{self, BatchInfo};
use crate::producers::AbortedTxn;
use crate::validate::{self, Origin};

/// Batches with more records than this are kept whole by compaction: rewriting one decodes
/// all its records at once.
pub const MAX_REWRITE_RECORDS: i32 = 1 << 20;

/// The fate of one batch.
pub enum Outcome {
    /// Keep the batch unchanged.
    Keep,
    /// Drop the whole batch.
    Drop,
    /// Replace it with this batch (some records removed).
    Rewrite(Bytes),
}

/// The rules of one compaction pass.
pub struct Rules<'a> {
    /// Newest offset of each key in the dirty range.
    pub keys: &'a KeyMap,
    /// Aborted transactions of the log: their records are removed.
    pub aborted: &'a [AbortedTxn],
    /// Offsets below this were cleaned by an earlier pass (tombstones there may go).
    pub clean_until: i64,
    /// Tombstones older than this (ms since the epoch) and already cleaned once are removed.
    pub tombstone_horizon: i64,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// Earliest time (ms since the epoch) at which a tombstone kept by this pass may go.
    pub next_tombstone_due: Cell<Option<i64>>,
}

/// True when the transactional batch `info` belongs to one of the `aborted` transactions.
pub fn in_aborted_txn(aborted: &[AbortedTxn], info: &BatchInfo) -> bool {
    info.is_transactional()
        && !info.is_control()
        && aborted.iter().any(|a| {
            a.producer_id == info.producer_id
                && a.first_offset <= info.base_offset
                && info.base_offset <= a.last_offset
        })
}

impl Rules<'_> {
    fn keeps(&self, r: &Record) -> bool {
        let Some(key) = r.key.as_deref() else {
            return true;
        };
        if self.keys.get(key).is_some_and(|newest| newest > r.offset) {
            return false;
        }
        if r.value.is_some() {
            return true;
        }
        if r.offset < self.clean_until && r.timestamp < self.tombstone_horizon {
            return false;
        }
        let due = r.timestamp.saturating_add(self.delete_retention_ms);
        let next = self.next_tombstone_due.get().map_or(due, |d| d.min(due));
        self.next_tombstone_due.set(Some(next));
        true
    }

    /// Decides what happens to the batch `data` (described by `info`).
    pub fn apply(&self, info: &BatchInfo, data: &Bytes) -> Outcome {
        if info.is_control() {
            return Outcome::Keep;
        }
        if in_aborted_txn(self.aborted, info) {
            return Outcome::Drop;
        }
        if info.records_count > MAX_REWRITE_RECORDS {
            // Decoding would hold this many records at once: keep the batch as it is.
            return Outcome::Keep;
        }
        let set = match validate::decode(data, info, Origin::Stored) {
            Ok(set) => set,
            Err(e) => {
                // It passed its CRC but its records do not hold together: keep it rather
                // than lose data (readers of it get a storage error, not a crash).
                tracing::warn!(base_offset = info.base_offset, error = ?e, "corrupt batch kept by compaction");
                return Outcome::Keep;
            }
        };
        let kept: Vec<&Record> = set.records.iter().filter(|r| self.keeps(r)).collect();
        if kept.len() == set.records.len() {
            return Outcome::Keep;
        }
        if kept.is_empty() {
            return Outcome::Drop;
        }
        let mut out = BytesMut::with_capacity(data.len());
        let options = RecordEncodeOptions {
            version: 2,
            compression: set.compression,
        };
        if RecordBatchEncoder::encode(&mut out, kept.iter().copied(), &options).is_err() {
            return Outcome::Keep;
        }
        // The encoder does not carry the timestamp type: copy it and fix the CRC.
        let log_append_time = info.attributes & 0x08;
        if log_append_time != 0 {
            let mut pos = 0;
            while let Some(b) = batch::peek_header(&out, pos) {
                batch::set_attribute_bits(&mut out[pos..pos + b.len], log_append_time);
                pos += b.len;
            }
        }
        Outcome::Rewrite(out.freeze())
    }
}

/// Visits the records of a batch that carry a key, with their offsets, for the key map,
/// walking the records in place ([`validate::for_each_record`], stored rules). Returns false
/// when the batch's records do not hold together (the keys seen before the fault were visited).
pub fn for_each_key(data: &Bytes, info: &BatchInfo, mut visit: impl FnMut(&[u8], i64)) -> bool {
    validate::for_each_record(data, info, Origin::Stored, |r| {
        if let Some(k) = r.key {
            visit(k, info.base_offset + r.offset_delta as i64);
        }
        true
    })
    .is_ok()
}
