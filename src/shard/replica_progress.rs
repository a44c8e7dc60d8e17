//! The leader's record of its followers (docs/replication.md step 4): for each replicated
//! partition this core leads, one entry per replica of its assignment with the follower's log
//! end offset (the offset of its last fetch) and the time it last caught up with the leader's
//! log end. The high watermark (the log's visible offset) is the smallest log end offset of
//! the ISR members other than the leader, never above the leader's durable offset (the log caps
//! it) and never going back; with no other ISR member it follows the durable offset.
//!
//! The ISR decisions made from this table (which follower leaves or joins the ISR) are in
//! [`super::isr`].
//!
//! Bounded: entries exist only for partitions this core leads with more than one replica
//! (rebuilt at every cluster snapshot and table install, [`Progress::sync`]), each with one
//! slot per replica of the assignment.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use crate::errors::KafkaError;
use crate::storage::PartitionLog;

/// A follower's log end offset before its first fetch to this leader.
const UNKNOWN: i64 = -1;

/// One replica's progress as the leader saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    /// Broker id.
    pub id: i32,
    /// Its log end offset: the offset of its last fetch (-1 before the first).
    pub log_end: i64,
    /// When it was last caught up with the leader's log end offset (Kafka's
    /// `lastCaughtUpTimeMs`); `None` before its first fetch of this leadership.
    pub caught_up: Option<Instant>,
    /// The leader's log end offset at its previous fetch, and that fetch's time.
    pub last_fetch: Option<(i64, Instant)>,
}

/// What an acks=all produce checks of a replicated partition led here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsrSize {
    /// Members of the ISR (the leader among them).
    pub isr: usize,
    /// Replicas of the assignment.
    pub replicas: usize,
    /// The leader epoch it is led at.
    pub leader_epoch: i32,
}

/// A replicated partition this core leads, as the cluster snapshot describes it.
#[derive(Clone)]
pub struct Led {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The leader epoch it is led at.
    pub leader_epoch: i32,
    /// Replicas of the assignment.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// The topic's id (for AlterPartition).
    pub topic_id: uuid::Uuid,
    /// The partition epoch of the image it was installed from.
    pub partition_epoch: i32,
    /// Its log on this core.
    pub log: Rc<PartitionLog>,
}

pub(super) struct Entry {
    pub(super) led: Led,
    pub(super) followers: Vec<Follower>,
    /// When this leadership began (the caught-up time of ISR members that have not fetched).
    pub(super) since: Instant,
    /// The leader's log end offset when this leadership began (Kafka's
    /// `leaderEpochStartOffsetOpt`): a follower joins the ISR only once past it.
    pub(super) epoch_start: i64,
    /// The ISR change in flight, if any (one per partition).
    pub(super) pending: Option<super::isr::Pending>,
}

/// The leader's progress table of one core (see the module comment).
pub struct Progress {
    pub(super) me: i32,
    pub(super) parts: RefCell<HashMap<(String, i32), Entry>>,
    /// Woken when a follower outside the ISR may join it (the ISR task checks at once).
    pub(super) expand: crate::storage::signal::Signal,
    /// Woken after every [`Progress::sync`] (acks=all waits see a lost leadership or a
    /// smaller ISR).
    pub(super) synced: crate::storage::signal::Signal,
}

impl Progress {
    /// The table of broker `me`.
    pub fn new(me: i32) -> Progress {
        Progress {
            me,
            parts: RefCell::new(HashMap::new()),
            expand: crate::storage::signal::Signal::new(),
            synced: crate::storage::signal::Signal::new(),
        }
    }

    /// Installs the partitions this core now leads (`led`): an entry is kept while its leader
    /// epoch and replicas stay, reset when they change (a new leadership starts with every
    /// follower unknown, as Kafka's), dropped when the partition is no longer led here. Each
    /// new entry starts its high watermark where the log's visible offset is.
    pub fn sync(&self, led: Vec<Led>) {
        let mut parts = self.parts.borrow_mut();
        let mut next = HashMap::with_capacity(led.len());
        for l in led {
            let key = (l.topic.clone(), l.partition);
            let entry = match parts.remove(&key) {
                Some(mut e)
                    if e.led.leader_epoch == l.leader_epoch
                        && e.led.replicas == l.replicas
                        && Rc::ptr_eq(&e.led.log, &l.log) =>
                {
                    if e.led.partition_epoch != l.partition_epoch {
                        // The image changed the partition: a proposal in flight is answered.
                        e.pending = None;
                    }
                    e.led.isr = l.isr;
                    e.led.partition_epoch = l.partition_epoch;
                    e
                }
                _ => {
                    // Held where it is until the ISR's followers report.
                    l.log.set_high_watermark(Some(l.log.high_watermark()));
                    let followers = l
                        .replicas
                        .iter()
                        .filter(|&&id| id != self.me)
                        .map(|&id| Follower {
                            id,
                            log_end: UNKNOWN,
                            caught_up: None,
                            last_fetch: None,
                        })
                        .collect();
                    let epoch_start = l.log.log_end_offset();
                    Entry {
                        led: l,
                        followers,
                        since: Instant::now(),
                        epoch_start,
                        pending: None,
                    }
                }
            };
            advance(&entry, self.me);
            next.insert(key, entry);
        }
        *parts = next;
        drop(parts);
        self.synced.notify_all();
    }

