//! [`RemoteQuorum`]: the client of a remote quorum that a broker without a controller
//! (`process.roles = "broker"`) holds instead of a [`crate::Controller`]. It runs on a thread of
//! its own with a current-thread tokio runtime, like a controller, and talks to the voters over
//! the controllers' protocol:
//!
//! - **the image**: one task long-polls a voter with [`Request::FetchImage`] (the applied index
//!   it has, a bounded wait); the voter answers at once with a newer image, or after the wait
//!   with none, and always with the active controller it knows. The task follows that leader
//!   (it has the newest image), moves to the next voter when the one it asks knows no leader
//!   or fails, and never installs an image older than the one it has.
//! - **calls to the leader** (proposals, heartbeats, producer ids, controlled shutdown): sent
//!   to the known leader, or tried on each voter in turn; a voter that does not lead answers
//!   `NotLeader` (with the leader's id when it knows it), and the call goes there. Every call
//!   ends by the request timeout: `NoLeader` when no voter took it.
//!
//! Every connect, write and read has a deadline, so a vanished voter costs a timeout and a
//! lying one (garbage, an answer of the wrong kind) a closed connection, never a hang or a
//! panic.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::network::Connection;
use crate::node::{answer_of, Routed};
use crate::records::{BrokerId, RecordBatch};
use crate::routing::{spawn_route, Routes};
use crate::wire::{Request, Response, MAX_FETCH_WAIT};

/// How long a voter may hold a fetch.
const FETCH_WAIT: Duration = Duration::from_secs(2);
/// The fetch's answer must come within its wait plus this.
const FETCH_SLACK: Duration = Duration::from_secs(3);
/// First pause after a failed fetch; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between fetches from failing voters.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Pause between tries of a call to the leader.
const RETRY: Duration = Duration::from_millis(50);

/// How to reach a remote quorum.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// This broker's id (for the thread's name and logs).
    pub node_id: u64,
    /// The voters (`controller.quorum.voters`).
    pub voters: Vec<(u64, SocketAddr)>,
    /// How long a call to the leader tries, and how long `propose` waits for the image to have
    /// its batch.
    pub request_timeout: Duration,
    /// How connections to the voters are carried (the controller listener's protocol).
    pub transport: crate::transport::Transport,
}

enum Command {
    Route(Routed, oneshot::Sender<Result<u64, ControllerError>>),
    WaitLeader(Duration, oneshot::Sender<Option<u64>>),
    Shutdown,
}

/// A client of a remote quorum (see the module comment). Dropping it stops its thread without
/// waiting; [`RemoteQuorum::shutdown`] waits.
pub struct RemoteQuorum {
    commands: mpsc::UnboundedSender<Command>,
    image: watch::Receiver<Arc<MetadataImage>>,
    leader: watch::Receiver<Option<u64>>,
    done: Option<oneshot::Receiver<()>>,
}

