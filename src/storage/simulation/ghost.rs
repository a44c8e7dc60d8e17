//! The ghost log: every batch the simulation ever read below a partition's high watermark, kept
//! after retention or DeleteRecords removed it from the log, and the producer state that a
//! replay of it gives.
//!
//! Data below the high watermark is durable, so the bytes at an offset may never change once
//! read (except in compacted logs, where the ghost is not kept). The ghost is read up before
//! every step that deletes records, so it holds the whole history from offset 0: its replay is
//! the oracle for what the engine's producer state must say (sequences never repeated or
//! skipped within an epoch, the last stable offset, the aborted transactions), whatever
//! snapshots the engine kept or lost.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use bytes::Bytes;

use crate::batch::{self, BatchInfo};
use crate::log::PartitionLog;

/// The bytes of a batch compared between two reads: everything after the base offset, batch
/// length and partition leader epoch.
const COMPARED_FROM: usize = 16;

/// One batch of the ghost.
#[derive(Debug, Clone)]
struct GhostBatch {
    info: BatchInfo,
    /// `Some(commit)` for a transaction marker.
    marker: Option<bool>,
    body: Bytes,
}

/// A transaction found by the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txn {
    /// The producer.
    pub pid: i64,
    /// Offset of its first batch.
    pub first: i64,
    /// Offset of its first batch still in the log (ending past the log start) the check was
    /// made for.
    pub first_kept: Option<i64>,
    /// Offset of the marker that ended it (None: still open).
    pub end: Option<i64>,
}

/// Every batch read below the high watermark of one partition, by base offset.
#[derive(Debug, Default)]
pub struct Ghost {
    batches: BTreeMap<i64, GhostBatch>,
}

impl Ghost {
    /// The offset after the last batch known.
    pub fn end(&self) -> i64 {
        self.batches
            .values()
            .next_back()
            .map_or(0, |b| b.info.next_offset())
    }

    /// Forgets the batches ending past `from` (a truncation may have removed them).
    pub fn forget_from(&mut self, from: i64) {
        self.batches.retain(|_, b| b.info.next_offset() <= from);
    }

    /// Takes in batches read from the log: a batch at an offset already known must be the same
    /// bytes.
    pub fn absorb(&mut self, batches: &[Bytes]) -> Result<(), String> {
        for b in batches {
            let info = batch::peek_header(b, 0).ok_or("a torn batch in the ghost")?;
            let marker = info
                .is_control()
                .then(|| batch::control_marker(b))
                .flatten();
            let body = b.slice(COMPARED_FROM..);
            if let Some(old) = self.batches.get(&info.base_offset) {
                if old.body != body || old.info.next_offset() != info.next_offset() {
                    return Err(format!(
                        "the batch at {} changed after it was read below the high watermark",
                        info.base_offset
                    ));
                }
                continue;
            }
            self.batches
                .insert(info.base_offset, GhostBatch { info, marker, body });
        }
        Ok(())
    }

    /// Reads the log from the ghost's end (or the log start) to the high watermark into the
    /// ghost. `Ok(false)` when a read failed (an injected fault, an offline log): then nothing
    /// may be deleted, or the ghost would lose history.
    pub async fn catch_up(&mut self, log: &Rc<PartitionLog>) -> Result<bool, String> {
        let hwm = log.high_watermark();
        let mut at = self.end().max(log.log_start_offset());
        while at < hwm {
            let Ok(read) = log.read(at, 64 << 10, false).await else {
                return Ok(false);
            };
            let batches = super::model::Model::split(at, &read)?;
            let Some(last) = batches.last().and_then(|b| batch::peek_header(b, 0)) else {
                return Err(format!("ghost read at {at} below {hwm} returned nothing"));
            };
            self.absorb(&batches)?;
            at = last.next_offset();
        }
        Ok(true)
    }

    /// Checks the producers' sequences in the whole history: within an epoch each batch
    /// follows the last one (nothing appended twice, nothing skipped), a new epoch starts at
    /// sequence 0, and epochs never go back. Offsets must be dense too.
    pub fn check_sequences(&self) -> Result<(), String> {
        let mut last: HashMap<i64, (i16, i32, i64)> = HashMap::new();
        let mut expect = None;
        for (&base, b) in &self.batches {
            if expect.is_some_and(|e| e != base) {
                return Err(format!(
                    "ghost: batch at {base} after history ending at {expect:?}"
                ));
            }
            expect = Some(b.info.next_offset());
            let i = &b.info;
            if !i.has_producer() || i.is_control() || i.base_sequence < 0 {
                continue;
            }
            match last.get(&i.producer_id) {
                Some(&(epoch, seq, at))
                    if epoch == i.producer_epoch && i.base_sequence != seq.wrapping_add(1) =>
                {
                    return Err(format!(
                        "producer {} epoch {epoch}: batch at {base} has sequence {} after {seq} (at {at}): {}",
                        i.producer_id,
                        i.base_sequence,
                        if i.base_sequence <= seq { "appended twice" } else { "a gap" }
                    ));
                }
                Some(&(epoch, _, _)) if epoch == i.producer_epoch => {}
                Some(&(epoch, _, at)) if epoch > i.producer_epoch => {
                    return Err(format!(
                        "producer {}: epoch {} at {base} after epoch {epoch} at {at}",
                        i.producer_id, i.producer_epoch
                    ));
                }
                _ if i.base_sequence != 0 => {
                    return Err(format!(
                        "producer {}: epoch {} starts at sequence {} (at {base})",
                        i.producer_id, i.producer_epoch, i.base_sequence
                    ));
                }
                _ => {}
            }
            last.insert(i.producer_id, (i.producer_epoch, i.last_sequence(), base));
        }
        Ok(())
    }

