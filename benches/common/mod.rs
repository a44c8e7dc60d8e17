//! Helpers shared by the criterion benchmarks: record batches built with kafka-protocol, short
//! criterion settings, and a scratch directory on the real disk for direct-I/O benchmarks.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::Criterion;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Criterion settings that keep every benchmark to a few seconds.
pub fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

/// One v2 record batch (uncompressed, CRC32C set) of `count` records of `value_size` bytes.
pub fn batch(count: usize, value_size: usize) -> Bytes {
    let value = Bytes::from(vec![0x5a; value_size]);
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(value.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    if let Err(e) = RecordBatchEncoder::encode(&mut buf, &records, &opts) {
        panic!("encoding a benchmark batch: {e}");
    }
    buf.freeze()
}

/// `n` batches of `count` x `value_size` back to back, as one partition's records field.
pub fn batches(n: usize, count: usize, value_size: usize) -> Bytes {
    let one = batch(count, value_size);
    let mut out = BytesMut::with_capacity(one.len() * n);
    for _ in 0..n {
        out.extend_from_slice(&one);
    }
    out.freeze()
}

/// A topic name for kafka-protocol messages.
pub fn topic_name(name: &str) -> kafka_protocol::messages::TopicName {
    kafka_protocol::messages::TopicName(StrBytes::from_string(name.to_string()))
}

/// A fresh directory for direct-I/O files: under `$RUNNEL_BENCH_DIR` if set, else under Cargo's
/// target tmp directory (the disk the project is built on, never tmpfs unless that is).
pub fn scratch_dir() -> tempfile::TempDir {
    let base = std::env::var_os("RUNNEL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    if let Err(e) = std::fs::create_dir_all(&base) {
        panic!("creating {}: {e}", base.display());
    }
    let dir = match tempfile::tempdir_in(&base) {
        Ok(d) => d,
        Err(e) => panic!("creating a scratch directory in {}: {e}", base.display()),
    };
    if !runnel::storage::direct_io::o_direct_supported(dir.path()) {
        eprintln!(
            "warning: O_DIRECT is not available in {} (tmpfs?); set RUNNEL_BENCH_DIR to a real disk",
            dir.path().display()
        );
    }
    dir
}

/// One v2 record batch of `count` records (keys, `value_size`-byte values of mixed text so
/// that codecs compress them about as much as real payloads) with `codec`: exactly one batch,
/// record `i` at offset delta `i`.
pub fn one_batch(count: usize, value_size: usize, codec: Compression) -> Bytes {
    let mut x: u32 = 0x1234_5678;
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let value: Vec<u8> = (0..value_size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"abcdefghijklmnopqrstuvwxyz0123456789 {}:,\""[(x % 42) as usize]
                })
                .collect();
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // As the decoder reports them (base sequence -1 + delta): one batch.
                sequence: -1 + i as i32,
                timestamp: 1_700_000_000_000 + i as i64,
                key: Some(Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(value)),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    if let Err(e) = RecordBatchEncoder::encode(&mut buf, &records, &opts) {
        panic!("encoding a benchmark batch: {e}");
    }
    buf.freeze()
}
