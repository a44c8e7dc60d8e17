//! The log engine's hot paths: batch validation (header and CRC, and the walk of every record,
//! compressed or not) with the base-offset rewrite done on append,
//! the check of stored batches before a fetch serves them from disk (`fetch_check`),
//! sparse index lookups, direct-I/O segment writes to a real file, and whole durable appends
//! (cache, group commit, aligned write and fdatasync) through `PartitionLog`.
//!
//! The file benchmarks run inside a glommio `LocalExecutor` in a scratch directory on the disk
//! of Cargo's target directory (override with `RUNNEL_BENCH_DIR`; it must not be tmpfs).

mod common;

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glommio::{LocalExecutor, LocalExecutorBuilder, Placement};
use runnel::storage::batch::{self, validate_batches};
use runnel::storage::index::OffsetIndex;
use runnel::storage::segment::{self, Segment};
use runnel::storage::{CacheBudget, LogConfig, PartitionLog};

/// Segments are started again from empty past this size, so a run does not fill the disk.
const RECYCLE_AT: u64 = 256 << 20;

fn executor() -> LocalExecutor {
    match LocalExecutorBuilder::new(Placement::Unbound).make() {
        Ok(ex) => ex,
        Err(e) => panic!("starting a glommio executor: {e}"),
    }
}

fn validate(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    let max = 1 << 20;
    for (n, count, size) in [(1usize, 128usize, 1024usize), (8, 16, 1024), (1, 1000, 100)] {
        let payload = common::batches(n, count, size);
        g.throughput(Throughput::Bytes(payload.len() as u64));
        let id = format!("{n}x{count}x{size}B");
        g.bench_with_input(BenchmarkId::new("validate", &id), &payload, |b, p| {
            b.iter(|| match validate_batches(black_box(p), max) {
                Ok(v) => v.len(),
                Err(e) => panic!("{e:?}"),
            })
        });
        // What append does per batch after validation: copy it out, set offset and epoch.
        g.bench_with_input(
            BenchmarkId::new("validate_copy_rewrite", &id),
            &payload,
            |b, p| {
                let mut next = 0i64;
                b.iter(|| {
                    let infos = match validate_batches(p, max) {
                        Ok(v) => v,
                        Err(e) => panic!("{e:?}"),
                    };
                    let mut out = Vec::with_capacity(infos.len());
                    for info in &infos {
                        let mut buf = BytesMut::from(&p[info.pos..info.pos + info.len]);
                        batch::set_base_offset(&mut buf, next);
                        batch::set_leader_epoch(&mut buf, 0);
                        next += info.last_offset_delta as i64 + 1;
                        out.push(buf.freeze());
                    }
                    out
                })
            },
        );
    }
    g.finish();
}

/// Produce-path validation before and after record validation (issue 16): framing + CRC
/// only (`header_crc`), and that plus the walk of every record (`records`), which for a
/// compressed batch includes the bounded decompression.
fn validate_records(c: &mut Criterion) {
    use kafka_protocol::records::Compression;
    use runnel::storage::validate::{self, Origin};
    let mut g = c.benchmark_group("batch_records");
    for (count, size, codec, name) in [
        (128usize, 1024usize, Compression::None, "none"),
        (1000, 100, Compression::None, "none"),
        (128, 1024, Compression::Lz4, "lz4"),
        (128, 1024, Compression::Zstd, "zstd"),
    ] {
        let payload = common::one_batch(count, size, codec);
        assert_eq!(
            validate_batches(&payload, usize::MAX).map(|v| v.len()),
            Ok(1)
        );
        // Throughput in uncompressed record bytes, comparable across codecs.
        g.throughput(Throughput::Bytes((count * size) as u64));
        let id = format!("{name}_1x{count}x{size}B");
        g.bench_with_input(BenchmarkId::new("header_crc", &id), &payload, |b, p| {
            b.iter(|| match validate_batches(black_box(p), usize::MAX) {
                Ok(v) => v.len(),
                Err(e) => panic!("{e:?}"),
            })
        });
        g.bench_with_input(BenchmarkId::new("records", &id), &payload, |b, p| {
            b.iter(|| {
                let infos = match validate_batches(black_box(p), usize::MAX) {
                    Ok(v) => v,
                    Err(e) => panic!("{e:?}"),
                };
                infos
                    .iter()
                    .map(
                        |i| match validate::check(&p[i.pos..i.pos + i.len], i, Origin::Client) {
                            Ok(n) => n,
                            Err(e) => panic!("{e:?}"),
                        },
                    )
                    .sum::<u32>()
            })
        });
    }
    g.finish();
}

