//! Group coordinator: consumer groups and committed offsets.
//!
//! Each group belongs to one partition of the internal `__consumer_offsets` topic (Kafka's hash
//! of the group id) and is coordinated by the core that owns that partition, so a group's
//! membership, its offsets and the log that makes them durable all live on one core.
//!
//! Each core's [`Coordinator`] holds its groups and reaches the partition store only through
//! [`InternalTopics`]; group calls run against it, and it hears about partitions opened and
//! topics deleted through [`PartitionEvents`] (registered by `services::Core`).
//!
//! - [`calls`]: the calls other cores send the coordinating core, one type per request.
//! - [`classic`]: JoinGroup and the rebalance state machine (the classic protocol);
//!   [`session`]: SyncGroup, Heartbeat and LeaveGroup.
//! - [`consumer`]: ConsumerGroupHeartbeat (KIP-848) with [`assignor`]'s server-side assignors.
//! - [`offsets`]: OffsetCommit, OffsetFetch, OffsetDelete.
//! - [`admin`]: ListGroups, DescribeGroups, DeleteGroups, ConsumerGroupDescribe.
//! - [`store`]: writing group records to `__consumer_offsets` and replaying them.
//! - [`leadership`]: loading a partition's groups when this broker becomes its leader (at
//!   startup, or at a failover) and dropping them when it stops leading it.
//! - [`deleted_topics`]: removing the committed offsets of deleted topics.
//! - [`txn_offsets`]: TxnOffsetCommit, and settling pending offsets when a marker lands.
//! - [`sweep`]: the timer task (session expiry, rebalance deadlines, offsets retention), woken at
//!   the deadlines [`timers`] computes.

pub mod admin;
pub mod assignor;
pub mod calls;
pub mod classic;
pub mod consumer;
pub mod deleted_topics;
pub mod leadership;
pub mod offsets;
pub mod records;
pub mod session;
pub mod state;
pub mod store;
pub mod sweep;
pub mod timers;
pub mod txn_offsets;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::cluster::TopicTable;
use crate::config::Config;
use crate::errors::KafkaError;
use crate::shard::coordinator_loads::Loads;
use crate::shard::internal::InternalTopics;
use crate::shard::{EventFuture, PartitionEvents};
use crate::storage::PartitionLog;
pub use state::Group;

/// Name of the internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The group coordinator of one core: the groups it coordinates, its timer state, and its
/// handle on the partition store ([`InternalTopics`]). Group calls run against it.
pub struct Coordinator {
    /// Groups by id.
    pub groups: RefCell<HashMap<String, Group>>,
    /// When the timer task wakes next.
    pub timers: timers::Timers,
    /// This core's internal topics (and the configuration and topic table).
    pub topics: InternalTopics,
    /// The partitions of `__consumer_offsets` this core serves (loaded) or is loading.
    pub loads: Loads,
}

impl Coordinator {
    /// A coordinator with no groups yet, writing through `topics`.
    pub fn new(topics: InternalTopics) -> Rc<Coordinator> {
        Rc::new(Coordinator {
            groups: RefCell::new(HashMap::new()),
            timers: Default::default(),
            topics,
            loads: Loads::default(),
        })
    }

    /// The current broker configuration.
    pub fn config(&self) -> std::sync::Arc<Config> {
        self.topics.config()
    }

    /// Committed offsets of every group, for the metrics snapshot.
    pub fn offset_gauges(&self) -> Vec<crate::metrics::core::GroupOffset> {
        let mut out = Vec::new();
        for (id, group) in self.groups.borrow().iter() {
            let gid: std::sync::Arc<str> = std::sync::Arc::from(id.as_str());
            for ((topic, partition), v) in &group.offsets {
                out.push(crate::metrics::core::GroupOffset {
                    group: gid.clone(),
                    topic: std::sync::Arc::from(topic.as_str()),
                    partition: *partition,
                    offset: v.offset,
                });
            }
        }
        out
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
            if topic == OFFSETS_TOPIC {
                leadership::reconcile(self, Some(partition)).await;
            }
        })
    }

    fn topics_deleted<'a>(&'a self, topics: &'a [String]) -> EventFuture<'a> {
        Box::pin(deleted_topics::forget(self, topics))
    }
}

/// Tells the timer task about `group`'s next deadline. Called after every group call, and by
/// calls that wait (JoinGroup, SyncGroup) before they wait: their wait may end at a deadline.
pub fn note_deadline(coord: &Coordinator, group: &str) {
    let due = coord
        .groups
        .borrow()
        .get(group)
        .and_then(|g| timers::next_deadline(g, &coord.config()));
    if let Some(at) = due {
        coord.timers.deadline(at);
    }
}

/// Partition of `__consumer_offsets` holding `group` on this broker (by the topic's actual
/// partition count in `table`, so a changed `offsets.topic.num.partitions` cannot move
/// existing groups).
pub fn partition_in(table: &TopicTable, config: &Config, group: &str) -> i32 {
    let n = table
        .get(OFFSETS_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .unwrap_or(config.groups.offsets_partitions);
    records::partition_for(group, n)
}

/// Partition of `__consumer_offsets` holding `group` (see [`partition_in`]).
pub fn partition_of(coord: &Coordinator, group: &str) -> i32 {
    partition_in(&coord.topics.topic_table(), &coord.config(), group)
}

/// Whether this core serves the groups of `partition`: Ok when this broker leads it and its
/// groups are loaded; COORDINATOR_LOAD_IN_PROGRESS while they are replayed; NOT_COORDINATOR
/// otherwise (a follower of the partition, or not here).
pub fn serving(coord: &Coordinator, partition: i32) -> Result<(), KafkaError> {
    coord.loads.check(partition)
}
