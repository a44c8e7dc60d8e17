//! The stable fuzzing harness of request parsing (runs in plain `cargo test`; the libFuzzer
//! target is fuzz/fuzz_targets/request_decode.rs, see docs/fuzzing.md).
//!
//! Deterministic mutations (seeded PRNG) of one valid request per advertised API and version:
//! bit flips, counts and lengths overwritten with 0x7f7f7f7f / -2 / long varints, truncations,
//! inserted and deleted bytes. Each mutant goes through `dispatch::parse`, as every frame the
//! broker reads does. A counting allocator checks that no allocation made while parsing exceeds
//! a small multiple of the frame's size: a wire count can no longer size an allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use runnel::kafka::apis::api_versions::ADVERTISED;
use runnel::kafka::dispatch::{parse, Parsed};
use runnel::kafka::frame::MIN_REQUEST;
use runnel::kafka::validate::check_request;
use runnel::kafka::validate::corpus::{default_frame, random_frame, Rng};

thread_local! {
    /// Largest allocation on this thread since the last reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| {
        if size > l.get() {
            l.set(size)
        }
    });
}

// SAFETY: forwards to the system allocator and only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Largest allocation allowed while parsing a frame of `len` bytes: kafka-protocol builds one
/// in-memory value per encoded element, some of which take a byte on the wire and ~200 in memory.
fn allowed(len: usize) -> usize {
    256 * len + (64 << 10)
}

fn advertised() -> Vec<(ApiKey, i16)> {
    ADVERTISED
        .iter()
        .flat_map(|&(k, min, max)| (min..=max).map(move |v| (k, v)))
        .collect()
}

/// One valid request per advertised API and version, and a richer random one.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(0x5eed);
    let mut out = Vec::new();
    for (key, version) in advertised() {
        let name = format!("{key:?}").to_lowercase();
        out.push((
            format!("{name}-v{version}-default"),
            default_frame(key, version),
        ));
        out.push((
            format!("{name}-v{version}-random"),
            random_frame(key, version, &mut rng),
        ));
    }
    out
}

/// Outcome counts of a run.
#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    refused: u64,
    decoded: u64,
    /// Passed the validator, refused by the decoder: must stay 0.
    decoder_refused: u64,
    /// Largest allocation seen, in bytes, and the size of that frame.
    largest: (usize, usize),
}

fn run(frame: &[u8], tally: &mut Tally) {
    if frame.len() < MIN_REQUEST {
        return;
    }
    tally.cases += 1;
    let valid = check_request(frame).is_ok();
    LARGEST.with(|l| l.set(0));
    let parsed = parse(Bytes::copy_from_slice(frame));
    let largest = LARGEST.with(|l| l.get());
    assert!(
        largest <= allowed(frame.len()),
        "parsing {} bytes allocated {largest} bytes at once: {frame:02x?}",
        frame.len()
    );
    if largest > tally.largest.0 {
        tally.largest = (largest, frame.len());
    }
    match parsed {
        Parsed::Request { .. } | Parsed::LegacyProduce(_) => {
            assert!(valid, "decoded a frame the validator refuses: {frame:02x?}");
            tally.decoded += 1;
        }
        Parsed::ApiVersionsFallback => {}
        // Produce v0/v1 are advertised for librdkafka but never served (see produce.rs).
        Parsed::Close if frame[..3] == [0, 0, 0] && frame[3] < 2 => tally.refused += 1,
        Parsed::Close if valid => {
            eprintln!("validator accepts, decoder refuses: {frame:02x?}");
            tally.decoder_refused += 1
        }
        Parsed::Close => tally.refused += 1,
    }
}

fn overwrite(frame: &mut [u8], pos: usize, patch: &[u8]) {
    for (i, b) in patch.iter().enumerate() {
        if let Some(x) = frame.get_mut(pos + i) {
            *x = *b;
        }
    }
}

/// Big values as a count or length would hold them: int32 and int16 extremes, -2, and
/// varints of four and five bytes.
const PATCHES: &[&[u8]] = &[
    &[0x7f, 0x7f, 0x7f, 0x7f],
    &[0x7f, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xfe],
    &[0x7f, 0xff],
    &[0xff, 0xfe],
    &[0x80, 0x80, 0x80, 0x80, 0x08],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x80, 0x80, 0x80, 0x80, 0x80],
    &[0xff, 0xff, 0xff, 0x7f],
];

#[test]
fn mutated_requests_never_allocate_from_wire_counts() {
    let mut rng = Rng::new(0xf022);
    let mut tally = Tally::default();
    for (_, seed) in seeds() {
        // Counts and lengths overwritten at every position.
        for pos in 8..seed.len() {
            for patch in PATCHES {
                let mut f = seed.clone();
                overwrite(&mut f, pos, patch);
                run(&f, &mut tally);
            }
        }
        // Every truncation.
        for cut in MIN_REQUEST..seed.len() {
            run(&seed[..cut], &mut tally);
        }
        // Random stacks of bit flips, byte overwrites, insertions and deletions.
        for _ in 0..40 {
            let mut f = seed.clone();
            for _ in 0..=rng.below(4) {
                let pos = 8 + rng.below((f.len() - 8) as u64) as usize;
                match rng.below(5) {
                    0 => f[pos] ^= 1 << rng.below(8),
                    1 => f[pos] = rng.next_u64() as u8,
                    2 => f.insert(pos, rng.next_u64() as u8),
                    3 if f.len() > MIN_REQUEST + 1 => {
                        f.remove(pos);
                    }
                    _ => {
                        let patch = PATCHES[rng.below(PATCHES.len() as u64) as usize];
                        overwrite(&mut f, pos, patch);
                    }
                }
            }
            run(&f, &mut tally);
        }
    }
    eprintln!("{tally:?}");
    assert!(tally.cases > 50_000, "{tally:?}");
    assert!(tally.refused > tally.cases / 2, "{tally:?}");
    // The validator is an exact gate: the decoder accepts whatever it accepts.
    assert_eq!(tally.decoder_refused, 0, "{tally:?}");
}

#[test]
fn every_seed_parses() {
    for (name, seed) in seeds() {
        match parse(Bytes::from(seed)) {
            Parsed::Request { .. } | Parsed::LegacyProduce(_) => {}
            // Produce v0/v1 are advertised for librdkafka but not served (see produce.rs).
            Parsed::Close if name.starts_with("produce-v0") || name.starts_with("produce-v1") => {}
            _ => panic!("seed {name} does not parse"),
        }
    }
}

/// The committed seed corpus of the libFuzzer target is what [`seeds`] generates; set
/// RUNNEL_WRITE_SEEDS=1 to rewrite it.
#[test]
fn fuzz_seed_corpus_is_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/request_decode");
    let seeds = seeds();
    if std::env::var_os("RUNNEL_WRITE_SEEDS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, seed) in &seeds {
            std::fs::write(dir.join(name), seed).unwrap();
        }
    }
    let on_disk = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (RUNNEL_WRITE_SEEDS=1 writes it)", dir.display()))
        .count();
    assert_eq!(
        on_disk,
        seeds.len(),
        "stale seed corpus; RUNNEL_WRITE_SEEDS=1 rewrites it"
    );
    for (name, seed) in &seeds {
        let got = std::fs::read(dir.join(name)).unwrap_or_default();
        assert_eq!(
            &got, seed,
            "stale seed {name}; RUNNEL_WRITE_SEEDS=1 rewrites it"
        );
    }
}
