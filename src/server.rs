//! Broker startup and shutdown: data directory checks, memlock sizing, one pinned glommio
//! executor per core joined by a channel mesh, a SO_REUSEPORT listener on every core, and a
//! clean stop on SIGTERM/SIGINT.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cluster::identity;
use crate::cluster::TopicTable;
use crate::config::listeners::Listener;
use crate::config::Config;
use crate::kafka::connection;
use crate::kafka::read_budget::ReadBudget;
use crate::membership::{self, Membership};
use crate::metrics::Registry;
use crate::periodic::{self, Loop};
use crate::services::Core;
use crate::shard::messages::MeshMessage;
use crate::shard::partitions;
use crate::storage::direct_io::o_direct_supported;

/// How long startup waits for the listen address to be free before giving up.
const LISTEN_PROBE_GRACE: Duration = Duration::from_secs(3);
/// How often each core looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

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
        .with_context(|| format!("creating the lock file {}", dir.join(".lock").display()))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "data directory {} is in use by another broker",
            dir.display()
        );
    }
    Ok(f)
}

/// Fails when another process (another broker, or anything else) already listens on `addr`.
///
/// Every core binds the Kafka port with SO_REUSEPORT, which would let a second broker started on
/// the same address share the port silently, splitting clients between two brokers. A socket
/// bound *without* SO_REUSEPORT cannot share the address with a listener, so binding one (and
/// closing it again) tells whether the address is free. The bind also fails while connections
/// of a previous run linger on the port (TIME_WAIT, or clients still closing): then a connect
/// tells whether anything actually listens.
fn ensure_listen_address_free(addr: std::net::SocketAddr) -> Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    // A broker killed a moment ago may hold its listening sockets for a few more milliseconds
    // (its io_uring is torn down after the process): give the kernel a short while.
    let deadline = std::time::Instant::now() + LISTEN_PROBE_GRACE;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(probe) => {
                drop(probe);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if !someone_listens(addr) {
                    return Ok(());
                }
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "cannot listen on {addr}: the address is already in use by another \
                         process (another broker?); stop it or choose another address with \
                         --listen / listeners"
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => bail!("cannot listen on {addr}: {e}"),
        }
    }
}

/// Whether a connection to `addr` (loopback for a wildcard address) is accepted.
fn someone_listens(addr: std::net::SocketAddr) -> bool {
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok()
}

/// After the stop flag is set, gives the cores `timeout` to finish; then exits the process.
fn start_shutdown_watchdog(stop: Arc<AtomicBool>, timeout: Duration) -> Result<()> {
    std::thread::Builder::new()
        .name("runnel-stop-watchdog".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(timeout);
            tracing::error!(
                timeout_ms = timeout.as_millis() as u64,
                "the broker did not stop within runnel.shutdown.timeout.ms; exiting now \
                 (recovery at the next start replays what was not synced)"
            );
            std::process::exit(1);
        })
        .context("starting the shutdown watchdog")?;
    Ok(())
}

/// Starts the metrics listener if one is configured; returns what the startup log shows. A
/// listener that cannot be bound is logged and left out: the broker runs on without metrics
/// rather than refusing to start over an observability port. TLS settings that cannot be used
/// stop the broker (serving the endpoint without its protection is not an option).
fn start_metrics(config: &Config, registry: &Arc<Registry>) -> Result<String> {
    let Some(addr) = config.metrics_listen else {
        return Ok("off".into());
    };
    let tls = match &config.metrics_http.tls {
        None => None,
        Some(settings) => Some(Arc::new(
            crate::security::tls::TlsContext::new(settings.clone())
                .map_err(|e| anyhow::anyhow!("metrics.{e}"))?,
        )),
    };
    // What the startup line shows besides the address.
    let scheme = if tls.is_some() { "https://" } else { "" };
    let auth = match &config.metrics_http.basic {
        Some(_) => " (basic auth)",
        None => "",
    };
    let security = crate::metrics::http::HttpSecurity {
        tls,
        basic: config.metrics_http.basic.clone(),
    };
    Ok(
        match crate::metrics::http::spawn(addr, registry.clone(), security) {
            Ok(bound) => format!("{scheme}{bound}{auth}"),
            Err(e) => {
                tracing::warn!(
                    metrics_listen = %addr,
                    error = %e,
                    "cannot start the metrics listener; running without /metrics, /health, /ready"
                );
                format!("off ({addr} failed)")
            }
        },
    )
}

