//! One partition of a leader's Fetch answer on the follower (Kafka's
//! `ReplicaFetcherThread.processPartitionData` and `truncateOnFetchResponse`):
//!
//! - a diverging epoch: the log is truncated where [`super::truncation::decide`] says (a cut
//!   below the high watermark is logged, as Kafka does), and the next fetch goes on from there;
//! - records: the complete batches of the answer (a trailing partial batch is left for the next
//!   fetch) are checked ([`batch::validate_batches`]: framing, magic, CRC) and handed to
//!   `append_as_follower` as the bytes they are, which refuses anything that does not continue
//!   the log; the follower waits until they are durable (`replica.fsync`, on: the offset its
//!   next fetch reports is on its disk);
//! - the high watermark: the leader's, capped by the follower's log end offset; the log start
//!   offset moves up to the leader's when the follower's high watermark allows it;
//! - OFFSET_OUT_OF_RANGE (the follower is behind the leader's log start): the log is emptied
//!   and restarts at the leader's log start (Kafka's `truncateFullyAndStartAt`);
//! - another error code: the partition is backed off (a new image resyncs it).
//!
//! Nothing a leader sends can make the follower panic: every length and offset is checked
//! before use, and a refusal is an [`Outcome::Retry`].

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::PartitionData;

use super::truncation::decide;
use super::Followed;
use crate::storage::batch;

/// What applying one partition's answer came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Batches were appended, or the log was truncated: fetch again at once.
    Progress,
    /// Nothing new (an empty answer), the high watermark followed.
    Idle,
    /// Refused or failed; why. The partition is backed off.
    Retry(String),
}

/// Applies `pd`, the leader's answer for `p` (see the module comment).
pub async fn apply(p: &Followed, pd: PartitionData) -> Outcome {
    let log = &p.log;
    if pd.error_code == OFFSET_OUT_OF_RANGE {
        return out_of_range(p, pd.log_start_offset).await;
    }
    if pd.error_code != 0 {
        return Outcome::Retry(format!("leader answered error {}", pd.error_code));
    }
    let diverging = &pd.diverging_epoch;
    if diverging.epoch >= 0 || diverging.end_offset >= 0 {
        return truncate(p, (diverging.epoch, diverging.end_offset)).await;
    }
    let mut outcome = Outcome::Idle;
    let records = pd.records.unwrap_or_default();
    let Some(complete) = complete_prefix(&records) else {
        return Outcome::Retry("records that are not batches".into());
    };
    if complete > 0 {
        let payload: Bytes = records.slice(..complete);
        let infos = match batch::validate_batches(&payload, usize::MAX) {
            Ok(i) => i,
            Err(e) => return Outcome::Retry(format!("batches refused: {e:?}")),
        };
        if let Some(first) = infos.first() {
            // The leader serves the batch holding the fetch offset whole; after a restart at
            // a log start inside a batch (DeleteRecords cut there) that batch begins below
            // the follower's log. As Kafka's `appendRecordsToFollowerOrFutureReplica`: an
            // empty log restarts at the batch's base, and the log start follows the
            // leader's again below.
            let (start, end) = (log.log_start_offset(), log.log_end_offset());
            if start == end && first.base_offset < start && first.next_offset() > start {
                if let Err(e) = log.truncate_fully_and_start_at(first.base_offset).await {
                    return Outcome::Retry(format!("cannot restart at the batch base: {e}"));
                }
            }
        }
        let appended = match log.append_as_follower(&infos, &payload) {
            Ok(a) => a,
            Err(e) => return Outcome::Retry(format!("append refused: {e}")),
        };
        if let Err(e) = log.wait_durable(&appended).await {
            return Outcome::Retry(format!("append not durable: {e}"));
        }
        outcome = Outcome::Progress;
    }
    let hw = crate::shard::replica_progress::follower_high_watermark(
        pd.high_watermark,
        log.log_end_offset(),
    );
    log.set_high_watermark(Some(hw));
    let leader_start = pd.log_start_offset;
    if leader_start > log.log_start_offset() && leader_start <= log.high_watermark() {
        if let Err(e) = log.delete_records(leader_start).await {
            return Outcome::Retry(format!("cannot follow the log start {leader_start}: {e}"));
        }
    }
    outcome
}

