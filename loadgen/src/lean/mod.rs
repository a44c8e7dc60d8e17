//! The lean client mode (`client = "lean"`): producers and consumers that speak the Kafka
//! protocol directly through the `kafka-protocol` crate, one blocking TCP connection each,
//! instead of going through librdkafka. It exists so that one client core can push the broker
//! harder than librdkafka does on a small machine.
//!
//! What it does not do: consumer groups (consumers always take a static share of the
//! partitions), offset commits, idempotence, transactions, retries, or talking to any broker but
//! the first bootstrap address (every partition must be led by it). See docs/loadgen.md.

pub mod batch;
pub mod conn;
pub mod consumer;
pub mod producer;
