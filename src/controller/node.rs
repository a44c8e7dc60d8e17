//! What runs on a controller's own runtime besides openraft: proposals and heartbeats (done
//! here when this node leads, forwarded to the leader otherwise), and the lifecycle tick that
//! fences brokers whose session expired and, on the leader, runs the automatic
//! preferred-leader rebalance and the unclean elections a topic allows (`crate::elect`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use tokio::sync::watch;

use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::image::RejectReason;
use crate::lifecycle::Lifecycle;
use crate::log_store::MAX_ENTRY;
use crate::network::Connection;
use crate::records::{
    BrokerId, ElectLeaderRecord, MetadataRecord, ProducerIdsRecord, RecordBatch,
    RegisterBrokerRecord,
};
use crate::types::Raft;
use crate::wire::{Request, Response};

/// How often the lifecycle tick runs.
const TICK: Duration = Duration::from_millis(200);
/// Pause between tries to find or reach the leader.
const RETRY: Duration = Duration::from_millis(50);
/// Most elections one turn of the rebalance (or of the unclean elections) proposes; more wait
/// for the next tick (Kafka's `maxElectionsPerImbalance` bounds its turns the same way).
pub const MAX_ELECTIONS_PER_TURN: usize = 1000;
/// How often the leader looks for leaderless partitions whose topic allows unclean elections.
const UNCLEAN_CHECK: Duration = Duration::from_secs(1);

/// State shared by a controller's tasks.
pub struct Shared {
    /// This controller's id.
    pub node_id: u64,
    /// The openraft instance.
    pub raft: Raft,
    /// The newest applied image.
    pub image: watch::Receiver<Arc<MetadataImage>>,
    /// Broker heartbeats (used while this node leads).
    pub lifecycle: Mutex<Lifecycle>,
    /// The voters' addresses.
    pub voters: BTreeMap<u64, SocketAddr>,
    /// How long a routed call tries.
    pub request_timeout: Duration,
    /// Serializes producer-id allocations on the leader (blocks never overlap).
    pub allocating: tokio::sync::Mutex<()>,
    /// How connections to the other voters are carried.
    pub transport: crate::transport::Transport,
    /// The automatic preferred-leader rebalance (`None`: off).
    pub leader_rebalance: Option<crate::config::LeaderRebalance>,
    /// The broker default of `unclean.leader.election.enable`.
    pub unclean_default: bool,
}

/// A call that goes to the leader.
#[derive(Clone)]
pub enum Routed {
    /// Propose a batch.
    Propose(RecordBatch),
    /// A broker heartbeat.
    Heartbeat(BrokerId, u64),
    /// A block of producer ids for a broker: broker, epoch, how many.
    ProducerIds(BrokerId, u64, u32),
    /// A broker's controlled shutdown: broker, epoch.
    ControlledShutdown(BrokerId, u64),
}

impl Routed {
    /// The request that carries this call to another controller.
    pub fn into_request(self) -> Request {
        match self {
            Routed::Propose(batch) => Request::Propose(batch),
            Routed::Heartbeat(broker_id, broker_epoch) => Request::Heartbeat {
                broker_id,
                broker_epoch,
            },
            Routed::ProducerIds(broker_id, broker_epoch, count) => Request::AllocateProducerIds {
                broker_id,
                broker_epoch,
                count,
            },
            Routed::ControlledShutdown(broker_id, broker_epoch) => Request::ControlledShutdown {
                broker_id,
                broker_epoch,
            },
        }
    }
}

/// The result carried by the answer to a routed call (an index, a first producer id, or 0).
pub fn answer_of(resp: Response) -> Result<u64, ControllerError> {
    match resp {
        Response::Propose(r) => r,
        Response::Heartbeat(r) => r.map(|()| 0),
        Response::AllocateProducerIds(r) => r,
        Response::ControlledShutdown(r) => r.map(|()| 0),
        _ => Err(ControllerError::OutcomeUnknown(
            "answer of another kind".into(),
        )),
    }
}

/// Most producer ids handed out in one block.
pub const MAX_PRODUCER_ID_BLOCK: u32 = 1 << 20;

