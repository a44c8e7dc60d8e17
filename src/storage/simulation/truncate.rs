//! The truncation step of the storage simulation: `truncate_to` at a random offset, as a
//! follower does when it sees a new leader, and what the oracle forgets.
//!
//! A truncation that returns removes every batch ending past its cut for good: the model
//! forgets the acknowledged ones and remembers them as removed (none may be read again, not
//! after a crash or a power loss either), the ghost forgets them, and the producers go on from
//! the log's producer state. Everything below the cut must stay as it was. A truncation that
//! fails (an injected disk fault takes the log offline) may have removed anything from the
//! batch holding its offset on, or nothing: the oracle forgets that range without remembering
//! it as removed, and the producers start new epochs.
//!
//! Leader epochs: a truncation is followed, as on a follower that becomes leader, by a new
//! leader epoch now and then, so logs hold several epochs. The leader-epoch cache must be what
//! the batch headers give (checked after a cut and after every restart, on logs that are not
//! compacted: compaction may remove the batch that started an epoch).

use std::rc::Rc;

use bytes::Bytes;

use super::{Part, Report};
use crate::batch;
use crate::epochs::EpochCache;
use crate::log::{LogError, PartitionLog};
use crate::rng::Rng;

/// Records per simulated batch, at most (`client::random_batch`).
const MAX_BATCH_RECORDS: i64 = 8;

/// Truncates the log of `p` at a random offset (mostly near its end) and updates the oracle.
pub(super) async fn step(
    log: &Rc<PartitionLog>,
    p: &mut Part,
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    let start = log.log_start_offset();
    let end = log.log_end_offset();
    let at = if rng.one_in(4) {
        start + rng.below((end - start + 1) as u64) as i64
    } else {
        end - rng.below((end - start).min(64) as u64 + 1) as i64
    };
    match log.truncate_to(at).await {
        Ok(cut) => {
            if cut > at || cut < start || (at == end && cut != end) {
                return Err(format!("truncate_to({at}) in {start}..{end} cut at {cut}"));
            }
            if log.log_end_offset() != cut || log.high_watermark() != cut {
                return Err(format!(
                    "truncate_to({at}) answered {cut}: log end {}, high watermark {}",
                    log.log_end_offset(),
                    log.high_watermark()
                ));
            }
            if !matches!(log.read(cut, 1 << 16, false).await.as_deref(), Ok([])) {
                return Err(format!(
                    "truncate_to({at}) answered {cut}: a read there is not empty"
                ));
            }
            report.truncations += 1;
            p.model.truncated(cut, true);
            if !p.cfg.compact {
                // The disk still fails now and then: a read that fails skips the check.
                if let Some(all) = read_all(log).await {
                    check_epochs(log, &all)?;
                }
            }
            if rng.one_in(2) {
                log.set_leader_epoch(log.leader_epoch() + 1 + rng.below(3) as i32);
            }
            if let Some(g) = &mut p.ghost {
                g.forget_from(cut);
            }
            let entries = log.producer_entries();
            p.clients.truncated(cut, Some(&entries));
            if let Some(g) = &mut p.ghost {
                // What is left must still be what was read before, and the producer state
                // the replay of what is left.
                if g.catch_up(log).await? {
                    g.check_sequences()?;
                    g.check_transactions(log)?;
                }
            }
        }
        // Refused before anything was cut (an offset inside a batch that straddles the log
        // start, a read of the segment that failed), or nothing to cut.
        Err(LogError::OffsetOutOfRange | LogError::Io(_)) => {}
        Err(_) if at == end => {}
        Err(_) => {
            let from = (at - MAX_BATCH_RECORDS + 1).max(start);
            p.model.truncated(from, false);
            if let Some(g) = &mut p.ghost {
                g.forget_from(from);
            }
            p.clients.truncated(from, None);
        }
    }
    Ok(())
}

/// Every batch readable from the log start, or `None` if a read fails.
async fn read_all(log: &PartitionLog) -> Option<Vec<Bytes>> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    loop {
        let got = log.read(at, 1 << 20, false).await.ok()?;
        if got.is_empty() {
            return Some(out);
        }
        for b in got {
            let mut pos = 0;
            while let Some(h) = batch::peek_header(&b, pos) {
                at = at.max(h.next_offset());
                pos += h.len;
            }
            out.push(b);
        }
    }
}

/// Checks the log's leader-epoch cache against `all`, every batch readable from its log start
/// (when the whole log is readable: its high watermark is its end).
pub(super) fn check_epochs(log: &PartitionLog, all: &[Bytes]) -> Result<(), String> {
    if log.high_watermark() != log.log_end_offset() {
        return Ok(());
    }
    let start = log.log_start_offset();
    let mut want = EpochCache::default();
    for b in all {
        let mut pos = 0;
        while let Some(h) = batch::peek_header(b, pos) {
            if h.next_offset() > start {
                want.assign(batch::leader_epoch(&b[pos..]), h.base_offset.max(start));
            }
            pos += h.len;
        }
    }
    let got = log.epoch_entries();
    if got != want.entries() {
        return Err(format!(
            "leader-epoch cache {got:?}, the batches in {start}..{} give {:?}",
            log.log_end_offset(),
            want.entries()
        ));
    }
    Ok(())
}
