//! [`QuorumHandle`]: what a broker holds to take part in the cluster's metadata, whichever its
//! roles: its own [`Controller`] (a voter, `process.roles = "broker,controller"`) or a
//! [`RemoteQuorum`] client (`process.roles = "broker"`). Both answer the same calls with the
//! same errors, so the broker does not care which it has.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::ControllerError;
use crate::handle::Controller;
use crate::image::MetadataImage;
use crate::records::{BrokerId, RecordBatch};
use crate::remote::RemoteQuorum;

/// A future of a quorum call, awaitable from any executor.
pub type QuorumFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// This node's way to the quorum (see the module comment).
pub enum QuorumHandle {
    /// A controller on this node, a voter.
    Local(Controller),
    /// A client of the voters of a remote quorum.
    Remote(RemoteQuorum),
}

macro_rules! both {
    ($self:ident, $q:ident => $e:expr) => {
        match $self {
            QuorumHandle::Local($q) => Box::pin($e),
            QuorumHandle::Remote($q) => Box::pin($e),
        }
    };
}

impl QuorumHandle {
    /// Proposes `batch` through the leader: the log index it committed at, once this node's
    /// image has it (`Controller::propose`).
    pub fn propose(&self, batch: RecordBatch) -> QuorumFuture<Result<u64, ControllerError>> {
        both!(self, q => q.propose(batch))
    }

    /// A broker's heartbeat, to the active controller.
    pub fn heartbeat(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> QuorumFuture<Result<(), ControllerError>> {
        both!(self, q => q.heartbeat(broker, epoch))
    }

    /// A block of `count` producer ids for `broker` at `epoch`: its first id.
    pub fn allocate_producer_ids(
        &self,
        broker: BrokerId,
        epoch: u64,
        count: u32,
    ) -> QuorumFuture<Result<i64, ControllerError>> {
        both!(self, q => q.allocate_producer_ids(broker, epoch, count))
    }

    /// A controlled shutdown of `broker` at `epoch`: fenced at once by the active controller.
    pub fn controlled_shutdown(
        &self,
        broker: BrokerId,
        epoch: u64,
    ) -> QuorumFuture<Result<(), ControllerError>> {
        both!(self, q => q.controlled_shutdown(broker, epoch))
    }

    /// The newest image this node has.
    pub fn image(&self) -> Arc<MetadataImage> {
        match self {
            QuorumHandle::Local(c) => c.image(),
            QuorumHandle::Remote(r) => r.image(),
        }
    }

    /// A receiver of every new image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        match self {
            QuorumHandle::Local(c) => c.subscribe(),
            QuorumHandle::Remote(r) => r.subscribe(),
        }
    }

    /// The active controller as this node knows it.
    pub fn leader(&self) -> Option<u64> {
        match self {
            QuorumHandle::Local(c) => c.leader(),
            QuorumHandle::Remote(r) => r.leader(),
        }
    }

    /// Waits until a leader is known, at most `timeout`.
    pub fn wait_for_leader(&self, timeout: Duration) -> QuorumFuture<Option<u64>> {
        both!(self, q => q.wait_for_leader(timeout))
    }

    /// The address of this node's controller listener (`None`: no controller here).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            QuorumHandle::Local(c) => Some(c.local_addr()),
            QuorumHandle::Remote(_) => None,
        }
    }

    /// Stops the controller or the client; resolves once its thread has ended.
    pub fn shutdown(self) -> QuorumFuture<()> {
        match self {
            QuorumHandle::Local(c) => Box::pin(c.shutdown()),
            QuorumHandle::Remote(r) => Box::pin(r.shutdown()),
        }
    }
}

impl From<Controller> for QuorumHandle {
    fn from(c: Controller) -> QuorumHandle {
        QuorumHandle::Local(c)
    }
}

impl From<RemoteQuorum> for QuorumHandle {
    fn from(r: RemoteQuorum) -> QuorumHandle {
        QuorumHandle::Remote(r)
    }
}