fn not_leader<E>(e: &RaftError<u64, E>) -> Option<Option<u64>>
where
    E: std::error::Error + ForwardHint,
{
    match e {
        RaftError::APIError(api) => api.forward_hint(),
        RaftError::Fatal(_) => None,
    }
}

/// openraft errors that say "ask the leader" (with the leader's id when known).
pub trait ForwardHint {
    /// `Some(hint)` when the error means this node does not lead.
    fn forward_hint(&self) -> Option<Option<u64>>;
}

impl ForwardHint for ClientWriteError<u64, openraft::BasicNode> {
    fn forward_hint(&self) -> Option<Option<u64>> {
        match self {
            ClientWriteError::ForwardToLeader(f) => Some(f.leader_id),
            ClientWriteError::ChangeMembershipError(_) => None,
        }
    }
}

impl ForwardHint for CheckIsLeaderError<u64, openraft::BasicNode> {
    fn forward_hint(&self) -> Option<Option<u64>> {
        match self {
            CheckIsLeaderError::ForwardToLeader(f) => Some(f.leader_id),
            CheckIsLeaderError::QuorumNotEnough(_) => Some(None),
        }
    }
}

fn raft_error<E: std::error::Error + ForwardHint>(e: RaftError<u64, E>) -> ControllerError {
    match not_leader(&e) {
        Some(hint) => ControllerError::NotLeader(hint),
        None => ControllerError::Raft(e.to_string()),
    }
}

impl Shared {
    /// Proposes `batch` on this node, which must lead: checked against an image that has
    /// applied everything committed before, then written; the index it committed at.
    pub async fn propose_here(&self, batch: RecordBatch) -> Result<u64, ControllerError> {
        let size = postcard::to_stdvec(&batch)
            .map_err(|e| ControllerError::Raft(e.to_string()))?
            .len();
        if size > MAX_ENTRY - 4096 {
            return Err(ControllerError::TooLarge(size));
        }
        self.raft.ensure_linearizable().await.map_err(raft_error)?;
        if let [MetadataRecord::RegisterBroker(r)] = batch.records.as_slice() {
            self.replace_sessionless(r).await?;
        }
        self.write_checked(batch).await
    }

    /// Before a registration: fences the broker's old run when it has no session with this
    /// leader (see [`Lifecycle::replace_sessionless`]).
    async fn replace_sessionless(&self, r: &RegisterBrokerRecord) -> Result<(), ControllerError> {
        let fence = {
            let image = self.image.borrow().clone();
            let mut lc = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
            lc.set_leader(true, Instant::now());
            lc.replace_sessionless(&image, r)
        };
        if let Some(fence) = fence {
            tracing::info!(
                "controller {}: broker {} registers again without a session; fencing its \
                 previous run",
                self.node_id,
                r.broker_id
            );
            let index = self.write_checked(fence).await?;
            self.wait_applied(index).await;
        }
        Ok(())
    }

    /// Checks `batch` against the current image, then writes it; the index it committed at.
    async fn write_checked(&self, batch: RecordBatch) -> Result<u64, ControllerError> {
        let image = self.image.borrow().clone();
        image
            .apply(&batch, image.applied_index() + 1)
            .map_err(ControllerError::Rejected)?;
        let resp = self.raft.client_write(batch).await.map_err(raft_error)?;
        resp.data.result.map_err(ControllerError::Rejected)?;
        Ok(resp.log_id.index)
    }

