//! The storage engine: record batch validation (header, CRC, and every record: [`validate`]), segments written with direct I/O, sparse
//! indexes, per-partition logs with group commit, and crash recovery of the tail segment.
//!
//! This crate is the bottom layer of the broker. Nothing here knows about the Kafka wire
//! protocol, its error codes or about cores: a [`log::PartitionLog`] is owned by one executor and
//! driven by the broker's core services, which turn this crate's typed errors ([`LogError`],
//! [`validate::Invalid`], [`producers::ProducerFault`]) into Kafka error codes. What the engine
//! reports to metrics goes through [`events`].

pub mod batch;
pub mod cache;
mod checkpoint;
pub mod clock;
pub mod compaction;
pub mod convert;
pub mod decompress;
pub mod direct_io;
pub mod disk;
pub mod durable;
pub mod epochs;
pub mod error;
pub mod events;
pub mod fault;
pub mod fuzz_entry;
pub mod index;
pub mod log;
mod log_config;
mod log_epochs;
mod log_follower;
mod log_read;
mod log_restart;
#[cfg(test)]
mod log_tests;
mod log_truncate;
mod log_txn;
mod log_wait;
mod log_write;
pub mod open_files;
pub mod producers;
pub mod record_rules;
pub mod records;
mod retention;
pub mod rng;
pub mod segment;
pub mod signal;
pub mod simulation;
pub mod testing;
pub mod time_index;
pub mod validate;
pub mod verify;

pub use cache::CacheBudget;
pub use error::{FollowerFault, IoFailure, LogError};
pub use log::{Appended, LogConfig, PartitionLog};
