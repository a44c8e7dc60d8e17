//! The broker's handle on a controller: [`Controller::start`] runs openraft, the listener and the
//! lifecycle tick on a thread of their own with a current-thread tokio runtime; the handle talks
//! to that thread through tokio's `mpsc`, `oneshot` and `watch` channels, which need no tokio
//! runtime on the caller's side, so its futures can be awaited from glommio executors.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, RaftMetrics, SnapshotPolicy};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::ControllerConfig;
use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::lifecycle::Lifecycle;
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::node::{Routed, Shared};
use crate::records::{BrokerId, RecordBatch};
use crate::routing::spawn_route;
use crate::state_machine::StateMachine;
use crate::types::Raft;

enum Command {
    Route(Routed, oneshot::Sender<Result<u64, ControllerError>>),
    WaitLeader(Duration, oneshot::Sender<Option<u64>>),
    Shutdown,
}

/// A running controller. Dropping it shuts it down without waiting; [`Controller::shutdown`]
/// waits until its thread is gone and its port and directory are free.
pub struct Controller {
    node_id: u64,
    local_addr: SocketAddr,
    commands: mpsc::UnboundedSender<Command>,
    image: watch::Receiver<Arc<MetadataImage>>,
    metrics: watch::Receiver<RaftMetrics<u64, BasicNode>>,
    done: Option<oneshot::Receiver<()>>,
}

struct Started {
    local_addr: SocketAddr,
    image: watch::Receiver<Arc<MetadataImage>>,
    metrics: watch::Receiver<RaftMetrics<u64, BasicNode>>,
}

fn storage(e: impl std::fmt::Display) -> ControllerError {
    ControllerError::Storage(e.to_string())
}

/// Locks `dir/lock` so that two controllers never share a directory.
fn lock_dir(config: &ControllerConfig) -> Result<File, ControllerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(storage)?;
    let path = config.data_dir.join("controller.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(storage)?;
    // SAFETY: flock on a file descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(ControllerError::Config(format!(
            "{} is in use by another controller",
            config.data_dir.display()
        )));
    }
    Ok(file)
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