    /// The transactions of the history, in the order they started.
    pub fn transactions(&self, log_start: i64) -> Vec<Txn> {
        let mut open: HashMap<i64, usize> = HashMap::new();
        let mut out: Vec<Txn> = Vec::new();
        for (&base, b) in &self.batches {
            let pid = b.info.producer_id;
            if b.info.is_control() {
                if let (Some(_), Some(k)) = (b.marker, open.remove(&pid)) {
                    out[k].end = Some(base);
                }
                continue;
            }
            if !b.info.has_producer() || !b.info.is_transactional() {
                continue;
            }
            let k = *open.entry(pid).or_insert_with(|| {
                out.push(Txn {
                    pid,
                    first: base,
                    first_kept: None,
                    end: None,
                });
                out.len() - 1
            });
            // Still in the log: at or past the log start, or straddling it.
            if b.info.next_offset() > log_start && out[k].first_kept.is_none() {
                out[k].first_kept = Some(base);
            }
        }
        out
    }

    /// The producers' batches of the history, for a failure message: offset, producer id,
    /// epoch, first sequence, `t` for a transactional batch, `C`/`A` for a commit or abort.
    fn describe(&self) -> String {
        let mut out = Vec::new();
        for (&base, b) in &self.batches {
            let i = &b.info;
            if !i.has_producer() {
                continue;
            }
            let kind = match (b.marker, i.is_transactional()) {
                (Some(true), _) => "C",
                (Some(false), _) => "A",
                (None, true) => "t",
                (None, false) => "",
            };
            out.push(format!(
                "{base}:{}/{}/{}{kind}",
                i.producer_id, i.producer_epoch, i.base_sequence
            ));
        }
        out.join(" ")
    }

    /// Whether the marker at `end` aborted its transaction.
    fn aborted_at(&self, end: i64) -> bool {
        self.batches
            .get(&end)
            .is_some_and(|b| b.marker == Some(false))
    }

    /// Checks the log's last stable offset and aborted-transaction answers against the replay
    /// of the history. The ghost must have been caught up with the log first.
    ///
    /// A transaction that began below the log start may be known from its first batch (a
    /// snapshot kept it) or from its first batch still in the log (a replay from the log start):
    /// either is right, as long as nothing at or past the log start is hidden or shown wrongly.
    pub fn check_transactions(&self, log: &Rc<PartitionLog>) -> Result<(), String> {
        let start = log.log_start_offset();
        let hwm = log.high_watermark();
        let txns = self.transactions(start);
        // The last stable offset: the first offset of the oldest open transaction, not below the
        // log start, not past the high watermark.
        let (mut lo, mut hi) = (hwm, hwm);
        for t in txns.iter().filter(|t| t.end.is_none()) {
            let kept = t.first_kept.unwrap_or(hwm);
            lo = lo.min(t.first.max(start));
            hi = hi.min(if t.first < start {
                kept.max(start)
            } else {
                t.first
            });
        }
        let lso = log.last_stable_offset();
        if lso < lo || lso > hi {
            let engine: Vec<(i64, Option<i64>)> = log
                .producer_entries()
                .into_iter()
                .map(|(pid, e)| (pid, e.txn_first_offset))
                .collect();
            return Err(format!(
                "last stable offset {lso}, expected {lo}..={hi} (log {start}..{hwm}, open transactions {:?}; the log's producers {engine:?})",
                txns.iter().filter(|t| t.end.is_none()).collect::<Vec<_>>()
            ));
        }
        // Aborted transactions that end at or past the log start, as read_committed fetches
        // list them.
        // A transaction whose data all lies below the log start may be listed or not: there is
        // nothing left of it to hide.
        let want: Vec<&Txn> = txns
            .iter()
            .filter(|t| {
                t.end
                    .is_some_and(|e| e >= start && e < hwm && self.aborted_at(e))
            })
            .collect();
        let mut got = log.aborted_between(start, hwm);
        let answered = got.clone();
        let mut missing = Vec::new();
        for t in &want {
            let fits = |&(pid, first): &(i64, i64)| {
                pid == t.pid
                    && if t.first < start {
                        // With nothing of it left, any first batch the log saw when it last
                        // replayed from its start (a truncation removes newer snapshots).
                        first >= t.first && t.first_kept.map_or(first < start, |k| first <= k)
                    } else {
                        first == t.first
                    }
            };
            match got.iter().position(fits) {
                Some(k) => {
                    got.remove(k);
                }
                None if t.first < start && t.first_kept.is_none() => {}
                None => missing.push((t.pid, t.first, t.end)),
            }
        }
        if !missing.is_empty() || !got.is_empty() {
            return Err(format!(
                "aborted transactions in {start}..{hwm}: the log answers {answered:?}, the history has {:?} (producer batches: {})",
                want.iter().map(|t| (t.pid, t.first, t.end)).collect::<Vec<_>>(),
                self.describe()
            ));
        }
        Ok(())
    }
}
