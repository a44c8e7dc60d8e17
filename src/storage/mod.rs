//! The storage engine: record batch validation, segments written with direct I/O, sparse
//! indexes, per-partition logs with group commit, and crash recovery of the tail segment.
//!
//! Nothing here knows about the Kafka wire protocol or about cores: a [`log::PartitionLog`] is
//! owned by one executor and driven by the shard layer.

pub mod batch;
pub mod cache;
pub mod direct_io;
pub mod index;
pub mod log;
mod log_read;
mod log_txn;
pub mod producers;
pub mod segment;
pub mod signal;

pub use cache::CacheBudget;
pub use log::{Appended, LogConfig, LogError, PartitionLog};
