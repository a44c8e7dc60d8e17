//! Record batches for tests, benchmarks, the fuzzing seeds and the simulation: one plain
//! record, and a batch encoded by kafka-protocol's encoder (magic 2) as a client would send it.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// A record without producer, headers or transaction, at `offset`, its sequence following the
/// offset (the encoder needs offsets and sequences to advance together within one batch).
pub fn record(offset: i64, key: Option<Bytes>, value: Option<Bytes>, timestamp: i64) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32,
        timestamp,
        key,
        value,
        headers: Default::default(),
    }
}

/// `records` encoded as one batch with `compression`.
pub fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut b = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut b, records.iter(), &opts).expect("kafka-protocol encodes");
    b.freeze()
}