    /// A heartbeat on this node, which must lead; unfences the broker when it is fenced.
    pub async fn heartbeat_here(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> Result<(), ControllerError> {
        if self.raft.current_leader().await != Some(self.node_id) {
            return Err(ControllerError::NotLeader(None));
        }
        let image = self.image.borrow().clone();
        let unfence = {
            let mut lc = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
            lc.set_leader(true, Instant::now());
            lc.heartbeat(&image, broker, epoch, Instant::now())
                .map_err(ControllerError::Rejected)?
        };
        if let Some(batch) = unfence {
            self.propose_here(batch).await?;
        }
        Ok(())
    }

    /// A controlled shutdown on this node, which must lead: fences the broker at once (its
    /// partitions move to another ISR member or have no leader). `Ok` once the fence is
    /// committed, or when the broker was fenced already.
    pub async fn shutdown_here(&self, broker: BrokerId, epoch: u64) -> Result<(), ControllerError> {
        if self.raft.current_leader().await != Some(self.node_id) {
            return Err(ControllerError::NotLeader(None));
        }
        self.raft.ensure_linearizable().await.map_err(raft_error)?;
        let image = self.image.borrow().clone();
        let fence = {
            let mut lc = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
            lc.set_leader(true, Instant::now());
            lc.shutdown(&image, broker, epoch)
                .map_err(ControllerError::Rejected)?
        };
        if let Some(batch) = fence {
            tracing::info!(
                "controller {}: broker {broker} shuts down; fencing it",
                self.node_id
            );
            self.propose_here(batch).await?;
        }
        Ok(())
    }

    /// Hands `broker` the next `count` producer ids on this node, which must lead: the first id
    /// of the block. One allocation at a time, on an image that has everything committed, so
    /// blocks never overlap.
    pub async fn producer_ids_here(
        &self,
        broker: BrokerId,
        epoch: u64,
        count: u32,
    ) -> Result<u64, ControllerError> {
        if count == 0 || count > MAX_PRODUCER_ID_BLOCK {
            return Err(ControllerError::Rejected(RejectReason::Invalid(format!(
                "a block of {count} producer ids"
            ))));
        }
        let _one_at_a_time = self.allocating.lock().await;
        self.raft.ensure_linearizable().await.map_err(raft_error)?;
        let first = self.image.borrow().next_producer_id();
        let record = MetadataRecord::ProducerIds(ProducerIdsRecord {
            broker_id: broker,
            broker_epoch: epoch,
            next_producer_id: first + i64::from(count),
        });
        self.propose_here(RecordBatch::one(record)).await?;
        Ok(first as u64)
    }

    /// Runs a forwarded call here, without forwarding it again: a node that no longer leads
    /// answers [`ControllerError::NotLeader`] and the sender tries again.
    pub async fn route_here_only(&self, call: Routed) -> Result<u64, ControllerError> {
        match tokio::time::timeout(self.request_timeout, self.here(call)).await {
            Ok(r) => r,
            Err(_) => Err(ControllerError::OutcomeUnknown("request timed out".into())),
        }
    }

    async fn here(&self, call: Routed) -> Result<u64, ControllerError> {
        match call {
            Routed::Propose(batch) => self.propose_here(batch).await,
            Routed::Heartbeat(b, e) => self.heartbeat_here(b, e).await.map(|()| 0),
            Routed::ProducerIds(b, e, n) => self.producer_ids_here(b, e, n).await,
            Routed::ControlledShutdown(b, e) => self.shutdown_here(b, e).await.map(|()| 0),
        }
    }

    /// Sends `call` to `leader`. A failure to connect is [`ControllerError::NotLeader`] (worth
    /// another try); a failure after sending is [`ControllerError::OutcomeUnknown`].
    async fn forward(&self, leader: u64, call: Routed) -> Result<u64, ControllerError> {
        let addr = *self
            .voters
            .get(&leader)
            .ok_or(ControllerError::NotLeader(None))?;
        let mut conn = Connection::open(addr, &self.transport)
            .await
            .map_err(|_| ControllerError::NotLeader(None))?;
        let req = call.into_request();
        let unknown = |e: std::io::Error| ControllerError::OutcomeUnknown(e.to_string());
        answer_of(
            conn.call(&req, self.request_timeout)
                .await
                .map_err(unknown)?,
        )
    }

    /// Runs `call` on the leader, wherever it is, retrying while there is none or it moves,
    /// until the request timeout.
    pub async fn route(&self, call: Routed) -> Result<u64, ControllerError> {
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let leader = self.raft.current_leader().await;
            let attempt = async {
                match leader {
                    Some(l) if l == self.node_id => self.here(call.clone()).await,
                    Some(l) => self.forward(l, call.clone()).await,
                    None => Err(ControllerError::NotLeader(None)),
                }
            };
            // A leader cut off from its quorum may wait on it: the deadline bounds every try.
            let left = deadline.saturating_duration_since(Instant::now());
            let result = match tokio::time::timeout(left, attempt).await {
                Ok(r) => r,
                Err(_) => Err(ControllerError::OutcomeUnknown("request timed out".into())),
            };
            match result {
                Err(ControllerError::NotLeader(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(RETRY).await
                }
                Err(ControllerError::NotLeader(_)) => return Err(ControllerError::NoLeader),
                other => return other,
            }
        }
    }

    /// Waits (until the request timeout) for this node's image to reach `index`.
    pub async fn wait_applied(&self, index: u64) {
        let mut rx = self.image.clone();
        let _ = tokio::time::timeout(
            self.request_timeout,
            rx.wait_for(|i| i.applied_index() >= index),
        )
        .await;
    }

    /// The lifecycle tick: on the leader, fence brokers whose session expired; every
    /// `leader.imbalance.check.interval.seconds`, elect preferred leaders where the imbalance
    /// is above the ratio (at once again while a turn was full); every [`UNCLEAN_CHECK`], the
    /// unclean elections topics allow.
    pub async fn tick_loop(self: Arc<Self>) {
        let mut metrics = self.raft.metrics();
        let mut next_rebalance: Option<Instant> = None;
        let mut next_unclean = Instant::now();
        loop {
            tokio::time::sleep(TICK).await;
            let leading = metrics.borrow_and_update().current_leader == Some(self.node_id);
            let image = self.image.borrow().clone();
            let fences = {
                let mut lc = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
                lc.set_leader(leading, Instant::now());
                lc.expired(&image, Instant::now())
            };
            for batch in fences {
                self.propose_logged(batch, "fencing a broker").await;
            }
            if !leading {
                next_rebalance = None;
                continue;
            }
            let now = Instant::now();
            if now >= next_unclean {
                next_unclean = now + UNCLEAN_CHECK;
                let image = self.image.borrow().clone();
                let elections = crate::elect::leaderless_unclean(
                    &image,
                    self.unclean_default,
                    MAX_ELECTIONS_PER_TURN,
                );
                self.propose_elections(elections, "unclean election").await;
            }
            let Some(rebalance) = self.leader_rebalance else {
                continue;
            };
            let due = *next_rebalance.get_or_insert(now + rebalance.interval);
            if now < due {
                continue;
            }
            let image = self.image.borrow().clone();
            let elections =
                crate::elect::rebalance(&image, rebalance.percentage, MAX_ELECTIONS_PER_TURN);
            let full = elections.len() >= MAX_ELECTIONS_PER_TURN;
            self.propose_elections(elections, "preferred-leader rebalance")
                .await;
            next_rebalance = Some(if full { now } else { now + rebalance.interval });
        }
    }

    /// Proposes `elections` as one batch (decided on the newest image, so a stale one is
    /// refused as a whole and decided again next time); logs a failure.
    async fn propose_elections(&self, elections: Vec<ElectLeaderRecord>, what: &str) {
        if elections.is_empty() {
            return;
        }
        for e in &elections {
            tracing::info!(
                "controller {}: {what}: broker {} leads partition {} of topic {}",
                self.node_id,
                e.leader,
                e.partition,
                e.topic_id
            );
        }
        let records = elections
            .into_iter()
            .map(MetadataRecord::ElectLeader)
            .collect();
        self.propose_logged(RecordBatch { records }, what).await;
    }

    async fn propose_logged(&self, batch: RecordBatch, what: &str) {
        match tokio::time::timeout(self.request_timeout, self.propose_here(batch)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::info!("controller {}: {what} failed: {e}", self.node_id),
            Err(_) => tracing::info!("controller {}: {what} timed out", self.node_id),
        }
    }
}

impl crate::routing::Routes for Shared {
    fn route_call(
        &self,
        call: Routed,
    ) -> impl std::future::Future<Output = Result<u64, ControllerError>> + Send {
        self.route(call)
    }

    fn wait_image(&self, index: u64) -> impl std::future::Future<Output = ()> + Send {
        self.wait_applied(index)
    }
}
