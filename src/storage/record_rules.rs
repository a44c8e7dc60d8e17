//! The per-record rules of a produce (Kafka's `LogValidator` record checks, KIP-467): a topic
//! may require a key on every record (compacted topics) and bound CreateTime timestamps, and a
//! producer may not flag its batch LogAppendTime. Unlike a malformed record, which makes the
//! whole batch unreadable ([`super::validate::Invalid`]), a record that breaks one of these
//! rules is well formed: the batch is refused, and the refusal names each offending record by
//! its index so that a client can fail exactly those records.
//!
//! The check runs during the same zero-allocation walk that validates the records
//! ([`super::validate::for_each_record`]); findings are collected only when a record breaks a
//! rule, at most [`MAX_FINDINGS`] of them (the rest are counted). Nothing here knows Kafka's
//! error codes or texts: the protocol layer maps each [`Finding`] to its code and message.

use super::batch::BatchInfo;
use super::records::RecordRef;
use super::validate::{self, Invalid, Origin};

/// Most findings kept for one partition of a produce; further offending records are only
/// counted ([`Findings::total`]). Bounds the memory (and the response) a hostile batch of
/// millions of keyless records could cost.
pub const MAX_FINDINGS: usize = 10_000;

/// Batch attribute bit: the timestamps are LogAppendTime.
const LOG_APPEND_TIME_FLAG: i16 = 0x08;

/// What the topic asks of the timestamps of produced records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampRule {
    /// `message.timestamp.type=CreateTime`: a record's timestamp (unless -1) must lie within
    /// `[now - before_max_ms, now + after_max_ms]`.
    CreateTime {
        /// The broker's clock when the produce is checked.
        now: i64,
        /// `message.timestamp.before.max.ms`.
        before_max_ms: i64,
        /// `message.timestamp.after.max.ms`.
        after_max_ms: i64,
    },
    /// `message.timestamp.type=LogAppendTime`: the broker stamps the batch; a producer must not.
    LogAppendTime,
}

/// The rules one topic applies to each produced record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRules {
    /// Every record needs a non-null key (`cleanup.policy` includes `compact`).
    pub require_key: bool,
    /// The timestamp rule.
    pub timestamps: TimestampRule,
}

/// Why one record is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// A record without a key on a topic that requires keys.
    MissingKey,
    /// A CreateTime timestamp outside the topic's window.
    TimestampOutOfRange {
        /// The record's timestamp.
        timestamp: i64,
        /// The record's offset as the producer numbered it (base offset + offset delta).
        offset: i64,
    },
    /// The producer flagged its batch LogAppendTime where that is not accepted.
    ProducerLogAppendTime {
        /// The record's offset as the producer numbered it.
        offset: i64,
        /// The record's timestamp (the batch's max timestamp, as for LogAppendTime batches).
        timestamp: i64,
        /// Key length in bytes (0 for a null key).
        key_len: usize,
        /// Value length in bytes (0 for a null value).
        value_len: usize,
    },
}

/// One refused record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFinding {
    /// Index of the record among the records of the partition's data (within its batch when,
    /// as producers send them, the partition's data is one batch).
    pub index: u32,
    /// Why it is refused.
    pub finding: Finding,
}

/// The findings of one partition's batches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// The first [`MAX_FINDINGS`] findings, in record order.
    pub kept: Vec<RecordFinding>,
    /// Number of refused records, kept or not.
    pub total: usize,
}

impl Findings {
    /// True when no record was refused.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn push(&mut self, f: RecordFinding) {
        self.total += 1;
        if self.kept.len() < MAX_FINDINGS {
            self.kept.push(f);
        }
    }
}

/// The finding for one record of the batch described by `info`, if any. As Kafka, a missing
/// key is reported before the timestamp, and a record has at most one finding.
fn judge(info: &BatchInfo, rules: &RecordRules, r: &RecordRef<'_>) -> Option<Finding> {
    if rules.require_key && r.key.is_none() {
        return Some(Finding::MissingKey);
    }
    let flagged = info.attributes & LOG_APPEND_TIME_FLAG != 0;
    // A LogAppendTime batch gives every record its max timestamp.
    let timestamp = if flagged {
        info.max_timestamp
    } else {
        info.base_timestamp.wrapping_add(r.timestamp_delta)
    };
    let offset = info.base_offset.wrapping_add(r.offset_delta as i64);
    match rules.timestamps {
        TimestampRule::CreateTime {
            now,
            before_max_ms,
            after_max_ms,
        } if timestamp != -1 => {
            let out = now.saturating_sub(timestamp) > before_max_ms
                || timestamp.saturating_sub(now) > after_max_ms;
            out.then_some(Finding::TimestampOutOfRange { timestamp, offset })
        }
        _ if flagged => Some(Finding::ProducerLogAppendTime {
            offset,
            timestamp,
            key_len: r.key.map_or(0, <[u8]>::len),
            value_len: r.value.map_or(0, <[u8]>::len),
        }),
        _ => None,
    }
}

/// Validates the produced batch `batch` (client rules, [`validate::for_each_record`]) and
/// checks each of its records against `rules`, adding findings to `out` with record indexes
/// starting at `first_index`. Returns the number of records.
///
/// A malformed batch is an error (and its findings do not matter: the batch is unreadable).
/// Nothing is allocated unless a record is refused.
pub fn check(
    batch: &[u8],
    info: &BatchInfo,
    rules: &RecordRules,
    first_index: u32,
    out: &mut Findings,
) -> Result<u32, Invalid> {
    validate::for_each_record(batch, info, Origin::Client, |r| {
        if let Some(finding) = judge(info, rules, r) {
            out.push(RecordFinding {
                index: first_index.saturating_add(r.index),
                finding,
            });
        }
        true
    })
}

#[cfg(test)]
mod tests;
