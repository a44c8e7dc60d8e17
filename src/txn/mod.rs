//! Transaction coordinator: transactional ids, their producer ids and epochs, and the two-phase
//! end of each transaction (decision logged, markers written to every partition, completion
//! logged).
//!
//! Each transactional id belongs to one partition of the internal `__transaction_state` topic
//! (Kafka's hash of the id) and is coordinated by the core owning that partition, which keeps
//! its state in memory and makes every change durable in that partition before answering.
//!
//! - [`coordinator`]: InitProducerId, AddPartitionsToTxn / AddOffsetsToTxn, EndTxn.
//! - [`markers`]: finishing a transaction (markers on the partitions' owning cores).
//! - [`store`]: writing and replaying `__transaction_state`.
//! - [`sweep`]: aborting timed-out transactions and finishing in-doubt ones after a restart.

pub mod coordinator;
pub mod markers;
pub mod records;
pub mod state;
pub mod store;
pub mod sweep;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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

/// A transaction request for the coordinating core.
#[derive(Debug, Clone)]
pub enum TxnCall {
    /// InitProducerId with a transactional id.
    InitProducerId {
        /// transactional.id
        txn_id: String,
        /// transaction.timeout.ms
        timeout_ms: i32,
        /// (producer id, epoch) the producer had, for KIP-360 epoch bumps.
        expected: Option<(i64, i16)>,
    },
    /// AddPartitionsToTxn / AddOffsetsToTxn.
    AddPartitions {
        /// transactional.id
        txn_id: String,
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
        /// Partitions joining the transaction.
        partitions: Vec<(String, i32)>,
    },
    /// EndTxn.
    End {
        /// transactional.id
        txn_id: String,
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
        /// Commit (true) or abort.
        commit: bool,
    },
    /// DescribeTransactions of these ids (those coordinated here).
    Describe(Vec<String>),
    /// ListTransactions: every id coordinated here.
    List,
}

/// The coordinating core's answer.
#[derive(Debug, Clone)]
pub enum TxnReply {
    /// InitProducerId result.
    Producer {
        /// Error code.
        code: i16,
        /// Producer id (-1 on error).
        producer_id: i64,
        /// Epoch (-1 on error).
        epoch: i16,
    },
    /// An error code.
    Code(i16),
    /// Transactions found.
    Txns(Vec<TxnMeta>),
}

impl crate::shard::call::CoreCall for TxnCall {
    type Reply = TxnReply;
    async fn run(self, shard: &Rc<Shard>) -> TxnReply {
        handle(shard, self).await
    }
}

/// Runs a transaction call on this (the coordinating) core.
pub async fn handle(shard: &Rc<Shard>, call: TxnCall) -> TxnReply {
    match call {
        TxnCall::InitProducerId {
            txn_id,
            timeout_ms,
            expected,
        } => {
            let r = coordinator::init_producer_id(shard, &txn_id, timeout_ms, expected).await;
            match r {
                Ok((producer_id, epoch)) => TxnReply::Producer {
                    code: crate::errors::NONE,
                    producer_id,
                    epoch,
                },
                Err(code) => TxnReply::Producer {
                    code,
                    producer_id: -1,
                    epoch: -1,
                },
            }
        }
        TxnCall::AddPartitions {
            txn_id,
            producer_id,
            epoch,
            partitions,
        } => TxnReply::Code(
            coordinator::add_partitions(shard, &txn_id, producer_id, epoch, partitions).await,
        ),
        TxnCall::End {
            txn_id,
            producer_id,
            epoch,
            commit,
        } => TxnReply::Code(coordinator::end_txn(shard, &txn_id, producer_id, epoch, commit).await),
        TxnCall::Describe(ids) => {
            let txns = shard.txns.txns.borrow();
            TxnReply::Txns(ids.iter().filter_map(|i| txns.get(i).cloned()).collect())
        }
        TxnCall::List => TxnReply::Txns(shard.txns.txns.borrow().values().cloned().collect()),
    }
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