/// Runs the broker until SIGTERM or SIGINT.
pub fn run(config: Config) -> Result<()> {
    crate::panic_exit::install();
    periodic::set_interval_override(config.periodic_interval_override_us);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    if !config.quorum.roles.broker {
        return run_controller_only(&config);
    }
    for l in &config.listeners.all {
        ensure_listen_address_free(l.bind)?;
    }
    crate::fd_limit::raise_nofile();
    let direct = o_direct_supported(&config.data_dir);
    // meta.properties' id, or the one this broker proposes if the image has none: nothing is
    // written before the quorum's id is known (src/shard/cluster_id.rs).
    let cluster_id: Arc<str> = identity::read_cluster_id(&config.data_dir)?
        .unwrap_or_else(identity::new_cluster_id)
        .into();
    let table = Arc::new(TopicTable::load(&config.data_dir.join("topics.json"))?);
    // The replicated partitions' high watermarks as the last run left them (each core takes
    // its partitions' when it opens them).
    let checkpointed = Arc::new(crate::shard::hw_checkpoint::load(&config.data_dir));
    // Configs changed at run time (AlterConfigs) apply over the file and flags, as on Kafka.
    let dynamic = crate::cluster::dynamic_config::DynamicConfigs::load(&config.data_dir)?;
    let config = if dynamic == Default::default() {
        config
    } else {
        tracing::info!(broker = ?dynamic.broker, cluster_default = ?dynamic.cluster_default,
            groups = dynamic.groups.len(), "applying dynamic configs");
        config.with_dynamic(Arc::new(dynamic))
    };
    let memlock = memlock_limit();
    let cores = config.cores.len();
    let io_memory = io_memory_for(memlock, cores);

    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while stopping exits at once; the first asks for a clean stop.
        signal_hook::flag::register_conditional_shutdown(sig, 1, shutdown.clone())?;
        signal_hook::flag::register(sig, shutdown.clone())?;
    }
    start_shutdown_watchdog(shutdown.clone(), config.shutdown_timeout)?;
    let registry = Registry::new(cores, shutdown.clone());
    registry.set_stall_timeout(config.health_stall_timeout);
    let metrics_at = start_metrics(&config, &registry)?;
    let membership = Membership::new(membership::quorum::connect(&config)?);

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
        listeners = %config
            .listeners
            .all
            .iter()
            .map(|l| format!("{}://{} ({}, advertised {}:{})", l.name, l.bind, l.protocol.name(), l.advertised.0, l.advertised.1))
            .collect::<Vec<_>>()
            .join(", "),
        metrics = %metrics_at,
        controller = %membership
            .controller
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "none (process.roles = broker)".into()),
        voters = %voters_line(&config),
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
        let hws = checkpointed.clone();
        let mesh = mesh.clone();
        let stop = shutdown.clone();
        let reg = registry.clone();
        let member = membership.clone();
        let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("runnel-core-{i}"))
            .io_memory(io_memory);
        if cfg.spin_before_park_us > 0 {
            builder = builder.spin_before_park(Duration::from_micros(cfg.spin_before_park_us));
        }
        let h = builder
            .spawn(move || async move {
                let res = core_main(
                    i,
                    cfg,
                    cid,
                    (tbl, hws),
                    mesh,
                    stop.clone(),
                    loaded,
                    reg.clone(),
                    member,
                )
                .await;
                if let Err(e) = &res {
                    // One core gone means its partitions are gone: stop the whole broker.
                    tracing::error!(core = i, error = %e, "core failed; stopping the broker");
                    reg.core_failed();
                    stop.store(true, Ordering::SeqCst);
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
    let fatal = membership.fatal();
    stop_controller(membership);
    if let Some(why) = fatal {
        bail!("{why}");
    }
    if failed {
        bail!("broker stopped with errors");
    }
    // Every core wrote its part of the high-watermark checkpoint: parts of a larger core count
    // of an earlier run go.
    crate::shard::hw_checkpoint::remove_stale(&config.data_dir, cores);
    tracing::info!("runnel stopped cleanly");
    Ok(())
}

/// `controller.quorum.voters` for the startup log.
fn voters_line(config: &Config) -> String {
    if config.quorum.voters.is_empty() {
        return "this node alone".into();
    }
    let v: Vec<String> = config
        .quorum
        .voters
        .iter()
        .map(|(id, a)| format!("{id}@{a}"))
        .collect();
    v.join(",")
}

/// Shuts the controller down and waits for its thread, once nothing else holds it.
fn stop_controller(membership: Arc<Membership>) {
    match Arc::try_unwrap(membership)
        .ok()
        .and_then(|m| Arc::try_unwrap(m.controller).ok())
    {
        Some(controller) => {
            futures_lite::future::block_on(controller.shutdown());
            tracing::info!("controller stopped");
        }
        // Still referenced somewhere: dropping the last reference stops it without waiting.
        None => tracing::info!("controller stopping"),
    }
}

/// Runs a controller-only node (`process.roles = "controller"`): a voter of the quorum with no
/// Kafka listener, until SIGTERM or SIGINT.
fn run_controller_only(config: &Config) -> Result<()> {
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, shutdown.clone())?;
        signal_hook::flag::register(sig, shutdown.clone())?;
    }
    start_shutdown_watchdog(shutdown.clone(), config.shutdown_timeout)?;
    let controller = membership::quorum::start(config)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        node_id = config.node_id,
        controller = %controller.local_addr(),
        voters = %voters_line(config),
        data_dir = %config.data_dir.display(),
        "starting runnel as a controller only (no Kafka listener)"
    );
    while !shutdown.load(Ordering::Relaxed) {
        std::thread::sleep(STOP_CHECK);
    }
    futures_lite::future::block_on(controller.shutdown());
    tracing::info!("controller stopped cleanly");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn core_main(
    id: usize,
    config: Arc<Config>,
    cluster_id: Arc<str>,
    (table, checkpointed): (
        Arc<TopicTable>,
        Arc<crate::shard::hw_checkpoint::Checkpointed>,
    ),
    mesh: MeshBuilder<MeshMessage, glommio::channels::channel_mesh::Full>,
    stop: Arc<AtomicBool>,
    loaded: Arc<AtomicUsize>,
    registry: Arc<Registry>,
    membership: Arc<Membership>,
) -> Result<()> {
    if let Some(m) = registry.core(id) {
        crate::metrics::hooks::install(m, config.slow_request_warn);
    }
    let (senders, receivers) = mesh
        .join()
        .await
        .map_err(|_| anyhow::anyhow!("joining the channel mesh"))?;
    // The coordinators are registered before any partition opens: they load their internal
    // topics' partitions as those open.
    // Answers from other brokers are walked with their layouts before they are decoded.
    let core = Core::new(
        id,
        config.clone(),
        cluster_id,
        table.clone(),
        senders,
        crate::kafka::validate::check_peer_response,
    );
    core.mesh.start_receivers(receivers);
    core.cluster.follow(membership.updates());
    core.producer_ids.set_quorum(
        membership.controller.clone(),
        config.node_id,
        membership.incarnation,
    );
    // Core 0 changes topics through the quorum, and its table follows the controller's image.
    let follower = (id == 0).then(|| {
        let quorum = Rc::new(crate::shard::quorum::Quorum::new(
            membership.controller.clone(),
            config.node_id,
            membership.incarnation,
        ));
        core.admin.set_quorum(quorum.clone());
        crate::shard::image_sync::follow(core.admin.clone(), quorum, stop.clone())
    });
    if let Err(e) = crate::storage::direct_io::prime_iopoll_probe(&config.data_dir, id).await {
        tracing::warn!(error = %e, "cannot probe polled I/O support");
    }
    core.store.set_checkpointed((*checkpointed).clone());
    drop(checkpointed);
    partitions::apply(&core.store, table).await;
    core.start_tasks(&registry);
    // Core 0 registers with the quorum, heartbeats, and publishes the cluster's state.
    let agent = if id == 0 {
        membership::agent::start(&membership, &config, &registry, &stop)
    } else {
        Vec::new()
    };
    // Core 0 keeps the membership for the controlled shutdown; the others let go of it.
    let incarnation = membership.incarnation;
    let stopping = (id == 0).then_some(membership);
    // No core listens before every core has opened its partitions: a client connecting early
    // is refused (and retries) rather than told that partitions still loading do not exist.
    loaded.fetch_add(1, Ordering::SeqCst);
    while loaded.load(Ordering::SeqCst) < core.mesh.cores() && !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
    // Nor before the quorum has unfenced this run of the broker (as Kafka waits for its first
    // unfence): until then its partitions have no leader, and clients would cache that.
    membership::unfence::await_unfenced(&core, &config, incarnation, &stop).await;
    // Every client listener on every core (SO_REUSEPORT spreads connections over the cores).
    let mut bound = Vec::with_capacity(config.listeners.all.len());
    for l in &config.listeners.all {
        let socket = TcpListener::bind(l.bind)
            .map_err(|e| anyhow::anyhow!("binding listener {} {}: {e}", l.name, l.bind))?;
        bound.push((socket, Rc::new(l.clone())));
    }
    registry.core_listening();
    tracing::info!(core = id, listen = %config.listen, listeners = config.listeners.all.len(), "core ready");
    // The accept loops run as their own tasks and are cancelled when the stop flag is seen:
    // nothing re-polls a pending accept on a timer (each such poll would leave a waker
    // reference behind). Request bytes being read or processed on this core
    // (`queued.max.request.bytes`) are bounded across all listeners.
    let budget = ReadBudget::new(config.limits.queued_max_request_bytes);
    let acceptors: Vec<_> = bound
        .into_iter()
        .map(|(socket, l)| {
            glommio::spawn_local(accept_loop(socket, core.clone(), budget.clone(), l))
        })
        .collect();
    wait_for_stop(&stop).await;
    for acceptor in acceptors {
        acceptor.cancel().await;
    }
    for task in agent {
        task.cancel().await;
    }
    // Heartbeats have stopped: the quorum fences this broker now (a bounded wait), so that the
    // others move its partitions off without waiting for its session to expire.
    if let Some(membership) = stopping {
        let wait = membership::shutdown::WAIT.min(config.shutdown_timeout / 2);
        membership::shutdown::run(&membership, config.node_id, wait).await;
    }
    // The controller is shut down (and waited for) once no core holds it.
    let fatal = match follower {
        Some(f) => f.cancel().await.flatten(),
        None => None,
    };
    core.admin.clear_quorum();
    core.producer_ids.clear_quorum();
    tracing::info!(core = id, "stopping: syncing logs");
    core.store.close_all().await;
    match fatal {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// Accepts connections until the task is cancelled; each connection is served by its own task.
async fn accept_loop(
    listener: TcpListener,
    core: Rc<Core>,
    budget: Rc<ReadBudget>,
    named: Rc<Listener>,
) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let serve = connection::serve(core.clone(), budget.clone(), stream, named.clone());
                glommio::spawn_local(serve).detach();
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!(core = core.mesh.id(), error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Returns once the broker's stop flag is set, checking it on a fresh timer every 100 ms.
async fn wait_for_stop(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        periodic::tick(Loop::StopWatch, STOP_CHECK).await;
    }
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
