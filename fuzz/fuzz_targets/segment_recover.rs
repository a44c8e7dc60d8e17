//! libFuzzer target: a whole segment file through Runnel's crash-recovery rules and the reads
//! done on what recovery keeps (lookup by timestamp, compaction's key walk, decoding). The
//! entry point is `runnel::storage::fuzz_entry::segment_recover`, which the stable harness in
//! `cargo test` also drives. Seeds: `fuzz/seeds/segment_recover/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runnel::storage::fuzz_entry::segment_recover(data);
});
