//! The broker's membership of the controller quorum (docs/cluster.md, "The broker in the
//! quorum"):
//!
//! - [`quorum`]: starts this node's controller from the configuration, on its own thread, in
//!   `<data-dir>/controller`; or, on a broker without a controller (`process.roles =
//!   "broker"`), the client of the remote quorum.
//! - [`agent`]: on core 0, registers the broker (`RegisterBroker`), heartbeats on
//!   `broker.heartbeat.interval.ms`, retries an unreachable quorum with a bounded backoff, and
//!   publishes the cluster's state (the controller's newest image and the active controller)
//!   to every core over a `watch` channel.
//! - [`own_credential`]: the SCRAM credential of this broker's inter-broker login, created in
//!   the cluster metadata when missing.
//! - [`shutdown`]: the controlled shutdown on a clean stop: the quorum fences this broker at
//!   once, within a bounded wait.
//!
//! [`Membership`] is what the startup code holds and hands to the cores.

pub mod agent;
pub mod own_credential;
pub mod quorum;
pub mod shutdown;
pub mod unfence;

use std::sync::{Arc, Mutex};

use runnel_controller::QuorumHandle;
use tokio::sync::watch;

use crate::cluster::membership::ClusterState;

/// The running controller and the channel the cluster's state goes to the cores on.
pub struct Membership {
    /// This node's controller, or its client of a remote quorum (`process.roles = "broker"`).
    pub controller: Arc<QuorumHandle>,
    /// The sender, taken by core 0's agent ([`agent::start`]).
    publisher: Mutex<Option<watch::Sender<Arc<ClusterState>>>>,
    /// A receiver the cores clone.
    updates: watch::Receiver<Arc<ClusterState>>,
    /// Why the broker must stop (another live broker has its `node.id`).
    fatal: Mutex<Option<String>>,
    /// The broker epoch of this run's registration once the quorum has accepted it (what a
    /// controlled shutdown names).
    epoch: Mutex<Option<u64>>,
    /// This run's incarnation id, registered with the quorum: once the image has it, the
    /// image holds every change committed before this run's registration.
    pub incarnation: uuid::Uuid,
}

impl Membership {
    /// Membership through `controller` (a [`runnel_controller::Controller`] or a
    /// [`runnel_controller::RemoteQuorum`]).
    pub fn new(controller: impl Into<QuorumHandle>) -> Arc<Membership> {
        let (tx, rx) = watch::channel(Arc::new(ClusterState::default()));
        Arc::new(Membership {
            controller: Arc::new(controller.into()),
            publisher: Mutex::new(Some(tx)),
            updates: rx,
            fatal: Mutex::new(None),
            epoch: Mutex::new(None),
            incarnation: uuid::Uuid::new_v4(),
        })
    }

    /// A receiver of every new cluster state, for one core.
    pub fn updates(&self) -> watch::Receiver<Arc<ClusterState>> {
        self.updates.clone()
    }

    /// Takes the publishing end (once).
    fn take_publisher(&self) -> Option<watch::Sender<Arc<ClusterState>>> {
        self.publisher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The reason the broker had to stop, if it had to.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// This run's broker epoch, once registered.
    pub fn epoch(&self) -> Option<u64> {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_epoch(&self, epoch: Option<u64>) {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) = epoch;
    }

    fn set_fatal(&self, why: String) {
        *self.fatal.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}
