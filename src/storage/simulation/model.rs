//! What the simulated client was told, and the invariants the log must keep after every
//! restart: every acknowledged batch readable with its offsets and bytes, offsets dense and
//! monotonic, no torn or corrupt batch served, the log start never behind an acknowledged
//! DeleteRecords.

use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;

use crate::batch::{self, HEADER_LEN};
use crate::log::PartitionLog;
use crate::LogError;

/// Bytes of a batch compared with what was acknowledged: everything after the base offset,
/// batch length and partition leader epoch (the fields the log may set).
const COMPARED_FROM: usize = 16;

/// The acknowledged history of one partition.
#[derive(Debug, Default)]
pub struct Model {
    /// Acknowledged batches by base offset: (next offset, bytes from [`COMPARED_FROM`]).
    acked: BTreeMap<i64, (i64, Bytes)>,
    /// The log start offset may not go below this (acknowledged DeleteRecords and retention).
    min_start: i64,
    /// The log is compacted: batches may be rewritten and offsets thinned, so the checks are
    /// per key (the newest acknowledged record of every key, or a newer one, stays readable).
    compacted: bool,
    /// Per key, the newest acknowledged record: (offset, value, timestamp).
    newest: BTreeMap<Bytes, (i64, Option<Bytes>, i64)>,
    /// Tombstones may go once they are older than this (`delete.retention.ms`).
    delete_retention_ms: i64,
    /// `retention.ms` when it is the only retention by size or time (else `None`): no batch
    /// younger than this may be deleted, unless DeleteRecords asked for it.
    retention_ms: Option<i64>,
    /// The log start acknowledged by DeleteRecords.
    records_deleted_to: i64,
    /// Acknowledged batches that a successful `truncate_to` removed, by base offset: none of
    /// them may ever be read again (not after a crash or a power loss either), unless a new
    /// batch was acknowledged over its offsets.
    forgotten: BTreeMap<i64, (i64, Bytes)>,
}

/// A record read back: (offset, key, value, timestamp).
type Rec = (i64, Option<Bytes>, Option<Bytes>, i64);

/// The records of a valid batch, offsets from `base`.
fn records_of(b: &Bytes, base: i64) -> Vec<Rec> {
    let info = batch::peek_header(b, 0).expect("a whole batch");
    let set = crate::validate::decode(b, &info, crate::validate::Origin::Stored)
        .expect("a batch that passed its checks decodes");
    set.records
        .into_iter()
        .map(|r| {
            (
                base + (r.offset - info.base_offset),
                r.key,
                r.value,
                r.timestamp,
            )
        })
        .collect()
}

impl Model {
    /// A model of a compacted log (`cleanup.policy=compact`) whose tombstones may go after
    /// `delete_retention_ms`.
    pub fn compacted(delete_retention_ms: i64) -> Model {
        Model {
            compacted: true,
            delete_retention_ms,
            ..Model::default()
        }
    }

    /// A model of a delete-policy log whose only retention is `retention_ms` (`None`: size
    /// retention too, or none).
    pub fn deleting(retention_ms: Option<i64>) -> Model {
        Model {
            retention_ms,
            ..Model::default()
        }
    }

    /// Records an acknowledged batch written at `base`.
    pub fn ack(&mut self, base: i64, data: &Bytes) {
        if self.compacted {
            for (offset, key, value, ts) in records_of(data, base) {
                if let Some(k) = key {
                    self.newest.insert(k, (offset, value, ts));
                }
            }
        }
        let info = batch::peek_header(data, 0).expect("a batch the simulator built");
        let next = base + info.last_offset_delta as i64 + 1;
        let over: Vec<i64> = self
            .forgotten
            .range(..next)
            .filter(|(_, (n, _))| *n > base)
            .map(|(b, _)| *b)
            .collect();
        for b in over {
            self.forgotten.remove(&b);
        }
        self.acked.insert(
            base,
            (
                base + info.last_offset_delta as i64 + 1,
                data.slice(COMPARED_FROM..),
            ),
        );
    }

