//! The Kafka protocol layer: connections, framing, request dispatch and one handler per API.
//!
//! Messages are decoded and encoded with the kafka-protocol crate; record batches inside them
//! are passed through as `Bytes` and never decoded here.

pub mod admission;
pub mod apis;
pub mod connection;
pub mod dispatch;
pub mod frame;
pub mod read_budget;
pub mod reauth;
pub mod rope;
pub mod sasl;
pub mod stream;
pub mod validate;
