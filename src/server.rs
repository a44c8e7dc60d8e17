//! Broker startup and shutdown: data directory checks, memlock sizing, one pinned glommio
//! executor per core joined by a channel mesh, a SO_REUSEPORT listener on every core, and a
//! clean stop on SIGTERM/SIGINT.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cluster::identity::load_or_create_cluster_id;
use crate::cluster::TopicTable;
use crate::config::Config;
use crate::kafka::connection;
use crate::metrics::Registry;
use crate::shard::messages::MeshMessage;
use crate::shard::{partitions, Shard};
use crate::storage::direct_io::o_direct_supported;

/// glommio's default io_memory, used when memlock is not limited.
const DEFAULT_IO_MEMORY: usize = 10 << 20;
/// glommio registers each executor's io_memory this many times against RLIMIT_MEMLOCK.
const REGISTRATIONS_PER_EXECUTOR: usize = 3;

/// io_memory per executor that fits `cores` executors under the memlock limit.
pub fn io_memory_for(memlock: Option<u64>, cores: usize) -> usize {
    match memlock {
        None => DEFAULT_IO_MEMORY,
        Some(limit) => {
            let usable = (limit as usize) * 3 / 4;
            let per = usable / (REGISTRATIONS_PER_EXECUTOR * cores.max(1));
            let rounded = per / (64 << 10) * (64 << 10);
            rounded.clamp(64 << 10, DEFAULT_IO_MEMORY)
        }
    }
}

/// The RLIMIT_MEMLOCK soft limit, `None` when unlimited or when the process may lock freely.
pub fn memlock_limit() -> Option<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) } == 0;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !ok || root || rl.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(rl.rlim_cur)
    }
}

fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .context("creating data directory lock")?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "data directory {} is in use by another broker",
            dir.display()
        );
    }
    Ok(f)
}

/// Starts the metrics listener if one is configured; returns what the startup log shows. A
/// listener that cannot be bound is logged and left out: the broker runs on without metrics
/// rather than refusing to start over an observability port.
fn start_metrics(config: &Config, registry: &Arc<Registry>) -> String {
    let Some(addr) = config.metrics_listen else {
        return "off".into();
    };
    match crate::metrics::http::spawn(addr, registry.clone()) {
        Ok(bound) => bound.to_string(),
        Err(e) => {
            tracing::warn!(
                metrics_listen = %addr,
                error = %e,
                "cannot start the metrics listener; running without /metrics, /health, /ready"
            );
            format!("off ({addr} failed)")
        }
    }
}