impl Controller {
    /// Starts a controller: opens (or creates) its log and snapshot, binds its listener, starts
    /// openraft and, on a node that has never been initialized, initializes the quorum with the
    /// configured voters (safe to do on every voter with the same list). Returns once all that is
    /// done; electing a leader goes on in the background ([`Controller::wait_for_leader`]).
    pub fn start(config: ControllerConfig) -> Result<Controller, ControllerError> {
        config.validate()?;
        let lock = lock_dir(&config)?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (init_tx, init_rx) = std::sync::mpsc::channel();
        let (done_tx, done) = oneshot::channel();
        let node_id = config.node_id;
        thread::Builder::new()
            .name(format!("controller-{node_id}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = init_tx.send(Err(storage(e)));
                        return;
                    }
                };
                let result = rt.block_on(run(config, rx, &init_tx));
                drop(rt);
                drop(lock);
                // A failed start is reported once the port and directory are free again.
                if let Err(e) = result {
                    let _ = init_tx.send(Err(e));
                }
                let _ = done_tx.send(());
            })
            .map_err(storage)?;
        let started = init_rx.recv().map_err(|_| ControllerError::Shutdown)??;
        Ok(Controller {
            node_id,
            local_addr: started.local_addr,
            commands,
            image: started.image,
            metrics: started.metrics,
            done: Some(done),
        })
    }

    /// This controller's id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The address the controller listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The newest metadata image this node has applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// A receiver of every new image (`changed().await` wakes on each).
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.clone()
    }

    /// The quorum's leader as this node knows it (the active controller).
    pub fn leader(&self) -> Option<u64> {
        self.metrics.borrow().current_leader
    }

    /// openraft's metrics of this node (term, log indexes, snapshot, membership).
    pub fn metrics(&self) -> RaftMetrics<u64, BasicNode> {
        self.metrics.borrow().clone()
    }

    fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok()
    }

    /// Proposes a batch: on the leader directly, forwarded to it from any other node. Resolves to
    /// the log index the batch committed at, once this node's image has it (or the request
    /// timeout passed), or why it was not applied. Usable from any executor.
    pub fn propose(
        &self,
        batch: RecordBatch,
    ) -> impl Future<Output = Result<u64, ControllerError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Command::Route(Routed::Propose(batch), tx));
        async move {
            if !sent {
                return Err(ControllerError::Shutdown);
            }
            rx.await.unwrap_or(Err(ControllerError::Shutdown))
        }
    }

    /// A broker's heartbeat, sent to the active controller: keeps the broker's session, and
    /// unfences it when it was fenced.
    pub fn heartbeat(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Command::Route(Routed::Heartbeat(broker, epoch), tx));
        async move {
            if !sent {
                return Err(ControllerError::Shutdown);
            }
            rx.await
                .unwrap_or(Err(ControllerError::Shutdown))
                .map(|_| ())
        }
    }

    /// Takes a block of `count` producer ids for `broker` (at `epoch`) on the active controller
    /// (a `ProducerIdsRecord`): resolves to the block's first id. Blocks never overlap.
    pub fn allocate_producer_ids(
        &self,
        broker: BrokerId,
        epoch: u64,
        count: u32,
    ) -> impl Future<Output = Result<i64, ControllerError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Command::Route(
            Routed::ProducerIds(broker, epoch, count),
            tx,
        ));
        async move {
            if !sent {
                return Err(ControllerError::Shutdown);
            }
            rx.await
                .unwrap_or(Err(ControllerError::Shutdown))
                .map(|first| first as i64)
        }
    }

    /// A controlled shutdown of `broker` (at `epoch`), sent to the active controller: the broker
    /// is fenced at once, its partitions moved to another ISR member or left without a leader
    /// (a new leader epoch), as when its session expires. Resolves once the fence is committed
    /// (or the broker was fenced already), or with why not after the request timeout: the
    /// caller bounds its own wait.
    pub fn controlled_shutdown(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Command::Route(
            Routed::ControlledShutdown(broker, epoch),
            tx,
        ));
        async move {
            if !sent {
                return Err(ControllerError::Shutdown);
            }
            rx.await
                .unwrap_or(Err(ControllerError::Shutdown))
                .map(|_| ())
        }
    }

    /// Waits until a leader is known, at most `timeout`: the leader, or `None`.
    pub fn wait_for_leader(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<u64>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Command::WaitLeader(timeout, tx));
        async move {
            if !sent {
                return None;
            }
            rx.await.ok().flatten()
        }
    }

    /// Stops the controller: openraft shuts down, the listener closes; resolves when the thread
    /// has ended (its port and directory are free then).
    pub fn shutdown(mut self) -> impl Future<Output = ()> + Send + 'static {
        let done = self.done.take();
        self.send(Command::Shutdown);
        async move {
            if let Some(done) = done {
                let _ = done.await;
            }
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
    }
}

fn raft_config(config: &ControllerConfig) -> Result<Config, ControllerError> {
    let ms = |d: Duration| d.as_millis() as u64;
    Config {
        cluster_name: "runnel-controllers".into(),
        heartbeat_interval: ms(config.heartbeat_interval),
        election_timeout_min: ms(config.election_timeout.0),
        election_timeout_max: ms(config.election_timeout.1),
        install_snapshot_timeout: 2000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
        max_in_snapshot_log_to_keep: config.keep_after_snapshot,
        snapshot_max_chunk_size: 1 << 20,
        ..Default::default()
    }
    .validate()
    .map_err(|e| ControllerError::Config(e.to_string()))
}

