//! The stable, deterministic fuzzing harness: seeds (valid batches of every codec, hostile
//! batches, segment images) mutated by a fixed-seed generator and fed to the same entry points
//! as the libFuzzer targets. Runs in plain `cargo test`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::records::tests::record;
use crate::validate::tests::hand_batch;

fn encoded(codec: Compression, n: i64, base: i64) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: base + i,
            sequence: -1 + i as i32,
            timestamp: 1_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: (i % 3 != 0).then(|| Bytes::from(vec![b'a' + i as u8; 40])),
            headers: [("h".into(), Some(Bytes::from_static(b"x")))]
                .into_iter()
                .collect(),
        })
        .collect();
    let mut out = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut out, records.iter(), &opts).unwrap();
    out.to_vec()
}

/// Seeds for both entry points.
fn seeds() -> Vec<Vec<u8>> {
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut out: Vec<Vec<u8>> = codecs.iter().map(|&c| encoded(c, 4, 0)).collect();
    // A segment image: three batches in offset order.
    let mut seg = encoded(Compression::None, 3, 0);
    seg.extend(encoded(Compression::Lz4, 2, 3));
    seg.extend(encoded(Compression::None, 1, 5));
    out.push(seg);
    let one = record(0, Some(b"k"), Some(b"v"));
    out.push(hand_batch(0, i32::MAX - 1, i32::MAX, &one));
    out.push(hand_batch(0, 5, 0, b""));
    out.push(hand_batch(1, 0, 1, b"\x1f\x8bgarbage"));
    out
}

/// xorshift64*: a fixed sequence, so every run mutates the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `data`: a bit flip, an interesting byte, an interesting 32-bit value, an
/// inserted varint, a truncation, or a duplicated slice.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    if data.is_empty() {
        data.push(rng.next() as u8);
        return;
    }
    let at = rng.below(data.len());
    match rng.below(6) {
        0 => data[at] ^= 1 << rng.below(8),
        1 => data[at] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][rng.below(6)],
        2 => {
            let v = [0i32, -1, -7, 1, i32::MAX, i32::MIN, 1 << 20][rng.below(7)];
            for (i, b) in v.to_be_bytes().iter().enumerate() {
                if let Some(x) = data.get_mut(at + i) {
                    *x = *b;
                }
            }
        }
        3 => {
            let v = [
                b"\x01".as_slice(),
                b"\x05",
                b"\xfe\xff\xff\xff\x0f",
                b"\xff\xff\xff\xff\xff\x01",
            ][rng.below(4)];
            data.splice(at..at, v.iter().copied());
        }
        4 => data.truncate(at),
        _ => {
            let end = (at + rng.below(64)).min(data.len());
            let piece = data[at..end].to_vec();
            let to = rng.below(data.len());
            data.splice(to..to, piece);
        }
    }
}

fn run_harness(entry: fn(&[u8]), rounds: usize, seed: u64) {
    let mut rng = Rng(seed);
    let seeds = seeds();
    for s in &seeds {
        entry(s);
    }
    for _ in 0..rounds {
        let mut data = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut data);
        }
        entry(&data);
    }
}

#[test]
fn batch_validation_survives_mutated_batches() {
    run_harness(batch_validate, 20_000, 0x5eed_0001);
}

#[test]
fn segment_recovery_survives_mutated_segments() {
    run_harness(segment_recover, 20_000, 0x5eed_0002);
}

#[test]
fn seeds_are_what_they_claim() {
    let s = seeds();
    // The valid seeds recover whole; the segment image keeps its three batches.
    for v in &s[..6] {
        assert_eq!(segment::recover_image(v, 0).0, v.len());
    }
    assert_eq!(segment::recover_image(&s[5], 0).1, 6);
    // The hostile ones are refused on produce.
    for v in &s[6..] {
        let infos = batch::validate_batches(v, usize::MAX).unwrap();
        assert!(validate::check(v, &infos[0], Origin::Client).is_err());
    }
}