/// `n` stored batches of `count` x `size` B with increasing base offsets, as a fetch reads them
/// from a segment.
fn stored_window(n: usize, count: usize, size: usize) -> Bytes {
    let mut out = BytesMut::from(&common::batches(n, count, size)[..]);
    let (mut at, mut next) = (0, 0i64);
    while let Some(info) = batch::peek_header(&out, at) {
        batch::set_base_offset(&mut out[at..], next);
        next += info.last_offset_delta as i64 + 1;
        at += info.len;
    }
    assert_eq!(at, out.len(), "whole batches");
    out.freeze()
}

/// The read side of issue 16: what a fetch from disk does with a window of stored batches
/// before serving it. `plain_walk` is the header walk the read did before (find the batches,
/// no check); `check_cold` adds `verify::check_range` on bytes never verified (length, magic,
/// header rules, CRC32C of every batch); `check_warm` is the same range once verified (what
/// every later fetch of those bytes pays: the header walk and a range lookup).
fn fetch_check(c: &mut Criterion) {
    use runnel::storage::verify::{check_range, Verified};
    let mut g = c.benchmark_group("fetch_check");
    for (n, count, size) in [(64usize, 16usize, 1000usize), (1024, 1, 1000)] {
        let window = stored_window(n, count, size);
        g.throughput(Throughput::Bytes(window.len() as u64));
        let id = format!("{n}x{count}x{size}B");
        g.bench_with_input(BenchmarkId::new("plain_walk", &id), &window, |b, w| {
            b.iter(|| {
                let mut at = 0;
                while let Some(info) = batch::peek_header(black_box(w), at) {
                    at += info.len;
                }
                at
            })
        });
        g.bench_with_input(BenchmarkId::new("check_cold", &id), &window, |b, w| {
            b.iter(|| {
                let mut v = Verified::default();
                match check_range(black_box(w), 0, w.len(), 0, &mut v) {
                    Ok(()) => v.ranges().len(),
                    Err(e) => panic!("{e:?}"),
                }
            })
        });
        let mut warm = Verified::default();
        if let Err(e) = check_range(&window, 0, window.len(), 0, &mut warm) {
            panic!("{e:?}");
        }
        g.bench_with_input(BenchmarkId::new("check_warm", &id), &window, |b, w| {
            b.iter(
                || match check_range(black_box(w), 0, w.len(), 0, &mut warm) {
                    Ok(()) => warm.ranges().len(),
                    Err(e) => panic!("{e:?}"),
                },
            )
        });
    }
    // The same window read from a segment file with direct I/O (no page cache), as a fetch
    // from disk reads it, without and with the cold check.
    let ex = executor();
    let dir = common::scratch_dir();
    let window = stored_window(64, 16, 1000);
    let file = ex.run(async {
        if let Err(e) = runnel::storage::direct_io::prime_iopoll_probe(dir.path(), 0).await {
            eprintln!("warning: iopoll probe: {e}");
        }
        let mut seg = match Segment::create(dir.path(), 0).await {
            Ok(s) => s,
            Err(e) => panic!("creating a segment: {e}"),
        };
        let batches = vec![(0i64, window.clone())];
        if let Err(e) = segment::write_batches(&seg.file, 0, &[], &batches).await {
            panic!("segment write: {e}");
        }
        seg.note_written(&batches, 4096);
        seg.file
    });
    g.throughput(Throughput::Bytes(window.len() as u64));
    for check in [false, true] {
        let name = if check {
            "disk_read_check_cold"
        } else {
            "disk_read"
        };
        g.bench_function(BenchmarkId::new(name, "64x16x1000B"), |b| {
            b.iter_custom(|iters| {
                ex.run(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let buf = match segment::read(&file, 0, window.len()).await {
                            Ok(b) => b,
                            Err(e) => panic!("segment read: {e}"),
                        };
                        if check {
                            let mut v = Verified::default();
                            if let Err(e) = check_range(&buf, 0, buf.len(), 0, &mut v) {
                                panic!("{e:?}");
                            }
                        }
                        black_box(buf);
                    }
                    start.elapsed()
                })
            })
        });
    }
    ex.run(async { file.release() });
    g.finish();
}

