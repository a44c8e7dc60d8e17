//! The topic-level checks and conversions of a produce, run on the receiving core after the
//! batches' framing and CRCs were validated: every record walked (Kafka's record validation,
//! [`crate::storage::validate`]: `INVALID_RECORD` / `CORRUPT_MESSAGE`) and checked against
//! the topic's per-record rules ([`crate::storage::record_rules`]: keys on compacted topics,
//! the CreateTime bounds `message.timestamp.before.max.ms` / `after.max.ms`, no producer-set
//! LogAppendTime; offending records are named, [`super::produce_errors`]),
//! `max.message.bytes`, LogAppendTime stamping and
//! recompression to the topic's `compression.type` (see [`crate::storage::convert`]).

use bytes::Bytes;

use crate::clock::now_ms;
use crate::cluster::topic_config::ProducePolicy;
use crate::errors::KafkaError;
use crate::storage::batch::{validate_batches, BatchError, BatchInfo};
use crate::storage::convert::{needs_rewrite, rewrite};
use crate::storage::record_rules::{self, Findings, RecordRules, TimestampRule};

use super::produce_errors::Refusal;

/// Batches ready to append.
pub struct Prepared {
    /// The records, rewritten when the topic asked for it.
    pub payload: Bytes,
    /// Batches of `payload`.
    pub batches: Vec<BatchInfo>,
    /// The append time stamped on LogAppendTime topics.
    pub log_append_time: Option<i64>,
}

fn batch_error(e: BatchError) -> KafkaError {
    match e {
        BatchError::Corrupt => KafkaError::CorruptMessage,
        BatchError::UnsupportedMagic => KafkaError::UnsupportedForMessageFormat,
        BatchError::TooLarge => KafkaError::MessageTooLarge,
        BatchError::Empty => KafkaError::InvalidRecord,
    }
}

/// The per-record rules of a topic with policy `p` at time `now`.
fn rules_of(p: &ProducePolicy, now: i64) -> RecordRules {
    RecordRules {
        require_key: p.requires_keys,
        timestamps: if p.log_append_time {
            TimestampRule::LogAppendTime
        } else {
            TimestampRule::CreateTime {
                now,
                before_max_ms: p.timestamp_before_max_ms,
                after_max_ms: p.timestamp_after_max_ms,
            }
        },
    }
}

/// True when the header's max timestamp of a CreateTime batch lies outside the topic's
/// bounds. Every record was checked already ([`rules_of`]); Kafka then rewrites the
/// header's max timestamp, which Runnel keeps as sent, so a header that lies is refused.
fn header_out_of_bounds(b: &BatchInfo, p: &ProducePolicy, now: i64) -> bool {
    let ts = b.max_timestamp;
    b.attributes & 0x08 == 0
        && ts >= 0
        && (now.saturating_sub(ts) > p.timestamp_before_max_ms
            || ts.saturating_sub(now) > p.timestamp_after_max_ms)
}

/// Walks the records of every batch (Kafka's record validation, [`crate::storage::validate`])
/// and checks each record against `rules`; records that break them are named in the refusal
/// (KIP-467).
fn check_records(
    payload: &Bytes,
    batches: &[BatchInfo],
    rules: &RecordRules,
    (topic, partition): (&str, i32),
) -> Result<(), Refusal> {
    let mut found = Findings::default();
    let mut first = 0u32;
    for b in batches {
        let one = &payload[b.pos..b.pos + b.len];
        match record_rules::check(one, b, rules, first, &mut found) {
            Ok(n) => first = first.saturating_add(n),
            Err(e) => return Err(KafkaError::from(&e).into()),
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(Refusal::from_findings(topic, partition, rules, &found))
}

/// Checks and converts one partition's records for a topic with policy `p`; the error says
/// how partition `tp` (topic, index) is refused.
pub fn prepare(p: &ProducePolicy, payload: Bytes, tp: (&str, i32)) -> Result<Prepared, Refusal> {
    let batches = validate_batches(&payload, p.max_message_bytes)
        .map_err(|e| Refusal::from(batch_error(e)))?;
    if batches.iter().any(|b| b.is_control()) {
        // Only the transaction coordinator writes markers.
        return Err(KafkaError::InvalidRecord.into());
    }
    let now = now_ms();
    check_records(&payload, &batches, &rules_of(p, now), tp)?;
    if !p.log_append_time && batches.iter().any(|b| header_out_of_bounds(b, p, now)) {
        return Err(KafkaError::InvalidTimestamp.into());
    }
    if !needs_rewrite(&batches, p.codec, p.log_append_time) {
        return Ok(Prepared {
            payload,
            batches,
            log_append_time: None,
        });
    }
    let stamp = p.log_append_time.then_some(now);
    let (payload, batches) =
        rewrite(&payload, &batches, p.codec, stamp).map_err(|e| Refusal::from(batch_error(e)))?;
    if batches.iter().any(|b| b.len > p.max_message_bytes) {
        return Err(KafkaError::MessageTooLarge.into());
    }
    Ok(Prepared {
        payload,
        batches,
        log_append_time: stamp,
    })
}
