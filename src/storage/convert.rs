//! The two changes the broker makes to a producer's batches before they are appended, both
//! only when a topic asks for them:
//!
//! - **LogAppendTime** (`message.timestamp.type`): the batch's max timestamp becomes the append
//!   time and the timestamp-type attribute bit is set; the CRC is recomputed. Only the header
//!   changes, the records are not touched (as Kafka does).
//! - **Recompression** (`compression.type` other than `producer`): a batch whose codec differs
//!   from the topic's is decoded and encoded again with the topic's codec, keeping its producer
//!   id, epoch, sequence, transactional flag, offsets deltas and timestamps. This is the one
//!   place where the broker re-encodes records.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};

use super::batch::{peek_header, set_log_append_time, BatchError, BatchInfo};
use super::validate::{self, Origin};

/// Attribute bits holding the codec.
const CODEC_MASK: i16 = 0x07;

/// The codec id (batch attribute bits) of a `compression.type` value; `None` for `producer`
/// (keep whatever the producer sent).
pub fn codec_by_name(name: &str) -> Option<i16> {
    match name.trim() {
        "uncompressed" | "none" => Some(0),
        "gzip" => Some(1),
        "snappy" => Some(2),
        "lz4" => Some(3),
        "zstd" => Some(4),
        _ => None,
    }
}

fn compression(codec: i16) -> Compression {
    match codec {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    }
}

/// True when appending `batches` to a topic with `codec` (None: producer) and LogAppendTime
/// `append_time` requires [`rewrite`].
pub fn needs_rewrite(batches: &[BatchInfo], codec: Option<i16>, append_time: bool) -> bool {
    append_time || codec.is_some_and(|c| batches.iter().any(|b| b.attributes & CODEC_MASK != c))
}

/// Re-encodes one batch with `codec`. The batch is validated again and decoded with bounded
/// decompression ([`validate::decode`]).
fn recompress(batch: &Bytes, info: &BatchInfo, codec: i16) -> Result<BytesMut, BatchError> {
    let set = validate::decode(batch, info, Origin::Client).map_err(|_| BatchError::Corrupt)?;
    let mut out = BytesMut::with_capacity(batch.len());
    let options = RecordEncodeOptions {
        version: 2,
        compression: compression(codec),
    };
    RecordBatchEncoder::encode(&mut out, set.records.iter(), &options)
        .map_err(|_| BatchError::Corrupt)?;
    // Producer batches never mix producers or sequences, so one batch goes in and one comes out.
    match peek_header(&out, 0) {
        Some(h) if h.len == out.len() => Ok(out),
        _ => Err(BatchError::Corrupt),
    }
}

/// Applies the topic's codec (`Some`: recompress batches sent with another one) and
/// LogAppendTime (`Some(now)`) to a validated payload. Returns the new payload and its batches.
pub fn rewrite(
    payload: &Bytes,
    batches: &[BatchInfo],
    codec: Option<i16>,
    append_time: Option<i64>,
) -> Result<(Bytes, Vec<BatchInfo>), BatchError> {
    let mut out = BytesMut::with_capacity(payload.len());
    for b in batches {
        let src = payload.slice(b.pos..b.pos + b.len);
        let mut one = match codec {
            Some(c) if b.attributes & CODEC_MASK != c => recompress(&src, b, c)?,
            _ => BytesMut::from(&src[..]),
        };
        if let Some(now) = append_time {
            set_log_append_time(&mut one, now);
        }
        out.extend_from_slice(&one);
    }
    let out = out.freeze();
    let mut infos = Vec::with_capacity(batches.len());
    let mut pos = 0;
    while pos < out.len() {
        let h = peek_header(&out, pos).ok_or(BatchError::Corrupt)?;
        pos += h.len;
        infos.push(h);
    }
    Ok((out, infos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{crc_ok, validate_batches};
    use kafka_protocol::records::{Record, RecordBatchDecoder, TimestampType};

    fn batch(codec: Compression, n: i32, producer: i64) -> Bytes {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: producer >= 0,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: producer,
                producer_epoch: if producer >= 0 { 3 } else { -1 },
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // As the decoder reports them: base sequence (-1 without a producer) + delta.
                sequence: if producer >= 0 { 10 + i } else { -1 + i },
                timestamp: 1_000 + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; 200])),
                headers: Default::default(),
            })
            .collect();
        let mut out = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut out, records.iter(), &opts).unwrap();
        out.freeze()
    }

    #[test]
    fn recompression_keeps_records_and_producer_fields() {
        for producer in [-1, 42] {
            let input = batch(Compression::None, 5, producer);
            let infos = validate_batches(&input, 1 << 20).unwrap();
            assert!(needs_rewrite(&infos, Some(4), false));
            assert!(!needs_rewrite(&infos, Some(0), false));
            let (out, new) = rewrite(&input, &infos, Some(4), None).unwrap();
            assert_eq!(new.len(), 1);
            let h = new[0];
            assert_eq!(h.attributes & CODEC_MASK, 4);
            assert!(out.len() < input.len(), "zstd shrinks repeated values");
            assert_eq!(h.records_count, 5);
            assert_eq!(h.last_offset_delta, 4);
            assert_eq!(h.producer_id, infos[0].producer_id);
            assert_eq!(h.base_sequence, infos[0].base_sequence);
            assert_eq!(h.max_timestamp, 1_004);
            assert_eq!(h.is_transactional(), producer >= 0);
            assert!(crc_ok(&out));
            let mut b = out.clone();
            let set = RecordBatchDecoder::decode(&mut b).unwrap();
            assert_eq!(set.records.len(), 5);
            assert_eq!(set.records[3].key.as_deref(), Some(&b"k3"[..]));
        }
    }

    #[test]
    fn log_append_time_changes_only_the_header() {
        let input = batch(Compression::Gzip, 3, -1);
        let infos = validate_batches(&input, 1 << 20).unwrap();
        let (out, new) = rewrite(&input, &infos, None, Some(99_000)).unwrap();
        assert_eq!(out.len(), input.len());
        assert_eq!(new[0].max_timestamp, 99_000);
        assert_eq!(new[0].attributes, infos[0].attributes | 0x08);
        assert!(crc_ok(&out));
        assert_eq!(&out[61..], &input[61..], "records untouched");
        let mut b = out.clone();
        let set = RecordBatchDecoder::decode(&mut b).unwrap();
        assert!(set
            .records
            .iter()
            .all(|r| r.timestamp_type == TimestampType::LogAppend));
    }
}