/// Opens storage, binds, starts openraft; reports on `init`; then serves until shut down.
async fn run(
    config: ControllerConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    init: &std::sync::mpsc::Sender<Result<Started, ControllerError>>,
) -> Result<(), ControllerError> {
    let setup = async {
        let dir = config.data_dir.join("raft");
        let log = LogStore::open(&dir).map_err(storage)?;
        let (publish, image) = watch::channel(Arc::new(MetadataImage::default()));
        let sm = StateMachine::open(&dir, publish).map_err(storage)?;
        let listener = bind(config.listen).map_err(|e| {
            ControllerError::Config(format!("cannot listen on {}: {e}", config.listen))
        })?;
        let local_addr = listener.local_addr().map_err(storage)?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config(&config)?),
            NetworkFactory(config.transport.clone()),
            log,
            sm,
        )
        .await
        .map_err(|e| ControllerError::Raft(e.to_string()))?;
        let members: BTreeMap<u64, BasicNode> = config
            .voters
            .iter()
            .map(|(id, addr)| {
                (
                    *id,
                    BasicNode {
                        addr: addr.to_string(),
                    },
                )
            })
            .collect();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ControllerError::Raft(e.to_string()))?;
        if !initialized {
            match raft.initialize(members).await {
                Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(ControllerError::Raft(e.to_string())),
            }
        } else {
            // The quorum's membership lives in the log: a changed voters list would be ignored
            // by Raft, so it is an error (membership changes are not supported).
            let stored: BTreeMap<u64, BasicNode> = raft
                .with_raft_state(|st| {
                    let m = st.membership_state.effective().membership();
                    m.nodes().map(|(id, n)| (*id, n.clone())).collect()
                })
                .await
                .map_err(|e| ControllerError::Raft(e.to_string()))?;
            // A one-member quorum talks to no peer, so its own address may move (the broker
            // gives a single node's quorum a free port at each start); its id may not.
            let alone = stored.len() == 1 && members.len() == 1 && stored.keys().eq(members.keys());
            if !stored.is_empty() && stored != members && !alone {
                let _ = raft.shutdown().await;
                return Err(ControllerError::Config(format!(
                    "voters {members:?} differ from the quorum's membership {stored:?} in {}",
                    config.data_dir.display()
                )));
            }
        }
        let shared = Arc::new(Shared {
            node_id: config.node_id,
            raft,
            image,
            lifecycle: Mutex::new(
                Lifecycle::new(config.session_timeout)
                    .with_unclean_default(config.unclean_leader_election),
            ),
            leader_rebalance: config.leader_rebalance,
            unclean_default: config.unclean_leader_election,
            voters: config.voters.iter().copied().collect(),
            request_timeout: config.request_timeout,
            allocating: tokio::sync::Mutex::new(()),
            transport: config.transport.clone(),
        });
        Ok((shared, listener, local_addr))
    };
    let (shared, listener, local_addr) = setup.await?;
    let started = Started {
        local_addr,
        image: shared.image.clone(),
        metrics: shared.raft.metrics(),
    };
    if init.send(Ok(started)).is_err() {
        let _ = shared.raft.shutdown().await;
        return Ok(());
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(crate::server::serve(
        listener,
        shared.clone(),
        config.transport.clone(),
        stop_rx,
    ));
    let ticker = tokio::spawn(shared.clone().tick_loop());
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Route(call, reply) => spawn_route(shared.clone(), call, reply),
            Command::WaitLeader(timeout, reply) => {
                let mut metrics = shared.raft.metrics();
                tokio::spawn(async move {
                    let found = tokio::time::timeout(
                        timeout,
                        metrics.wait_for(|m| m.current_leader.is_some()),
                    )
                    .await;
                    let leader = match found {
                        Ok(Ok(m)) => m.current_leader,
                        _ => None,
                    };
                    let _ = reply.send(leader);
                });
            }
            Command::Shutdown => break,
        }
    }
    let _ = stop_tx.send(true);
    ticker.abort();
    if let Err(e) = shared.raft.shutdown().await {
        tracing::warn!("controller {}: openraft shutdown: {e}", config.node_id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_handle_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::Controller>();
    }
}
