//! The topic-level checks and conversions of a produce, run on the receiving core after the
//! batches' framing and CRCs were validated: `max.message.bytes`, the CreateTime bounds
//! (`message.timestamp.before.max.ms` / `after.max.ms`), `min.insync.replicas` for acks=all,
//! LogAppendTime stamping and recompression to the topic's `compression.type`
//! (see [`crate::storage::convert`]).

use bytes::Bytes;

use crate::cluster::topic_config::ProducePolicy;
use crate::errors;
use crate::storage::batch::{validate_batches, BatchError, BatchInfo};
use crate::storage::convert::{needs_rewrite, rewrite};

/// Batches ready to append.
pub struct Prepared {
    /// The records, rewritten when the topic asked for it.
    pub payload: Bytes,
    /// Batches of `payload`.
    pub batches: Vec<BatchInfo>,
    /// The append time stamped on LogAppendTime topics.
    pub log_append_time: Option<i64>,
}

fn batch_error_code(e: BatchError) -> i16 {
    match e {
        BatchError::Corrupt => errors::CORRUPT_MESSAGE,
        BatchError::UnsupportedMagic => errors::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        BatchError::TooLarge => errors::MESSAGE_TOO_LARGE,
        BatchError::Empty => errors::INVALID_RECORD,
    }
}

use crate::clock::now_ms;

/// True when a CreateTime timestamp lies outside the topic's bounds around `now`. Kafka checks
/// every record; the header's first and max timestamps are checked here, which catches the
/// usual cases (records of a batch are produced together) without decoding the records.
fn out_of_bounds(b: &BatchInfo, p: &ProducePolicy, now: i64) -> bool {
    [b.base_timestamp, b.max_timestamp]
        .into_iter()
        .filter(|&ts| ts >= 0)
        .any(|ts| {
            now.saturating_sub(ts) > p.timestamp_before_max_ms
                || ts.saturating_sub(now) > p.timestamp_after_max_ms
        })
}

/// True when every record of `batches` has a key (compacted topics need one). The records are
/// decoded for this, so only compacted topics pay for it.
fn all_records_keyed(payload: &Bytes, batches: &[BatchInfo]) -> bool {
    batches.iter().all(|b| {
        let mut one = payload.slice(b.pos..b.pos + b.len);
        match kafka_protocol::records::RecordBatchDecoder::decode(&mut one) {
            Ok(set) => set.records.iter().all(|r| r.key.is_some()),
            Err(_) => false,
        }
    })
}

/// Checks and converts one partition's records for a topic with policy `p`; the error is the
/// Kafka code for the partition.
pub fn prepare(p: &ProducePolicy, acks: i16, payload: Bytes) -> Result<Prepared, i16> {
    let batches = validate_batches(&payload, p.max_message_bytes).map_err(batch_error_code)?;
    if batches.iter().any(|b| b.is_control()) {
        // Only the transaction coordinator writes markers.
        return Err(errors::INVALID_RECORD);
    }
    let now = now_ms();
    if !p.log_append_time && batches.iter().any(|b| out_of_bounds(b, p, now)) {
        return Err(errors::INVALID_TIMESTAMP);
    }
    if p.requires_keys && !all_records_keyed(&payload, &batches) {
        // Kafka: "Compacted topic cannot accept message without key".
        return Err(errors::INVALID_RECORD);
    }
    if acks == -1 && p.min_insync_replicas > 1 {
        return Err(errors::NOT_ENOUGH_REPLICAS);
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
        rewrite(&payload, &batches, p.codec, stamp).map_err(batch_error_code)?;
    if batches.iter().any(|b| b.len > p.max_message_bytes) {
        return Err(errors::MESSAGE_TOO_LARGE);
    }
    Ok(Prepared {
        payload,
        batches,
        log_append_time: stamp,
    })
}
