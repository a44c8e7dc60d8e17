//! Transaction coordinator: transactional ids, their producer ids and epochs, and the two-phase
//! end of each transaction (decision logged, markers written to every partition, completion
//! logged).
//!
//! Each transactional id belongs to one partition of the internal `__transaction_state` topic
//! (Kafka's hash of the id) and is coordinated by the core owning that partition, which keeps
//! its state in memory and makes every change durable in that partition before answering.
//!
//! Each core's [`Coordinator`] reaches the partition store only through [`InternalTopics`],
//! other cores through [`Mesh`] and other brokers through [`Peers`] (the inter-broker client);
//! transaction calls run against it.
//!
//! - [`calls`]: the calls other cores send the coordinating core, one type per request.
//! - [`coordinator`]: InitProducerId, AddPartitionsToTxn / AddOffsetsToTxn, EndTxn.
//! - [`markers`]: finishing a transaction (markers on the partitions' owning cores, here or
//!   on other brokers).
//! - [`remote_markers`]: markers for partitions other brokers lead (WriteTxnMarkers).
//! - [`store`]: writing and replaying `__transaction_state`.
//! - [`leadership`]: loading a partition's transactional ids when this broker becomes its
//!   leader and dropping them when it stops leading it.
//! - [`sweep`]: aborting timed-out transactions and finishing in-doubt ones after a restart.

pub mod calls;
pub mod coordinator;
pub mod leadership;
pub mod markers;
pub mod records;
pub mod remote_markers;
pub mod state;
pub mod store;
pub mod sweep;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::cluster::producer_ids::ProducerIds;
use crate::config::Config;
use crate::errors::KafkaError;
use crate::interbroker::Peers;
use crate::shard::coordinator_loads::Loads;
use crate::shard::internal::InternalTopics;
use crate::shard::{EventFuture, Mesh, PartitionEvents};
use crate::storage::PartitionLog;
pub use state::{TxnMeta, TxnState};

/// Name of the internal topic holding transaction state.
pub const TXN_TOPIC: &str = "__transaction_state";

/// The transaction coordinator of one core: the transactional ids it coordinates, and what it
/// works through (internal topics, the mesh for markers on other cores, this core's group
/// coordinator for transactional offsets, the producer id allocator). Transaction calls run
/// against it.
pub struct Coordinator {
    /// State by transactional id.
    pub txns: RefCell<HashMap<String, TxnMeta>>,
    /// This core's internal topics (and the configuration and topic table).
    pub topics: InternalTopics,
    /// Calls to the cores owning a transaction's partitions.
    pub mesh: Rc<Mesh>,
    /// This core's group coordinator: markers on `__consumer_offsets` settle its pending
    /// transactional offsets.
    pub groups: Rc<crate::group::Coordinator>,
    /// This core's producer id allocator.
    pub producer_ids: Rc<ProducerIds>,
    /// This core's inter-broker client: markers for partitions other brokers lead.
    pub peers: Rc<Peers>,
    /// The partitions of `__transaction_state` this core serves (loaded) or is loading.
    pub loads: Loads,
}

impl Coordinator {
    /// A coordinator with no transactional ids yet.
    pub fn new(
        topics: InternalTopics,
        mesh: Rc<Mesh>,
        groups: Rc<crate::group::Coordinator>,
        producer_ids: Rc<ProducerIds>,
        peers: Rc<Peers>,
    ) -> Rc<Coordinator> {
        Rc::new(Coordinator {
            txns: RefCell::new(HashMap::new()),
            topics,
            mesh,
            groups,
            producer_ids,
            peers,
            loads: Loads::default(),
        })
    }

    /// The current broker configuration.
    pub fn config(&self) -> Arc<Config> {
        self.topics.config()
    }
}

impl PartitionEvents for Coordinator {
    fn partition_opened<'a>(
        &'a self,
        topic: &'a str,
        partition: i32,
        log: &'a Rc<PartitionLog>,
    ) -> EventFuture<'a> {
        let _ = log;
        Box::pin(async move {
            if topic == TXN_TOPIC {
                leadership::reconcile(self, Some(partition)).await;
            }
        })
    }
}

/// Partition of `__transaction_state` holding `txn_id` (by the topic's actual partition count
/// in `table`).
pub fn partition_in(table: &crate::cluster::TopicTable, config: &Config, txn_id: &str) -> i32 {
    let n = table
        .get(TXN_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .unwrap_or(config.txns.state_partitions);
    crate::group::records::partition_for(txn_id, n)
}

/// Partition of `__transaction_state` holding `txn_id` (see [`partition_in`]).
pub fn partition_of(coord: &Coordinator, txn_id: &str) -> i32 {
    partition_in(&coord.topics.topic_table(), &coord.config(), txn_id)
}

/// Whether this core serves the transactional ids of `partition`: Ok when this broker leads
/// it and its state is loaded; COORDINATOR_LOAD_IN_PROGRESS while it is replayed;
/// NOT_COORDINATOR otherwise.
pub fn serving(coord: &Coordinator, partition: i32) -> Result<(), KafkaError> {
    coord.loads.check(partition)
}
