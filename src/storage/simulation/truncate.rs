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

use std::rc::Rc;

use super::{Part, Report};
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
