//! Which partitions of its internal topic a coordinator serves (docs/replication.md, step 6):
//! Kafka's `onElection` / `onResignation` of the group and transaction coordinators.
//!
//! A coordinator serves the groups or transactional ids of a partition of `__consumer_offsets`
//! / `__transaction_state` only while this broker leads that partition. [`Loads`] follows the
//! leadership: [`Loads::reconcile`] compares what the cluster snapshot says ([`Lead`], from
//! [`InternalTopics::leads`]) with what the coordinator holds, and says which partitions to
//! drop (leadership lost, partition closed) and which to replay (leadership gained, or a new
//! leader epoch: the state may have moved meanwhile). A partition being replayed answers
//! COORDINATOR_LOAD_IN_PROGRESS, one not led here NOT_COORDINATOR ([`Loads::check`]).
//!
//! Each load has a generation: a replay whose partition was dropped or reloaded meanwhile
//! ([`Loads::is_current`] false) applies nothing more and does not mark it loaded.
//!
//! A partition with one replica is [`Lead::Single`] for as long as its log is open here, as
//! before replication: loaded once when the partition opens.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::internal::InternalTopics;
use crate::errors::KafkaError;
use crate::storage::PartitionLog;

/// This broker's leadership of an internal partition whose log is open here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// A partition with one replica (or one the snapshot does not know yet): this broker
    /// serves it while its log is open here.
    Single,
    /// A replicated partition this broker leads, at this leader epoch.
    Epoch(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Loaded,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    lead: Lead,
    generation: u64,
    phase: Phase,
}

/// A partition to replay: its log, and the generation the replay belongs to.
pub struct LoadJob {
    /// Partition number.
    pub partition: i32,
    /// The load's generation ([`Loads::is_current`], [`Loads::finish`]).
    pub generation: u64,
    /// The partition's log.
    pub log: Rc<PartitionLog>,
}

/// What [`Loads::reconcile`] decided.
#[derive(Default)]
pub struct Changes {
    /// Partitions whose state must be dropped (before any load of the same partition).
    pub unload: Vec<i32>,
    /// Partitions to replay.
    pub load: Vec<LoadJob>,
}

/// The partitions a coordinator holds (loading or loaded), one entry per partition of its
/// internal topic at most.
#[derive(Default)]
pub struct Loads {
    parts: RefCell<HashMap<i32, Entry>>,
    next_generation: Cell<u64>,
}

impl Loads {
    /// Ok when `partition` is loaded; COORDINATOR_LOAD_IN_PROGRESS while it is replayed,
    /// NOT_COORDINATOR when this coordinator does not hold it.
    pub fn check(&self, partition: i32) -> Result<(), KafkaError> {
        match self.parts.borrow().get(&partition).map(|e| e.phase) {
            Some(Phase::Loaded) => Ok(()),
            Some(Phase::Loading) => Err(KafkaError::CoordinatorLoadInProgress),
            None => Err(KafkaError::NotCoordinator),
        }
    }

    /// Whether `partition` is loaded.
    pub fn is_loaded(&self, partition: i32) -> bool {
        self.check(partition).is_ok()
    }

    /// Whether the load `generation` of `partition` is still the one wanted.
    pub fn is_current(&self, partition: i32, generation: u64) -> bool {
        self.parts
            .borrow()
            .get(&partition)
            .is_some_and(|e| e.generation == generation)
    }

    /// The load `generation` of `partition` is done: it is served from now on (unless it
    /// was dropped or reloaded meanwhile). True when it was still current.
    pub fn finish(&self, partition: i32, generation: u64) -> bool {
        match self.parts.borrow_mut().get_mut(&partition) {
            Some(e) if e.generation == generation => {
                e.phase = Phase::Loaded;
                true
            }
            _ => false,
        }
    }

    /// Compares the leadership of `topic`'s partitions (all, or only `only`) with what is
    /// held, records the new loads as loading and forgets the dropped ones; the caller drops
    /// the state of [`Changes::unload`] and replays [`Changes::load`].
    pub fn reconcile(&self, topics: &InternalTopics, topic: &str, only: Option<i32>) -> Changes {
        let count = topics
            .topic_table()
            .get(topic)
            .map_or(0, |t| t.partitions.len() as i32);
        let mut wanted: Vec<i32> = match only {
            Some(p) => vec![p],
            None => (0..count).collect(),
        };
        if only.is_none() {
            // Held partitions beyond the table (a topic deleted or shrunk) are dropped too.
            wanted.extend(self.parts.borrow().keys().filter(|&&p| p >= count));
        }
        let mut changes = Changes::default();
        let mut parts = self.parts.borrow_mut();
        for p in wanted {
            let desired = topics.leads(topic, p);
            let held = parts.get(&p).map(|e| e.lead);
            if desired.as_ref().map(|(lead, _)| *lead) == held {
                continue;
            }
            if held.is_some() {
                parts.remove(&p);
                changes.unload.push(p);
            }
            if let Some((lead, log)) = desired {
                let generation = self.next_generation.get() + 1;
                self.next_generation.set(generation);
                parts.insert(
                    p,
                    Entry {
                        lead,
                        generation,
                        phase: Phase::Loading,
                    },
                );
                changes.load.push(LoadJob {
                    partition: p,
                    generation,
                    log,
                });
            }
        }
        changes
    }
}
