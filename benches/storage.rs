//! The log engine's hot paths: batch validation with the base-offset rewrite done on append,
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
                    let _ = seg.file.close_rc().await;
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
    targets = validate, index, segment_write, durable_append
}
criterion_main!(benches);
