//! Entry points shared by the libFuzzer targets (`fuzz/fuzz_targets/batch_validate.rs`,
//! `segment_recover.rs`) and the deterministic mutation harness that runs in `cargo test`: the
//! same code is exercised either way. Each takes arbitrary bytes and must never panic, abort
//! or allocate more than the input and the decompression bound allow; each also checks that
//! the validating walk and the decoder agree.
//!
//! A random mutation almost never keeps a CRC right, which would stop every input at the CRC
//! check; so each entry point first runs the bytes as they are, then again with lengths, magic
//! and CRCs repaired, which lets the fuzzer reach the record walk.

use bytes::Bytes;

use super::batch::{self, BatchInfo, HEADER_LEN, LOG_OVERHEAD};
use super::record_rules::{self, Findings, RecordRules, TimestampRule, MAX_FINDINGS};
use super::segment;
use super::validate::{self, Origin};

/// Per-record rules that most records break: keys required, a zero-width timestamp window.
const STRICT: RecordRules = RecordRules {
    require_key: true,
    timestamps: TimestampRule::CreateTime {
        now: 0,
        before_max_ms: 0,
        after_max_ms: 0,
    },
};

/// Sets magic 2 and a correct CRC on the batch at `pos` of `buf` (its length field as it is).
fn repair_crc(buf: &mut [u8], pos: usize, len: usize) {
    let b = &mut buf[pos..pos + len];
    b[16] = 2;
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Every check the broker runs on one framed batch, with consistency assertions.
fn exercise(batch: &[u8], info: &BatchInfo) {
    let bytes = Bytes::copy_from_slice(batch);
    for origin in [Origin::Client, Origin::Stored] {
        let checked = validate::check(batch, info, origin);
        let mut seen = 0u32;
        let walked = validate::for_each_record(batch, info, origin, |r| {
            assert_eq!(r.index, seen);
            seen += 1;
            true
        });
        assert_eq!(checked, walked, "check and walk agree");
        if origin == Origin::Client {
            // The per-record rules walk the same records and fail exactly when the walk does.
            let mut found = Findings::default();
            let judged = record_rules::check(batch, info, &STRICT, 0, &mut found);
            assert_eq!(judged, checked, "record rules and walk agree");
            if let Ok(n) = judged {
                assert!(found.total <= n as usize && found.kept.len() <= MAX_FINDINGS);
            }
        }
        if let Ok(n) = walked {
            assert_eq!(n, seen);
            assert_eq!(n as i64, info.records_count as i64);
            // The decoder may still refuse what the walk accepts (it wants UTF-8 header
            // keys), but when it decodes it finds the same records.
            if let Ok(set) = validate::decode(&bytes, info, origin) {
                assert_eq!(set.records.len(), n as usize);
            }
            let _ = validate::all_keyed(batch, info, origin);
        } else {
            // Nothing is decoded without a successful walk first.
            assert!(validate::decode(&bytes, info, origin).is_err());
        }
    }
    let _ = validate::stored_batch_ok(batch, info);
}

/// Produce-path validation of `data` as one partition's records: framing and CRC, then every
/// batch's records; then the same with the first batch's length, magic and CRC repaired.
pub fn batch_validate(data: &[u8]) {
    if let Ok(infos) = batch::validate_batches(data, 1 << 20) {
        for info in &infos {
            exercise(&data[info.pos..info.pos + info.len], info);
        }
    }
    if data.len() < HEADER_LEN {
        return;
    }
    let mut fixed = data.to_vec();
    let len = fixed.len();
    fixed[8..12].copy_from_slice(&((len - LOG_OVERHEAD) as i32).to_be_bytes());
    repair_crc(&mut fixed, 0, len);
    if let Ok(infos) = batch::validate_batches(&fixed, usize::MAX) {
        exercise(&fixed, &infos[0]);
    }
}

/// Crash recovery of `data` as a whole segment file based at offset 0, then the reads the
/// broker does on what recovery kept (lookups by timestamp, compaction's key walk, decoding);
/// again with every batch's magic and CRC repaired along its length chain.
pub fn segment_recover(data: &[u8]) {
    recover_and_read(data);
    let mut fixed = data.to_vec();
    let mut at = 0;
    while let Some(len) = batch::claimed_len(&fixed, at) {
        if len < HEADER_LEN || at + len > fixed.len() {
            break;
        }
        repair_crc(&mut fixed, at, len);
        at += len;
    }
    recover_and_read(&fixed);
}

fn recover_and_read(data: &[u8]) {
    let (valid, next) = segment::recover_image(data, 0);
    assert!(valid <= data.len());
    let mut at = 0;
    let mut expect_next = 0;
    while at < valid {
        let info = batch::peek_header(data, at).expect("recovery kept whole batches");
        let one = &data[at..at + info.len];
        assert!(validate::stored_batch_ok(one, &info));
        assert!(info.base_offset >= expect_next);
        expect_next = info.next_offset();
        exercise(one, &info);
        at += info.len;
    }
    assert_eq!(at, valid, "recovery ends on a batch boundary");
    assert_eq!(next, expect_next);
}

#[cfg(test)]
mod tests;