impl RemoteQuorum {
    /// Starts the client's thread; returns at once (the first image arrives in the background).
    pub fn start(config: RemoteConfig) -> Result<RemoteQuorum, ControllerError> {
        if config.voters.is_empty() {
            return Err(ControllerError::Config(
                "controller.quorum.voters is empty: a broker without a controller needs the \
                 remote quorum's voters"
                    .into(),
            ));
        }
        let (commands, rx) = mpsc::unbounded_channel();
        let (publish, image) = watch::channel(Arc::new(MetadataImage::default()));
        let (leader_tx, leader) = watch::channel(None);
        let (done_tx, done) = oneshot::channel();
        let (init_tx, init_rx) = std::sync::mpsc::channel();
        thread::Builder::new()
            .name(format!("quorum-client-{}", config.node_id))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = init_tx.send(Err(ControllerError::Storage(e.to_string())));
                        return;
                    }
                };
                let _ = init_tx.send(Ok(()));
                rt.block_on(run(config, rx, publish, leader_tx));
                drop(rt);
                let _ = done_tx.send(());
            })
            .map_err(|e| ControllerError::Storage(e.to_string()))?;
        init_rx.recv().map_err(|_| ControllerError::Shutdown)??;
        Ok(RemoteQuorum {
            commands,
            image,
            leader,
            done: Some(done),
        })
    }

    /// The newest image fetched.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// A receiver of every new image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.clone()
    }

    /// The active controller, as the voters last said.
    pub fn leader(&self) -> Option<u64> {
        *self.leader.borrow()
    }

    /// Waits until a leader is known, at most `timeout` (on the client's thread: the future
    /// needs no tokio runtime where it is awaited).
    pub fn wait_for_leader(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Option<u64>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.commands.send(Command::WaitLeader(timeout, tx)).is_ok();
        async move {
            if !sent {
                return None;
            }
            rx.await.ok().flatten()
        }
    }

    /// Runs `call` on the leader; the future resolves to its result.
    fn route(
        &self,
        call: Routed,
    ) -> impl Future<Output = Result<u64, ControllerError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.commands.send(Command::Route(call, tx)).is_ok();
        async move {
            if !sent {
                return Err(ControllerError::Shutdown);
            }
            rx.await.unwrap_or(Err(ControllerError::Shutdown))
        }
    }

    /// Proposes `batch` to the leader: the log index it committed at, once the fetched image
    /// has it (or the request timeout passed).
    pub fn propose(
        &self,
        batch: RecordBatch,
    ) -> impl Future<Output = Result<u64, ControllerError>> + Send + 'static {
        self.route(Routed::Propose(batch))
    }

    /// A heartbeat of `broker` at `epoch`, to the leader (the first one unfences it).
    pub fn heartbeat(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
        let f = self.route(Routed::Heartbeat(broker, epoch));
        async move { f.await.map(|_| ()) }
    }

    /// A block of `count` producer ids for `broker` at `epoch`, from the leader: its first id.
    pub fn allocate_producer_ids(
        &self,
        broker: BrokerId,
        epoch: u64,
        count: u32,
    ) -> impl Future<Output = Result<i64, ControllerError>> + Send + 'static {
        let f = self.route(Routed::ProducerIds(broker, epoch, count));
        async move { f.await.map(|first| first as i64) }
    }

    /// A controlled shutdown of `broker` at `epoch`: the leader fences it at once.
    pub fn controlled_shutdown(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
        let f = self.route(Routed::ControlledShutdown(broker, epoch));
        async move { f.await.map(|_| ()) }
    }

    /// Stops the client; resolves once its thread has ended.
    pub fn shutdown(mut self) -> impl Future<Output = ()> + Send + 'static {
        let done = self.done.take();
        let _ = self.commands.send(Command::Shutdown);
        async move {
            if let Some(done) = done {
                let _ = done.await;
            }
        }
    }
}

impl Drop for RemoteQuorum {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// What the client's tasks share.
struct Client {
    config: RemoteConfig,
    image: watch::Receiver<Arc<MetadataImage>>,
    leader: watch::Receiver<Option<u64>>,
}

async fn run(
    config: RemoteConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<MetadataImage>>,
    leader_tx: watch::Sender<Option<u64>>,
) {
    let client = Arc::new(Client {
        config,
        image: publish.subscribe(),
        leader: leader_tx.subscribe(),
    });
    let fetcher = tokio::spawn(fetch_loop(client.clone(), publish, leader_tx));
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Route(call, reply) => spawn_route(client.clone(), call, reply),
            Command::WaitLeader(timeout, reply) => {
                let mut leader = client.leader.clone();
                tokio::spawn(async move {
                    let found = tokio::time::timeout(timeout, leader.wait_for(|l| l.is_some()))
                        .await
                        .ok()
                        .and_then(|r| r.ok().and_then(|l| *l));
                    let _ = reply.send(found);
                });
            }
            Command::Shutdown => break,
        }
    }
    fetcher.abort();
}

impl Routes for Client {
    fn route_call(
        &self,
        call: Routed,
    ) -> impl Future<Output = Result<u64, ControllerError>> + Send {
        self.route(call)
    }

    fn wait_image(&self, index: u64) -> impl Future<Output = ()> + Send {
        self.wait_applied(index)
    }
}

impl Client {
    fn voter_addr(&self, id: u64) -> Option<SocketAddr> {
        self.config
            .voters
            .iter()
            .find(|(v, _)| *v == id)
            .map(|(_, a)| *a)
    }

