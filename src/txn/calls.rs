//! The calls a core sends to the core coordinating a transactional id, one type per request,
//! each with its own reply type (see [`crate::shard::call`]).

use std::rc::Rc;

use super::Coordinator;
use super::{coordinator, TxnMeta};
use crate::errors::KafkaError;
use crate::shard::call::CoreCall;

/// InitProducerId with a transactional id: the producer id and epoch, or the error.
#[derive(Debug)]
pub struct InitProducerIdCall {
    /// transactional.id
    pub txn_id: String,
    /// transaction.timeout.ms
    pub timeout_ms: i32,
    /// (producer id, epoch) the producer had, for KIP-360 epoch bumps.
    pub expected: Option<(i64, i16)>,
}

impl CoreCall for InitProducerIdCall {
    type Reply = Result<(i64, i16), KafkaError>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Result<(i64, i16), KafkaError> {
        coordinator::init_producer_id(coord, &self.txn_id, self.timeout_ms, self.expected).await
    }
}

/// AddPartitionsToTxn / AddOffsetsToTxn: done, or the error.
#[derive(Debug)]
pub struct AddPartitionsCall {
    /// transactional.id
    pub txn_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Partitions joining the transaction.
    pub partitions: Vec<(String, i32)>,
}

impl CoreCall for AddPartitionsCall {
    type Reply = Result<(), KafkaError>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Result<(), KafkaError> {
        let c = self;
        coordinator::add_partitions(coord, &c.txn_id, c.producer_id, c.epoch, c.partitions).await
    }
}

/// EndTxn: done, or the error.
#[derive(Debug)]
pub struct EndTxnCall {
    /// transactional.id
    pub txn_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Commit (true) or abort.
    pub commit: bool,
}

impl CoreCall for EndTxnCall {
    type Reply = Result<(), KafkaError>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Result<(), KafkaError> {
        let c = self;
        coordinator::end_txn(coord, &c.txn_id, c.producer_id, c.epoch, c.commit).await
    }
}

/// DescribeTransactions: per id, its state when it is coordinated here (`None`: not found),
/// or NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when this core does not serve its
/// partition.
#[derive(Debug)]
pub struct DescribeTxnsCall(pub Vec<String>);

impl CoreCall for DescribeTxnsCall {
    type Reply = Vec<Result<Option<TxnMeta>, KafkaError>>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Self::Reply {
        self.0
            .iter()
            .map(|id| {
                super::serving(coord, super::partition_of(coord, id))?;
                Ok(coord.txns.borrow().get(id).cloned())
            })
            .collect()
    }
}

/// ListTransactions: every transaction coordinated here.
#[derive(Debug)]
pub struct ListTxnsCall;

impl CoreCall for ListTxnsCall {
    type Reply = Vec<TxnMeta>;
    type Service = Coordinator;
    async fn run(self, coord: &Rc<Coordinator>) -> Vec<TxnMeta> {
        coord
            .txns
            .borrow()
            .values()
            .filter(|m| coord.loads.is_loaded(m.partition))
            .cloned()
            .collect()
    }
}
