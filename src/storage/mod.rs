//! The storage engine: record batch validation, segments written with direct I/O, sparse
//! indexes, per-partition logs with group commit, and crash recovery of the tail segment.
//!
//! Nothing here knows about the Kafka wire protocol or about cores: a [`log::PartitionLog`] is
//! owned by one executor and driven by the shard layer.

pub mod batch;
pub mod cache;
mod checkpoint;
pub mod compaction;
pub mod convert;
pub mod direct_io;
pub mod index;
pub mod log;
mod log_read;
#[cfg(test)]
mod log_tests;
mod log_txn;
mod log_write;
pub mod producers;
mod retention;
pub mod segment;
pub mod signal;
pub mod time_index;

pub use cache::CacheBudget;
pub use log::{Appended, LogConfig, LogError, PartitionLog};