    /// After a truncation that may have removed everything from `from` on: acknowledged
    /// batches ending past it are forgotten (remembered as removed for good when `done`: the
    /// truncation returned), and so are the newest records of keys at or past it. Nothing
    /// below `from` may change.
    pub fn truncated(&mut self, from: i64, done: bool) {
        let gone: Vec<i64> = self
            .acked
            .iter()
            .filter(|(_, (next, _))| *next > from)
            .map(|(base, _)| *base)
            .collect();
        for base in gone {
            if let Some(v) = self.acked.remove(&base) {
                if done {
                    self.forgotten.insert(base, v);
                }
            }
        }
        self.newest.retain(|_, (offset, _, _)| *offset < from);
    }

    /// After a restart, in a compacted log: records found in the log past the newest
    /// acknowledged one of their key (appends never acknowledged, but on disk) become the
    /// newest of the key, since compaction keeps them instead; a tombstone among them may take
    /// the key away.
    pub fn observe(&mut self, batches: &[Bytes]) {
        if !self.compacted {
            return;
        }
        for b in batches {
            let info = batch::peek_header(b, 0).expect("checked");
            for (offset, key, value, ts) in records_of(b, info.base_offset) {
                if let Some(k) = key {
                    if self.newest.get(&k).is_none_or(|(o, _, _)| *o < offset) {
                        self.newest.insert(k, (offset, value, ts));
                    }
                }
            }
        }
    }

    /// Records that the log start offset reached `start` durably.
    pub fn started_at(&mut self, start: i64) {
        self.min_start = self.min_start.max(start);
    }

    /// Records that DeleteRecords up to `target` was asked for, and `Some(start)` the log
    /// start it answered (`None`: it failed, perhaps after moving the log start).
    pub fn records_deleted(&mut self, target: i64, start: Option<i64>) {
        if let Some(s) = start {
            self.started_at(s);
        }
        self.records_deleted_to = self.records_deleted_to.max(target);
    }

    /// After retention at `now` moved the log start to `start`: every acknowledged batch it
    /// deleted was older than `retention.ms`, or below a DeleteRecords.
    pub fn check_retention(&self, start: i64, now: i64) -> Result<(), String> {
        let Some(retention) = self.retention_ms else {
            return Ok(());
        };
        for (&base, (next, body)) in self.acked.range(..start) {
            // The max timestamp sits at bytes 35..43 of a batch, 19.. of the compared part.
            let max_ts = i64::from_be_bytes(body[19..27].try_into().expect("8 bytes"));
            if *next <= start && *next > self.records_deleted_to && now - max_ts <= retention {
                return Err(format!(
                    "retention at {now} (retention.ms {retention}) deleted batch {base}..{next} of {max_ts}, log start {start}"
                ));
            }
        }
        Ok(())
    }

    /// The next offset after every acknowledged batch.
    pub fn acked_end(&self) -> i64 {
        self.acked.values().map(|(n, _)| *n).max().unwrap_or(0)
    }

    /// Number of acknowledged batches.
    pub fn acked_batches(&self) -> usize {
        self.acked.len()
    }

    /// Splits a read's chunks (each holding whole batches back to back) into batches.
    pub fn split(offset: i64, chunks: &[Bytes]) -> Result<Vec<Bytes>, String> {
        let mut out = Vec::new();
        for c in chunks {
            let mut pos = 0;
            while pos < c.len() {
                let Some(info) = batch::peek_header(c, pos) else {
                    return Err(format!("read at {offset}: a torn batch header served"));
                };
                if info.len < HEADER_LEN || pos + info.len > c.len() {
                    return Err(format!(
                        "read at {offset}: batch at {} is not whole ({} of {} bytes)",
                        info.base_offset,
                        c.len() - pos,
                        info.len
                    ));
                }
                out.push(c.slice(pos..pos + info.len));
                pos += info.len;
            }
        }
        Ok(out)
    }

