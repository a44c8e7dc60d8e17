//! Runnel: a Kafka-compatible streaming broker with a thread-per-core, shared-nothing design.
//!
//! - [`kafka`]: the wire protocol (connections, framing, one handler per API).
//! - [`services`]: the composition root of one core ([`services::Core`]), which owns its
//!   services and wires the coordinators to the shard below them.
//! - [`shard`]: the core services below the coordinators (partition store, topic view) and
//!   typed calls between cores over glommio's channel mesh.
//! - [`storage`]: the direct-I/O log engine (segments, indexes, group commit, recovery,
//!   retention, compaction), the `runnel-storage` crate in src/storage/, re-exported here.
//! - [`group`]: the group coordinator (consumer groups and committed offsets).
//! - [`txn`]: the transaction coordinator (transactional ids, two-phase commit markers).
//! - [`replica`]: follower replicas: one fetch session per core and leader broker.
//! - [`cluster`]: topic metadata and broker identity.
//! - [`metrics`]: Prometheus metrics, `/health` and `/ready`.
//! - [`fd_limit`]: the file-descriptor limit raised at startup.
//! - [`membership`]: the broker in the controller quorum: starts its controller, registers,
//!   heartbeats, publishes the cluster's brokers and controller to the cores.
//! - [`server`]: startup, executors, listeners and shutdown.
//! - [`args`]: the broker binary's command line (broker flags; the client commands `topic`,
//!   `produce`, `consume` and `group` are handed to `runnel-cli`, the crate in src/cli/).

pub mod args;
pub use runnel_storage::clock;
pub mod cluster;
pub mod config;
pub mod errors;
pub mod fd_limit;
pub mod group;
pub mod interbroker;
pub mod kafka;
pub mod membership;
pub mod metrics;
pub mod panic_exit;
pub mod periodic;
pub mod replica;
pub mod security;
pub mod server;
pub mod services;
pub mod shard;
pub use runnel_storage as storage;
pub mod txn;