fn index(c: &mut Criterion) {
    let mut g = c.benchmark_group("index");
    // A full 1 GiB segment indexed every 4 KiB: 262,144 entries; and a small one.
    for entries in [1024u32, 262_144] {
        let mut idx = OffsetIndex::new();
        for i in 0..entries {
            idx.push(i * 40, i * 4096);
        }
        let span = entries * 40;
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("lookup", entries), |b| {
            let mut x = 0x9e37_79b9u32;
            b.iter(|| {
                // xorshift: lookups spread over the whole index, not one hot entry
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                idx.lookup(black_box(x % span))
            })
        });
    }
    g.finish();
}

/// Raw segment appends: `write_batches` (one aligned `DmaFile` write of tail + batches) and the
/// bookkeeping of `note_written`, without fdatasync.
fn segment_write(c: &mut Criterion) {
    let ex = executor();
    let dir = common::scratch_dir();
    let mut g = c.benchmark_group("segment");
    for (n, count) in [(1usize, 16usize), (64, 16)] {
        let one = common::batch(count, 1000);
        let batches: Vec<(i64, Bytes)> = (0..n).map(|i| (i as i64, one.clone())).collect();
        let bytes: usize = batches.iter().map(|(_, b)| b.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(format!("write_{}KiB_no_sync", bytes / 1024), |b| {
            b.iter_custom(|iters| {
                ex.run(async {
                    let mut seg = match Segment::create(dir.path(), 0).await {
                        Ok(s) => s,
                        Err(e) => panic!("creating a segment: {e}"),
                    };
                    let start = Instant::now();
                    for _ in 0..iters {
                        if seg.size > RECYCLE_AT {
                            seg = match Segment::create(dir.path(), 0).await {
                                Ok(s) => s,
                                Err(e) => panic!("creating a segment: {e}"),
                            };
                        }
                        let at = seg.write_start();
                        if let Err(e) =
                            segment::write_batches(&seg.file, at, &seg.tail, &batches).await
                        {
                            panic!("segment write: {e}");
                        }
                        seg.note_written(&batches, 4096);
                    }
                    let took = start.elapsed();
                    seg.file.release();
                    took
                })
            })
        });
    }
    g.finish();
}

/// Durable appends through `PartitionLog`: copy into the cache, group commit, aligned write,
/// fdatasync, high watermark advance. `concurrent` producers append at once and share syncs.
fn durable_append(c: &mut Criterion) {
    let ex = executor();
    let dir = common::scratch_dir();
    let cfg = LogConfig {
        segment_bytes: RECYCLE_AT,
        ..LogConfig::default()
    };
    let log: Rc<PartitionLog> = ex.run(async {
        if let Err(e) = runnel::storage::direct_io::prime_iopoll_probe(dir.path(), 0).await {
            eprintln!("warning: iopoll probe: {e}");
        }
        match PartitionLog::open(&dir.path().join("bench-0"), cfg, CacheBudget::new(64 << 20)).await
        {
            Ok(l) => l,
            Err(e) => panic!("opening a log: {e}"),
        }
    });
    let payload = common::batch(16, 1000);
    let infos = match validate_batches(&payload, 1 << 20) {
        Ok(v) => v,
        Err(e) => panic!("{e:?}"),
    };
    let mut g = c.benchmark_group("log");
    g.measurement_time(Duration::from_secs(3));
    for concurrent in [1usize, 8] {
        g.throughput(Throughput::Bytes((payload.len() * concurrent) as u64));
        g.bench_function(
            format!("append_durable_{concurrent}x16KiB_fdatasync"),
            |b| {
                b.iter_custom(|iters| {
                    ex.run(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let mut last = None;
                            for _ in 0..concurrent {
                                match log.append(&infos, &payload) {
                                    Ok(a) => last = Some(a),
                                    Err(e) => panic!("append: {e:?}"),
                                }
                            }
                            let Some(last) = last else { continue };
                            if let Err(e) = log.wait_durable(&last).await {
                                panic!("wait_durable: {e:?}");
                            }
                        }
                        start.elapsed()
                    })
                })
            },
        );
    }
    g.finish();
    ex.run(log.close());
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = validate, validate_records, fetch_check, index, segment_write, durable_append
}
criterion_main!(benches);
