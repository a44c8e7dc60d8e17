//! libFuzzer target: one partition's produce records through Runnel's batch validation
//! (framing, CRC, header counts, every record, bounded decompression) and the decoder behind
//! it. The entry point is `runnel::storage::fuzz_entry::batch_validate`, which the stable
//! harness in `cargo test` also drives. Seeds: `fuzz/seeds/batch_validate/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runnel::storage::fuzz_entry::batch_validate(data);
});