    /// Records a fetch of follower `replica` at `offset` for `topic`/`partition` and moves the
    /// high watermark. NOT_LEADER_OR_FOLLOWER when this core does not lead the partition or
    /// `replica` is not one of its replicas (as Kafka's leader answers an unknown replica).
    pub fn record(
        &self,
        topic: &str,
        partition: i32,
        replica: i32,
        offset: i64,
        now: Instant,
    ) -> Result<(), KafkaError> {
        let mut parts = self.parts.borrow_mut();
        let entry = parts
            .get_mut(&(topic.to_string(), partition))
            .ok_or(KafkaError::NotLeaderOrFollower)?;
        let end = entry.led.log.log_end_offset();
        let f = entry
            .followers
            .iter_mut()
            .find(|f| f.id == replica)
            .ok_or(KafkaError::NotLeaderOrFollower)?;
        f.log_end = offset;
        // Kafka's `Replica.updateFetchStateOrThrow`: caught up now when the fetch reaches the
        // log end, or as of the previous fetch when it reaches the log end of that time.
        if offset >= end {
            f.caught_up = Some(now);
        } else if let Some((prev_end, at)) = f.last_fetch {
            if offset >= prev_end {
                f.caught_up = Some(f.caught_up.map_or(at, |c| c.max(at)));
            }
        }
        f.last_fetch = Some((end, now));
        let outside = !entry.led.isr.contains(&replica);
        advance(entry, self.me);
        if outside && offset >= entry.led.log.high_watermark() && offset >= entry.epoch_start {
            self.expand.notify_all();
        }
        Ok(())
    }

    /// The followers of `topic`/`partition` as recorded (empty when not led here).
    pub fn followers(&self, topic: &str, partition: i32) -> Vec<Follower> {
        self.parts
            .borrow()
            .get(&(topic.to_string(), partition))
            .map(|e| e.followers.clone())
            .unwrap_or_default()
    }

    /// The ISR size, replica count and leader epoch of `topic`/`partition` when it is a
    /// replicated partition led here.
    pub fn isr_size(&self, topic: &str, partition: i32) -> Option<IsrSize> {
        self.parts
            .borrow()
            .get(&(topic.to_string(), partition))
            .map(|e| IsrSize {
                isr: e.led.isr.len(),
                replicas: e.led.replicas.len(),
                leader_epoch: e.led.leader_epoch,
            })
    }

    /// Partitions led here whose ISR is smaller than their effective minimum ISR:
    /// `min_isr(topic)` capped by the replica count (as the `acks=all` check).
    pub fn under_min_isr(&self, min_isr: impl Fn(&str) -> i64) -> usize {
        self.parts
            .borrow()
            .iter()
            .filter(|((topic, _), e)| {
                let needed = min_isr(topic).max(1).min(e.led.replicas.len() as i64);
                (e.led.isr.len() as i64) < needed
            })
            .count()
    }

    /// Partitions led here whose ISR is smaller than their replica set.
    pub fn under_replicated(&self) -> usize {
        self.parts
            .borrow()
            .values()
            .filter(|e| e.led.isr.len() < e.led.replicas.len())
            .count()
    }
}

/// Moves the high watermark of `entry`'s log to the smallest log end offset of the other ISR
/// members, when every one of them has reported and it is ahead of the current one.
pub(super) fn advance(entry: &Entry, me: i32) {
    let log = &entry.led.log;
    let mut others = entry.led.isr.iter().filter(|&&id| id != me).peekable();
    if others.peek().is_none() {
        // The leader alone is the ISR: the visible offset follows its durable offset.
        log.set_high_watermark(None);
        return;
    }
    let mut min = i64::MAX;
    for id in others {
        match entry.followers.iter().find(|f| f.id == *id) {
            Some(f) if f.log_end >= 0 => min = min.min(f.log_end),
            // A member that has not fetched yet (or is not a replica): hold.
            _ => return,
        }
    }
    if min > log.high_watermark() {
        log.set_high_watermark(Some(min));
    }
}

/// The high watermark a follower sets from a fetch answer: the leader's, but never above its
/// own log end offset (Kafka's `min(leaderHighWatermark, logEndOffset)`).
pub fn follower_high_watermark(leader_hw: i64, log_end: i64) -> i64 {
    leader_hw.min(log_end).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follower_hw_is_capped_by_its_log_end() {
        assert_eq!(follower_high_watermark(10, 7), 7);
        assert_eq!(follower_high_watermark(5, 7), 5);
        assert_eq!(follower_high_watermark(-1, 7), 0);
    }
}
