//! Work that crosses glommio executors, run with the broker's own pieces: a raw channel-mesh
//! ping-pong, a `Mesh::call` round trip to another core, and whole Produce requests
//! (decode, validation, routing, durable group-committed append, encoded response) handled by
//! `dispatch::handle_frame` on core 0, with one core and with two (partitions on both).
//!
//! Each benchmark starts executors pinned to CPUs 0 (and 1) like the broker, with a scratch data
//! directory on the real disk (see `common::scratch_dir`).

mod common;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};
use runnel::cluster::TopicTable;
use runnel::config::{Config, Overrides};
use runnel::kafka::dispatch::{handle_frame, Outcome};
use runnel::security::principal::KafkaPrincipal;
use runnel::services::Core;
use runnel::shard::handlers::ListOffsetsCall;
use runnel::shard::messages::MeshMessage;
use runnel::shard::partitions;

const PRODUCE_V: i16 = 9;
const PARTITIONS: i32 = 6;

/// What core 0 is asked to do; each returns the time `iters` repetitions took.
enum Job {
    /// Send a number to core 1 over a raw mesh and wait for it to come back.
    Ping(u64),
    /// `Mesh::call(1, ListOffsets([]))`: the broker's forwarding round trip with no work.
    Call(u64),
    /// `handle_frame` on this frame, `in_flight` at a time (like a pipelining client).
    Produce {
        frame: Bytes,
        in_flight: usize,
        iters: u64,
    },
}