    /// Checks a read of `[offset, ...)` that returned `chunks`: whole, valid batches, in order,
    /// each equal to what was acknowledged at its offset. Returns the batches.
    pub fn check_read(&self, offset: i64, chunks: &[Bytes]) -> Result<Vec<Bytes>, String> {
        let batches = Self::split(offset, chunks)?;
        let mut expect_base: Option<i64> = None;
        for b in &batches {
            let info = batch::peek_header(b, 0).expect("split checked the header");
            if !crate::validate::stored_batch_ok(b, &info) {
                return Err(format!(
                    "read at {offset}: corrupt batch at {} served",
                    info.base_offset
                ));
            }
            if let Some(e) = expect_base {
                if self.compacted && info.base_offset < e {
                    return Err(format!(
                        "read at {offset}: batch at {} overlaps one ending at {e}",
                        info.base_offset
                    ));
                }
                if !self.compacted && info.base_offset != e {
                    return Err(format!(
                        "read at {offset}: batch at {} follows one ending at {e} (offsets not dense)",
                        info.base_offset
                    ));
                }
            } else if info.next_offset() <= offset {
                return Err(format!(
                    "read at {offset}: first batch ends at {} before the offset asked",
                    info.next_offset()
                ));
            }
            expect_base = Some(info.next_offset());
            if let Some((next, body)) = self.forgotten.get(&info.base_offset) {
                if *next == info.next_offset() && &b[COMPARED_FROM..] == body {
                    return Err(format!(
                        "read at {offset}: batch {}..{next}, removed by a truncation, is back",
                        info.base_offset
                    ));
                }
            }
            if self.compacted {
                continue;
            }
            if let Some((next, body)) = self.acked.get(&info.base_offset) {
                if *next != info.next_offset() || &b[COMPARED_FROM..] != body {
                    return Err(format!(
                        "batch at {} differs from the one acknowledged there",
                        info.base_offset
                    ));
                }
            }
        }
        Ok(batches)
    }

    /// Reads the whole log and checks every invariant. `Ok(batches read)`.
    pub async fn check_log(&self, log: &Rc<PartitionLog>) -> Result<Vec<Bytes>, String> {
        let start = log.log_start_offset();
        let hwm = log.high_watermark();
        if start < self.min_start {
            return Err(format!(
                "log start {start} is behind an acknowledged log start {}",
                self.min_start
            ));
        }
        if hwm < self.acked_end() {
            return Err(format!(
                "high watermark {hwm} is below acknowledged data ending at {}",
                self.acked_end()
            ));
        }
        let mut seen: BTreeMap<i64, i64> = BTreeMap::new();
        let mut keys: BTreeMap<Bytes, (i64, Option<Bytes>)> = BTreeMap::new();
        let mut at = start;
        let mut all = Vec::new();
        while at < hwm {
            let batches = match log.read(at, 64 << 10, false).await {
                Ok(b) => b,
                Err(LogError::Corrupt(c)) => {
                    return Err(format!(
                        "corrupt batch in the log at {}: {:?}",
                        c.offset, c.fault
                    ))
                }
                Err(e) => return Err(format!("read at {at} below the high watermark {hwm}: {e}")),
            };
            if batches.is_empty() {
                return Err(format!(
                    "read at {at} below the high watermark {hwm} returned nothing"
                ));
            }
            for b in &self.check_read(at, &batches)? {
                let info = batch::peek_header(b, 0).expect("checked");
                if self.compacted {
                    for (offset, key, value, _) in records_of(b, info.base_offset) {
                        if let Some(k) = key {
                            keys.insert(k, (offset, value));
                        }
                    }
                }
                if let Some(&prev_end) = seen.values().next_back() {
                    if !self.compacted && info.base_offset != prev_end {
                        return Err(format!(
                            "offsets not dense: batch at {} after data ending at {prev_end}",
                            info.base_offset
                        ));
                    }
                }
                seen.insert(info.base_offset, info.next_offset());
                at = info.next_offset();
                all.push(b.clone());
            }
        }
        if self.compacted {
            let now = crate::clock::now_ms();
            for (k, (offset, value, ts)) in &self.newest {
                if *offset < start {
                    continue;
                }
                match keys.get(k) {
                    Some((o, _)) if o > offset => {}
                    Some((o, v)) if o == offset && v == value => {}
                    // A tombstone goes after delete.retention.ms, and with it the key.
                    None if value.is_none() && now - ts > self.delete_retention_ms => {}
                    found => {
                        return Err(format!(
                            "key {k:?}: newest acknowledged record at {offset} ({}, {} ms old, delete.retention.ms {}), the log has {:?}",
                            if value.is_none() { "a tombstone" } else { "a value" },
                            now - ts,
                            self.delete_retention_ms,
                            found.map(|(o, _)| o)
                        ))
                    }
                }
            }
            return Ok(all);
        }
        for (&base, &(next, _)) in self.acked.range(start..) {
            if seen.get(&base) != Some(&next) {
                return Err(format!(
                    "acknowledged batch {base}..{next} is missing (log {start}..{hwm})"
                ));
            }
        }
        Ok(all)
    }
}