/// Fetch's OFFSET_OUT_OF_RANGE error code.
const OFFSET_OUT_OF_RANGE: i16 = 1;

/// The leader answered OFFSET_OUT_OF_RANGE: the follower's log end is below the leader's log
/// start (retention or DeleteRecords removed what it would fetch next), or the leader does not
/// know the follower's last epoch or offset at all. The log is emptied and restarts at the
/// leader's log start (Kafka's `truncateFullyAndStartAt`); everything it held is still in
/// the leader's log from there. A follower whose log ends past the leader's but that has
/// epochs never gets here: the leader answers it with a diverging epoch (Kafka's epoch path),
/// and [`truncate`] cuts it to the leader's end. A log already empty at the leader's start
/// that is still out of range is backed off, never restarted again in a loop.
async fn out_of_range(p: &Followed, leader_start: i64) -> Outcome {
    let log = &p.log;
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    if leader_start < 0 {
        return Outcome::Retry("offset out of range, and no leader log start".into());
    }
    if start == leader_start && end == leader_start {
        return Outcome::Retry(format!(
            "offset out of range at the leader's log start {leader_start}"
        ));
    }
    if end > leader_start && start <= leader_start {
        tracing::warn!(topic = %p.topic, partition = p.partition, log_start = start, log_end = end, leader_start, "out of range inside the leader's log: refetching from the leader's log start");
    }
    match log.truncate_fully_and_start_at(leader_start).await {
        Ok(()) => {
            tracing::info!(topic = %p.topic, partition = p.partition, from = end, leader_start, "follower log emptied, restarting at the leader's log start");
            log.set_high_watermark(Some(leader_start));
            Outcome::Progress
        }
        Err(e) => Outcome::Retry(format!("cannot restart the log at {leader_start}: {e}")),
    }
}

/// Truncates `p`'s log for the leader's epoch end `leader` (see the module comment).
async fn truncate(p: &Followed, leader: (i32, i64)) -> Outcome {
    let log = &p.log;
    let end = log.log_end_offset();
    let t = decide(leader, |e| log.end_offset_for_epoch(e), end, end);
    if t.offset >= end {
        // Nothing to cut: a leader that keeps reporting this is backed off.
        return Outcome::Retry(format!(
            "diverging epoch {leader:?} at or past the log end {end}"
        ));
    }
    if t.offset < log.log_start_offset() {
        return Outcome::Retry(format!(
            "diverging epoch {leader:?} below the log start {}",
            log.log_start_offset()
        ));
    }
    if t.offset < log.high_watermark() {
        tracing::warn!(topic = %p.topic, partition = p.partition, offset = t.offset, high_watermark = log.high_watermark(), "truncating below the high watermark");
    }
    match log.truncate_to(t.offset).await {
        Ok(cut) => {
            tracing::info!(topic = %p.topic, partition = p.partition, from = end, to = cut, leader_epoch = leader.0, complete = t.complete, "follower truncated to the leader's log");
            if log.high_watermark() > cut {
                log.set_high_watermark(Some(cut));
            }
            Outcome::Progress
        }
        Err(e) => Outcome::Retry(format!("truncation to {} failed: {e}", t.offset)),
    }
}

/// Largest batch length a follower takes from a leader's answer (the inter-broker client
/// refuses larger answers anyway).
const MAX_BATCH: usize = 64 << 20;

/// The length of the leading complete batches of `records` (a leader may cut its last batch
/// at the byte limit; Kafka's followers skip such a partial batch), or `None` when a batch
/// header is not one (a negative or oversized length): the answer is refused whole. The
/// checks proper are [`batch::validate_batches`]'s.
pub fn complete_prefix(records: &[u8]) -> Option<usize> {
    // Base offset (8) and batch length (4): the length counts the bytes after these 12.
    const LOG_OVERHEAD: usize = 12;
    let mut pos = 0usize;
    while records.len() - pos >= LOG_OVERHEAD {
        let len = i32::from_be_bytes([
            records[pos + 8],
            records[pos + 9],
            records[pos + 10],
            records[pos + 11],
        ]);
        let len = usize::try_from(len).ok().filter(|&l| l <= MAX_BATCH)?;
        let next = pos + LOG_OVERHEAD + len;
        if next > records.len() {
            break;
        }
        pos = next;
    }
    Some(pos)
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