    /// One try of `call` on voter `id`.
    async fn try_on(
        &self,
        id: u64,
        call: &Routed,
        limit: Duration,
    ) -> Result<u64, ControllerError> {
        let addr = self
            .voter_addr(id)
            .ok_or(ControllerError::NotLeader(None))?;
        let mut conn = Connection::open(addr, &self.config.transport)
            .await
            .map_err(|_| ControllerError::NotLeader(None))?;
        // A proposal whose answer is lost may have been applied; any other call is safe to
        // send again, and so is anything sent to a voter that answers garbage (no voter).
        let retry = |e: &std::io::Error| {
            !matches!(call, Routed::Propose(_)) || e.kind() == std::io::ErrorKind::InvalidData
        };
        match conn.call(&call.clone().into_request(), limit).await {
            Ok(resp) => match answer_of(resp) {
                Err(ControllerError::OutcomeUnknown(_)) if !matches!(call, Routed::Propose(_)) => {
                    Err(ControllerError::NotLeader(None))
                }
                other => other,
            },
            Err(e) if retry(&e) => Err(ControllerError::NotLeader(None)),
            Err(e) => Err(ControllerError::OutcomeUnknown(e.to_string())),
        }
    }

    /// Runs `call` on the leader: the known one first, then each voter in turn, following
    /// the leader hints of those that do not lead, until the request timeout.
    async fn route(&self, call: Routed) -> Result<u64, ControllerError> {
        let deadline = Instant::now() + self.config.request_timeout;
        let voters: Vec<u64> = self.config.voters.iter().map(|(id, _)| *id).collect();
        let mut next = voters.len() - 1;
        let mut hint = *self.leader.borrow();
        loop {
            let target = match hint.take() {
                Some(l) if self.voter_addr(l).is_some() => l,
                _ => {
                    next = (next + 1) % voters.len();
                    voters[next]
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let result = match tokio::time::timeout(left, self.try_on(target, &call, left)).await {
                Ok(r) => r,
                Err(_) => Err(ControllerError::OutcomeUnknown("request timed out".into())),
            };
            match result {
                Err(ControllerError::NotLeader(h)) if Instant::now() < deadline => {
                    hint = h.filter(|l| *l != target);
                    if hint.is_none() {
                        tokio::time::sleep(RETRY).await;
                    }
                }
                Err(ControllerError::NotLeader(_)) => return Err(ControllerError::NoLeader),
                other => return other,
            }
        }
    }

    /// Waits (until the request timeout) for the fetched image to reach `index`.
    async fn wait_applied(&self, index: u64) {
        let mut rx = self.image.clone();
        let _ = tokio::time::timeout(
            self.config.request_timeout,
            rx.wait_for(|i| i.applied_index() >= index),
        )
        .await;
    }
}

/// Long-polls the voters for newer images until aborted (see the module comment).
async fn fetch_loop(
    client: Arc<Client>,
    publish: watch::Sender<Arc<MetadataImage>>,
    leader_tx: watch::Sender<Option<u64>>,
) {
    let voters = client.config.voters.clone();
    let mut at = 0usize;
    let mut conn: Option<Connection> = None;
    let mut backoff = MIN_BACKOFF;
    let wait = FETCH_WAIT.min(MAX_FETCH_WAIT);
    loop {
        let (id, addr) = voters[at % voters.len()];
        if conn.is_none() {
            match Connection::open(addr, &client.config.transport).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if backoff == MIN_BACKOFF {
                        tracing::warn!("quorum client: cannot reach voter {id} at {addr}: {e}");
                    }
                    at += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let have = publish.borrow().applied_index();
        let req = Request::FetchImage {
            have,
            wait_ms: wait.as_millis() as u32,
        };
        let reply = match c.call(&req, wait + FETCH_SLACK).await {
            Ok(Response::FetchImage(r)) => r,
            other => {
                // The first failure of a streak is worth a line (a voter that answers garbage,
                // or an image beyond the frame limit); the retries that follow are not.
                if backoff == MIN_BACKOFF {
                    let why = match other {
                        Err(e) => e.to_string(),
                        Ok(_) => "an answer of another kind".into(),
                    };
                    tracing::warn!("quorum client: fetching the image from voter {id} failed: {why}; trying the next voter");
                }
                conn = None;
                at += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        leader_tx.send_if_modified(|l| {
            let changed = *l != reply.leader;
            *l = reply.leader;
            changed
        });
        if let Some(image) = reply.image {
            // Never go back: a lagging voter's image is older than one already had.
            if image.applied_index() > publish.borrow().applied_index() {
                publish.send_replace(image);
            }
        }
        // Fetch from the leader (it has the newest image); a voter that knows none may be cut
        // off from the majority, so try the next one.
        match reply.leader {
            Some(l) if l == id => {}
            Some(l) => {
                if let Some(pos) = voters.iter().position(|(v, _)| *v == l) {
                    at = pos;
                    conn = None;
                }
            }
            None => {
                at += 1;
                conn = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