/// Runs the broker until SIGTERM or SIGINT.
pub fn run(config: Config) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    let direct = o_direct_supported(&config.data_dir);
    let cluster_id: Arc<str> = load_or_create_cluster_id(&config.data_dir, config.node_id)?.into();
    let table = Arc::new(TopicTable::load(&config.data_dir.join("topics.json"))?);
    let memlock = memlock_limit();
    let cores = config.cores.len();
    let io_memory = io_memory_for(memlock, cores);

    let shutdown = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, shutdown.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, shutdown.clone())?;
    let registry = Registry::new(cores, shutdown.clone());
    let metrics_at = start_metrics(&config, &registry);

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.source,
        cores = ?config.cores,
        memlock = %memlock.map(|m| format!("{m} bytes")).unwrap_or_else(|| "unlimited".into()),
        io_memory_per_core = io_memory,
        data_dir = %config.data_dir.display(),
        o_direct = direct,
        listen = %config.listen,
        advertised = %format!("{}:{}", config.advertised.0, config.advertised.1),
        metrics = %metrics_at,
        topics = table.topics.len(),
        "starting runnel"
    );
    if !direct {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "O_DIRECT NOT available on this filesystem (tmpfs?): segments use buffered I/O"
        );
    }

    let config = Arc::new(config);
    let mesh = MeshBuilder::<MeshMessage, _>::full(cores, 1024);
    let mut handles = Vec::new();
    let loaded = Arc::new(AtomicUsize::new(0));
    for (i, &cpu) in config.cores.iter().enumerate() {
        let loaded = loaded.clone();
        let cfg = config.clone();
        let cid = cluster_id.clone();
        let tbl = table.clone();
        let mesh = mesh.clone();
        let stop = shutdown.clone();
        let reg = registry.clone();
        let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("runnel-core-{i}"))
            .io_memory(io_memory);
        if cfg.spin_before_park_us > 0 {
            builder = builder.spin_before_park(Duration::from_micros(cfg.spin_before_park_us));
        }
        let h = builder
            .spawn(move || async move {
                let res = core_main(i, cfg, cid, tbl, mesh, stop, loaded, reg.clone()).await;
                if res.is_err() {
                    reg.core_failed();
                }
                res
            })
            .map_err(|e| anyhow::anyhow!("starting executor on CPU {cpu}: {e}"))?;
        handles.push(h);
    }
    let mut failed = false;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "core stopped with an error");
                failed = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "core panicked");
                failed = true;
            }
        }
    }
    if failed {
        bail!("broker stopped with errors");
    }
    tracing::info!("runnel stopped cleanly");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn core_main(
    id: usize,
    config: Arc<Config>,
    cluster_id: Arc<str>,
    table: Arc<TopicTable>,
    mesh: MeshBuilder<MeshMessage, glommio::channels::channel_mesh::Full>,
    stop: Arc<AtomicBool>,
    loaded: Arc<AtomicUsize>,
    registry: Arc<Registry>,
) -> Result<()> {
    if let Some(m) = registry.core(id) {
        crate::metrics::hooks::install(m, config.slow_request_warn);
    }
    let (senders, receivers) = mesh
        .join()
        .await
        .map_err(|_| anyhow::anyhow!("joining the channel mesh"))?;
    let shard = Shard::new(id, config.clone(), cluster_id, table.clone(), senders);
    shard.start_mesh_receivers(receivers);
    if let Err(e) = crate::storage::direct_io::prime_iopoll_probe(&config.data_dir, id).await {
        tracing::warn!(error = %e, "cannot probe polled I/O support");
    }
    partitions::apply(&shard, table).await;
    crate::group::sweep::start(shard.clone());
    crate::txn::sweep::start(&shard);
    crate::shard::housekeeping::start(&shard);
    crate::metrics::snapshot::start(shard.clone(), registry.clone());
    // No core listens before every core has opened its partitions: a client connecting early
    // is refused (and retries) rather than told that partitions still loading do not exist.
    loaded.fetch_add(1, Ordering::SeqCst);
    while loaded.load(Ordering::SeqCst) < shard.cores && !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
    let listener = TcpListener::bind(config.listen)
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", config.listen))?;
    registry.core_listening();
    tracing::info!(core = id, listen = %config.listen, "core ready");
    // One accept stays in flight across the stop-flag ticks: dropping an io_uring accept that
    // has already completed would close the connection it accepted.
    let mut accept = Box::pin(listener.accept());
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let tick = async {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            None
        };
        let got = futures_lite::future::or(async { Some((&mut accept).await) }, tick).await;
        match got {
            Some(Ok(stream)) => {
                accept = Box::pin(listener.accept());
                let s = shard.clone();
                glommio::spawn_local(connection::serve(s, stream)).detach();
            }
            Some(Err(e)) => {
                accept = Box::pin(listener.accept());
                tracing::warn!(core = id, error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            None => {}
        }
    }
    drop(accept);
    drop(listener);
    tracing::info!(core = id, "stopping: syncing logs");
    shard.close_all().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_memory_fits_memlock() {
        assert_eq!(io_memory_for(None, 4), DEFAULT_IO_MEMORY);
        let per = io_memory_for(Some(8 << 20), 2);
        assert!(per * REGISTRATIONS_PER_EXECUTOR * 2 <= 8 << 20);
        assert!(per >= 64 << 10);
    }
}
