//! Runnel's controller quorum: the cluster's metadata as a replicated log on openraft, and the
//! in-memory [`MetadataImage`] every node builds from it (docs/cluster.md).
//!
//! - [`records`]: the typed metadata records (KRaft's record types) and atomic batches of them.
//! - [`image`]: the immutable metadata image and the pure, validating apply of a batch.
//! - [`placement`]: replica placement for new topics and partitions (Kafka's rules).
//! - `reassign`: partition reassignments (KIP-455) as the image applies them.
//! - [`lifecycle`]: broker heartbeats, fencing and unfencing on the active controller.
//! - [`elect`]: leader elections (ElectLeaders, the preferred-leader rebalance, unclean
//!   elections) and how the image checks them.
//! - [`Controller`] ([`handle`]): start a controller on its own thread and runtime; propose,
//!   heartbeat, read and watch the image from any executor.
//! - [`RemoteQuorum`] ([`remote`]): the client of a remote quorum for a broker without a
//!   controller; [`QuorumHandle`] ([`quorum`]) is either, behind the same calls.
//! - Inside: [`log_store`] and [`state_machine`] (durable openraft storage), [`wire`],
//!   [`network`] and `server` (the controllers' TCP protocol), [`transport`] (plaintext or
//!   mutual TLS under it), `node` (routing to the leader).
//!
//! This crate does not depend on the broker; the broker depends on it.

#![warn(missing_docs)]

mod alter_partition;
pub mod config;
pub mod elect;
pub mod error;
mod fsio;
pub mod handle;
pub mod image;
#[cfg(test)]
mod image_fixtures;
pub mod lifecycle;
pub mod log_store;
pub mod network;
mod node;
pub mod placement;
pub mod quorum;
mod reassign;
pub mod records;
pub mod remote;
mod routing;
pub mod scram_image;
mod server;
pub mod state_machine;
pub mod transport;
pub mod types;
pub mod wire;

pub use config::{parse_voters, ControllerConfig, LeaderRebalance};
pub use error::ControllerError;
pub use handle::Controller;
pub use image::{MetadataImage, RejectReason};
pub use quorum::QuorumHandle;
pub use records::{MetadataRecord, RecordBatch};
pub use remote::{RemoteConfig, RemoteQuorum};
pub use transport::{Authorize, ServerConfigSource, TlsTransport, Transport};
