//! Group coordinator: consumer groups and committed offsets.
//!
//! Each group belongs to one partition of the internal `__consumer_offsets` topic (Kafka's hash
//! of the group id) and is coordinated by the core that owns that partition, so a group's
//! membership, its offsets and the log that makes them durable all live on one core.
//!
//! - [`calls`]: the calls other cores send the coordinating core, one type per request.
//! - [`classic`]: JoinGroup and the rebalance state machine (the classic protocol);
//!   [`session`]: SyncGroup, Heartbeat and LeaveGroup.
//! - [`consumer`]: ConsumerGroupHeartbeat (KIP-848) with [`assignor`]'s server-side assignors.
//! - [`offsets`]: OffsetCommit, OffsetFetch, OffsetDelete.
//! - [`admin`]: ListGroups, DescribeGroups, DeleteGroups, ConsumerGroupDescribe.
//! - [`store`]: writing group records to `__consumer_offsets` and loading them at startup.
//! - [`sweep`]: the timer task (session expiry, rebalance deadlines, offsets retention), woken at
//!   the deadlines [`timers`] computes.

pub mod admin;
pub mod assignor;
pub mod calls;
pub mod classic;
pub mod consumer;
pub mod deleted_topics;
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

use crate::shard::Shard;
pub use state::Group;

/// Name of the internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The groups one core coordinates.
#[derive(Default)]
pub struct Coordinator {
    /// Groups by id.
    pub groups: RefCell<HashMap<String, Group>>,
    /// When the timer task wakes next.
    pub timers: timers::Timers,
}

/// Tells the timer task about `group`'s next deadline. Called after every group call, and by
/// calls that wait (JoinGroup, SyncGroup) before they wait: their wait may end at a deadline.
pub fn note_deadline(shard: &Shard, group: &str) {
    let due = shard
        .groups
        .groups
        .borrow()
        .get(group)
        .and_then(|g| timers::next_deadline(g, &shard.config()));
    if let Some(at) = due {
        shard.groups.timers.deadline(at);
    }
}

/// Partition of `__consumer_offsets` holding `group` on this broker (by the topic's actual
/// partition count, so a changed `offsets.topic.num.partitions` cannot move existing groups).
pub fn partition_of(shard: &Shard, group: &str) -> i32 {
    let n = shard
        .topic_table()
        .get(OFFSETS_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .unwrap_or(shard.config().groups.offsets_partitions);
    records::partition_for(group, n)
}

/// Whether this core can serve groups of `partition` (its log is open here).
pub fn serves(shard: &Shard, partition: i32) -> bool {
    shard.log(OFFSETS_TOPIC, partition).is_some()
}
