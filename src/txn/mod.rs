//! Transaction coordinator: transactional ids, their producer ids and epochs, and the two-phase
//! end of each transaction (decision logged, markers written to every partition, completion
//! logged).
//!
//! Each transactional id belongs to one partition of the internal `__transaction_state` topic
//! (Kafka's hash of the id) and is coordinated by the core owning that partition, which keeps
//! its state in memory and makes every change durable in that partition before answering.
//!
//! - [`calls`]: the calls other cores send the coordinating core, one type per request.
//! - [`coordinator`]: InitProducerId, AddPartitionsToTxn / AddOffsetsToTxn, EndTxn.
//! - [`markers`]: finishing a transaction (markers on the partitions' owning cores).
//! - [`store`]: writing and replaying `__transaction_state`.
//! - [`sweep`]: aborting timed-out transactions and finishing in-doubt ones after a restart.

pub mod calls;
pub mod coordinator;
pub mod markers;
pub mod records;
pub mod state;
pub mod store;
pub mod sweep;

use std::cell::RefCell;
use std::collections::HashMap;

use crate::shard::Shard;
pub use state::{TxnMeta, TxnState};

/// Name of the internal topic holding transaction state.
pub const TXN_TOPIC: &str = "__transaction_state";

/// The transactional ids one core coordinates.
#[derive(Default)]
pub struct Coordinator {
    /// State by transactional id.
    pub txns: RefCell<HashMap<String, TxnMeta>>,
}

/// Partition of `__transaction_state` holding `txn_id` (by the topic's actual partition count).
pub fn partition_of(shard: &Shard, txn_id: &str) -> i32 {
    let n = shard
        .topic_table()
        .get(TXN_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .unwrap_or(shard.config().txns.state_partitions);
    crate::group::records::partition_for(txn_id, n)
}

/// Whether this core can serve transactional ids of `partition` (its log is open here).
pub fn serves(shard: &Shard, partition: i32) -> bool {
    shard.log(TXN_TOPIC, partition).is_some()
}
