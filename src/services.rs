//! The composition root of one core: [`Core`] owns the core's services and wires them together.
//!
//! Layers point down only: the protocol (`kafka`) uses the coordinators (`group`, `txn`) and
//! the core services (`shard`: partition store, topic view, mesh), which use `storage`;
//! `cluster`, `config` and `metrics` are helpers below them. The shard never names the
//! coordinators: this module registers them on the shard as call targets
//! ([`crate::shard::Shard::provide`]) and as listeners for partition events
//! ([`crate::shard::PartitionEvents`]), and hands them their narrow handles on the shard
//! ([`InternalTopics`], [`Mesh`]).

use std::rc::{Rc, Weak};
use std::sync::Arc;

use crate::metrics::core::Snapshot;
use crate::metrics::registry::Registry;
use crate::shard::internal::InternalTopics;
use crate::shard::{Mesh, PartitionEvents, Shard};

/// One core's services.
pub struct Core {
    /// Partition store, topic view and mesh.
    pub shard: Rc<Shard>,
    /// The group coordinator.
    pub groups: Rc<crate::group::Coordinator>,
    /// The transaction coordinator.
    pub txns: Rc<crate::txn::Coordinator>,
}

impl Core {
    /// Builds the coordinators on `shard` and registers them with it (before any partition is
    /// opened, so that they load their internal topics' partitions as those open).
    pub fn new(shard: Rc<Shard>) -> Core {
        let topics = InternalTopics::new(&shard);
        let groups = crate::group::Coordinator::new(topics.clone());
        let txns = crate::txn::Coordinator::new(
            topics,
            Mesh::new(&shard),
            groups.clone(),
            shard.producer_ids.clone(),
        );
        shard.provide(&groups);
        shard.provide(&txns);
        let g: Weak<dyn PartitionEvents> = Rc::downgrade(&groups) as Weak<dyn PartitionEvents>;
        let t: Weak<dyn PartitionEvents> = Rc::downgrade(&txns) as Weak<dyn PartitionEvents>;
        shard.on_partition_events(g);
        shard.on_partition_events(t);
        Core {
            shard,
            groups,
            txns,
        }
    }

    /// Starts the core's background tasks: group and transaction timers, log housekeeping and
    /// the metrics snapshot.
    pub fn start_tasks(&self, registry: &Arc<Registry>) {
        crate::group::sweep::start(self.groups.clone());
        crate::txn::sweep::start(&self.txns);
        crate::shard::housekeeping::start(&self.shard);
        let (shard, groups) = (self.shard.clone(), self.groups.clone());
        crate::metrics::snapshot::start(self.shard.id, registry.clone(), move || Snapshot {
            partitions: shard.partition_gauges(),
            group_offsets: groups.offset_gauges(),
        });
    }
}