/// Executors pinned to CPUs 0..cores, sharing a scratch data directory and one topic.
struct Broker {
    jobs: mpsc::Sender<(Job, mpsc::Sender<Duration>)>,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start(cores: usize, spin: Option<Duration>) -> Broker {
        let dir = common::scratch_dir();
        let ov = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            cores: Some(cores.to_string()),
            ..Overrides::default()
        };
        let config = match Config::load(None, &ov) {
            Ok(c) => Arc::new(c),
            Err(e) => panic!("config: {e}"),
        };
        let mut table = TopicTable::default();
        if let Err(e) = table.create("bench", PARTITIONS, BTreeMap::new(), cores) {
            panic!("creating the topic: {e:?}");
        }
        let table = Arc::new(table);
        let mesh = MeshBuilder::<MeshMessage, _>::full(cores, 1024);
        let raw = MeshBuilder::<u64, _>::full(cores, 1024);
        let (jobs_tx, jobs_rx) = mpsc::channel::<(Job, mpsc::Sender<Duration>)>();
        let mut jobs_rx = Some(jobs_rx);
        let mut handles = Vec::new();
        for id in 0..cores {
            let (config, table, mesh, raw) =
                (config.clone(), table.clone(), mesh.clone(), raw.clone());
            let jobs = if id == 0 { jobs_rx.take() } else { None };
            let mut b = LocalExecutorBuilder::new(Placement::Fixed(id)).name("bench-core");
            if let Some(s) = spin {
                b = b.spin_before_park(s);
            }
            let h = b.spawn(move || async move {
                let Ok((senders, receivers)) = mesh.join().await else {
                    panic!("joining the mesh")
                };
                let Ok((raw_tx, mut raw_rx)) = raw.join().await else {
                    panic!("joining the raw mesh")
                };
                let core = Core::new(
                    id,
                    config.clone(),
                    "bench".into(),
                    table.clone(),
                    senders,
                    runnel::kafka::validate::check_peer_response,
                );
                core.mesh.start_receivers(receivers);
                if let Err(e) =
                    runnel::storage::direct_io::prime_iopoll_probe(&config.data_dir, id).await
                {
                    eprintln!("warning: iopoll probe: {e}");
                }
                partitions::apply(&core.store, table).await;
                match jobs {
                    Some(jobs) => {
                        let peer = raw_rx.streams().into_iter().next().map(|(_, s)| s);
                        // Blocking here only idles this executor between jobs.
                        while let Ok((job, done)) = jobs.recv() {
                            let took = run_job(&core, &raw_tx, peer.as_ref(), job).await;
                            let _ = done.send(took);
                        }
                    }
                    None => {
                        // Echo raw pings until core 0 hangs up.
                        if let Some((_, s)) = raw_rx.streams().into_iter().next() {
                            while let Some(n) = s.recv().await {
                                if raw_tx.send_to(0, n).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }
                core.store.close_all().await;
            });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => panic!("starting executor {id}: {e}"),
            }
        }
        Broker {
            jobs: jobs_tx,
            handles,
            _dir: dir,
        }
    }

    fn run(&self, job: Job) -> Duration {
        let (tx, rx) = mpsc::channel();
        if self.jobs.send((job, tx)).is_err() {
            panic!("core 0 has stopped");
        }
        match rx.recv() {
            Ok(d) => d,
            Err(_) => panic!("core 0 failed the job"),
        }
    }

    fn stop(self) {
        drop(self.jobs);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

async fn run_job(
    core: &Rc<Core>,
    raw_tx: &glommio::channels::channel_mesh::Senders<u64>,
    peer: Option<&glommio::channels::shared_channel::ConnectedReceiver<u64>>,
    job: Job,
) -> Duration {
    let start = Instant::now();
    match job {
        Job::Ping(iters) => {
            let Some(peer) = peer else {
                panic!("no peer core")
            };
            for i in 0..iters {
                if raw_tx.send_to(1, i).await.is_err() || peer.recv().await != Some(i) {
                    panic!("ping lost");
                }
            }
        }
        Job::Call(iters) => {
            for _ in 0..iters {
                if let Err(e) = core.mesh.call(1, ListOffsetsCall(Vec::new())).await {
                    panic!("forwarding failed: {e}");
                }
            }
        }
        Job::Produce {
            frame,
            in_flight,
            iters,
        } => {
            let anonymous = Rc::new(KafkaPrincipal::anonymous());
            let listener = Rc::new(core.view.config().listeners.all[0].clone());
            for _ in 0..iters {
                let tasks: Vec<_> = (0..in_flight)
                    .map(|_| {
                        glommio::spawn_local(handle_frame(
                            core.clone(),
                            frame.clone(),
                            None,
                            anonymous.clone(),
                            listener.clone(),
                        ))
                    })
                    .collect();
                for t in tasks {
                    match t.await {
                        Outcome::Respond(chunks) if !chunks.is_empty() => {}
                        _ => panic!("produce failed"),
                    }
                }
            }
        }
    }
    start.elapsed()
}

/// A Produce request frame (no size prefix) with `batch` in each of the topic's partitions.
fn produce_frame(batch: &Bytes) -> Bytes {
    let mut t = TopicProduceData::default();
    t.name = common::topic_name("bench");
    for p in 0..PARTITIONS {
        let mut pd = PartitionProduceData::default();
        pd.index = p;
        pd.records = Some(batch.clone());
        t.partition_data.push(pd);
    }
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data.push(t);
    let mut header = RequestHeader::default();
    header.request_api_key = ApiKey::Produce as i16;
    header.request_api_version = PRODUCE_V;
    header.correlation_id = 1;
    header.client_id = Some(StrBytes::from_static_str("bench"));
    let mut buf = BytesMut::new();
    let res = header
        .encode(&mut buf, ApiKey::Produce.request_header_version(PRODUCE_V))
        .and_then(|_| req.encode(&mut buf, PRODUCE_V));
    if let Err(e) = res {
        panic!("encoding: {e}");
    }
    buf.freeze()
}

fn cross_core(c: &mut Criterion) {
    for (label, spin) in [
        ("parked", None),
        ("spin_50us", Some(Duration::from_micros(50))),
    ] {
        let broker = Broker::start(2, spin);
        let mut g = c.benchmark_group(format!("cross_core_{label}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mesh_ping_pong", |b| {
            b.iter_custom(|iters| broker.run(Job::Ping(iters)))
        });
        g.bench_function("shard_call_round_trip", |b| {
            b.iter_custom(|iters| broker.run(Job::Call(iters)))
        });
        g.finish();
        broker.stop();
    }
}

fn produce(c: &mut Criterion) {
    for cores in [1usize, 2] {
        let broker = Broker::start(cores, None);
        let mut g = c.benchmark_group(format!("produce_request_{cores}_core"));
        g.measurement_time(Duration::from_secs(3));
        for (count, size) in [(16usize, 1000usize), (160, 100)] {
            let frame = produce_frame(&common::batch(count, size));
            for in_flight in [1usize, 8] {
                let msgs = count as u64 * PARTITIONS as u64 * in_flight as u64;
                g.throughput(Throughput::Elements(msgs));
                let name = format!("6x{count}x{size}B_acks_all_{in_flight}_in_flight");
                g.bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        broker.run(Job::Produce {
                            frame: frame.clone(),
                            in_flight,
                            iters,
                        })
                    })
                });
            }
        }
        g.finish();
        broker.stop();
    }
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = cross_core, produce
}
criterion_main!(benches);
