//! The leader's record of its followers (docs/replication.md step 4): for each replicated
//! partition this core leads, one entry per replica of its assignment with the follower's log
//! end offset (the offset of its last fetch) and the time it last caught up with the leader's
//! log end. The high watermark (the log's visible offset) moves as Kafka's
//! `Partition.maybeIncrementLeaderHW` moves it ([`candidate`]): to the smallest log end offset
//! of the other members of the *maximal* ISR (the ISR and the replicas a proposal in flight
//! adds) and of the replicas outside it that are caught up (within `replica.lag.time.max.ms`)
//! and eligible (registered, not fenced) to join; held while a member has not fetched since
//! the leadership began; never above the leader's durable offset (the log caps it) and never
//! going back. With no such replica it follows the durable offset (the leader alone).
//!
//! A new leadership keeps the high watermark the log had (the one it learned as a follower, or
//! the checkpointed one after a restart, [`super::hw_checkpoint`]), as Kafka's `makeLeader`:
//! records of earlier epochs above it become visible only once every ISR member fetched past
//! them from this leader (a follower whose log diverges is answered with the diverging epoch
//! and its offset is not recorded until it truncated), so no record is exposed that an ISR
//! member lacks. Kafka has no rule that holds the high watermark until a record of the current
//! epoch is committed (that is Raft's); neither does Runnel.
//!
//! The ISR decisions made from this table (which follower leaves or joins the ISR) are in
//! [`super::isr`].
//!
//! Bounded: entries exist only for partitions this core leads with more than one replica
//! (rebuilt at every cluster snapshot and table install, [`Progress::sync`]), each with one
//! slot per replica of the assignment.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

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
    /// Replicas registered and unfenced in the image (Kafka's `isReplicaIsrEligible`).
    pub eligible: Vec<i32>,
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
    /// `replica.lag.time.max.ms`: how recently a replica outside the ISR must have caught up
    /// to hold the high watermark while it joins.
    lag: Cell<Duration>,
}

impl Progress {
    /// The table of broker `me`, with `lag` as `replica.lag.time.max.ms`.
    pub fn new(me: i32, lag: Duration) -> Progress {
        Progress {
            me,
            parts: RefCell::new(HashMap::new()),
            expand: crate::storage::signal::Signal::new(),
            synced: crate::storage::signal::Signal::new(),
            lag: Cell::new(lag),
        }
    }

    /// Sets `replica.lag.time.max.ms` and moves every high watermark that time alone may move
    /// (a replica waiting to join stops holding it once it has not caught up for that long);
    /// the ISR task calls it each turn.
    pub fn set_lag(&self, lag: Duration) {
        self.lag.set(lag);
        let now = Instant::now();
        for e in self.parts.borrow().values() {
            advance(e, self.me, lag, now);
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
                    e.led.eligible = l.eligible;
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
            advance(&entry, self.me, self.lag.get(), Instant::now());
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
        advance(entry, self.me, self.lag.get(), now);
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

/// Where Kafka's `maybeIncrementLeaderHW` would put the high watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// No other replica counts: the high watermark is the leader's (durable) log end.
    LeaderEnd,
    /// A member of the maximal ISR has not fetched since the leadership began: hold it.
    Hold,
    /// The smallest log end offset of the replicas that count.
    At(i64),
}

/// What the high watermark is computed from (one partition, at one time).
#[derive(Debug, Clone, Copy)]
pub struct HwInputs<'a> {
    /// The leader.
    pub me: i32,
    /// The ISR.
    pub isr: &'a [i32],
    /// Replicas a proposal in flight adds to it (Kafka's maximal ISR is both).
    pub adding: &'a [i32],
    /// Replicas eligible to join the ISR.
    pub eligible: &'a [i32],
    /// The leader's log end offset.
    pub leader_end: i64,
    /// `replica.lag.time.max.ms`.
    pub lag: Duration,
    /// Now.
    pub now: Instant,
}

/// Kafka's `maybeIncrementLeaderHW`: the smallest log end offset of the other members of the
/// maximal ISR and of the caught-up, eligible replicas outside it (Kafka's
/// `shouldWaitForReplicaToJoinIsr`, so that a joining replica is not outrun).
pub fn candidate(followers: &[Follower], w: HwInputs<'_>) -> Target {
    let mut min: Option<i64> = None;
    for f in followers.iter().filter(|f| f.id != w.me) {
        let member = w.isr.contains(&f.id) || w.adding.contains(&f.id);
        if member {
            if f.log_end < 0 {
                return Target::Hold;
            }
        } else {
            let caught_up = f.log_end >= 0
                && (f.log_end >= w.leader_end
                    || f.caught_up
                        .is_some_and(|c| w.now.saturating_duration_since(c) <= w.lag));
            if !(caught_up && w.eligible.contains(&f.id)) {
                continue;
            }
        }
        min = Some(min.map_or(f.log_end, |m| m.min(f.log_end)));
    }
    // An ISR member that is not among the replicas (a stale image) holds too.
    if w.isr
        .iter()
        .any(|id| *id != w.me && !followers.iter().any(|f| f.id == *id))
    {
        return Target::Hold;
    }
    min.map_or(Target::LeaderEnd, Target::At)
}

/// Moves the high watermark of `entry`'s log to [`candidate`]'s, never back.
pub(super) fn advance(entry: &Entry, me: i32, lag: Duration, now: Instant) {
    let log = &entry.led.log;
    let adding = entry.pending.as_ref().map_or(&[][..], |p| &p.added[..]);
    let target = candidate(
        &entry.followers,
        HwInputs {
            me,
            isr: &entry.led.isr,
            adding,
            eligible: &entry.led.eligible,
            leader_end: log.log_end_offset(),
            lag,
            now,
        },
    );
    match target {
        // The leader alone: the visible offset follows its durable offset.
        Target::LeaderEnd => log.set_high_watermark(None),
        Target::Hold => {}
        Target::At(min) => {
            let hw = log.high_watermark();
            if min > hw {
                log.set_high_watermark(Some(min));
            } else if !log.high_watermark_is_set() {
                // It followed the durable offset: pin it where it is.
                log.set_high_watermark(Some(hw));
            }
        }
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

    fn f(id: i32, log_end: i64, caught_up: Option<Instant>) -> Follower {
        Follower {
            id,
            log_end,
            caught_up,
            last_fetch: None,
        }
    }

    fn inputs<'a>(isr: &'a [i32], adding: &'a [i32], now: Instant) -> HwInputs<'a> {
        HwInputs {
            me: 1,
            isr,
            adding,
            eligible: &[1, 2, 3],
            leader_end: 100,
            lag: Duration::from_secs(30),
            now,
        }
    }

    #[test]
    fn hw_is_the_smallest_log_end_of_the_maximal_isr() {
        let t0 = Instant::now();
        let old = Some(t0);
        let now = t0 + Duration::from_secs(60);
        // Both followers in the ISR: the smaller log end.
        let fs = [f(2, 40, old), f(3, 70, old)];
        assert_eq!(candidate(&fs, inputs(&[1, 2, 3], &[], now)), Target::At(40));
        // A member that has not fetched in this leadership holds it.
        let fs = [f(2, -1, None), f(3, 70, old)];
        assert_eq!(candidate(&fs, inputs(&[1, 2, 3], &[], now)), Target::Hold);
        // 2 is out of the ISR and lagging for long: it does not count.
        let fs = [f(2, 10, old), f(3, 70, old)];
        assert_eq!(candidate(&fs, inputs(&[1, 3], &[], now)), Target::At(70));
        // ...unless a proposal in flight adds it (the maximal ISR).
        assert_eq!(candidate(&fs, inputs(&[1, 3], &[2], now)), Target::At(10));
        // The leader alone, no replica waiting to join: the leader's end.
        assert_eq!(candidate(&fs, inputs(&[1], &[], now)), Target::LeaderEnd);
    }

    #[test]
    fn caught_up_eligible_replicas_hold_it_while_they_join() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(10);
        // 2 is outside the ISR but caught up 10 s ago (lag 30 s): it holds the HW at 60.
        let fs = [f(2, 60, Some(t0)), f(3, 90, Some(now))];
        assert_eq!(candidate(&fs, inputs(&[1, 3], &[], now)), Target::At(60));
        // Not eligible (fenced): it does not.
        let w = HwInputs {
            eligible: &[1, 3],
            ..inputs(&[1, 3], &[], now)
        };
        assert_eq!(candidate(&fs, w), Target::At(90));
        // At the leader's end counts as caught up whatever the time.
        let fs = [f(2, 100, None)];
        assert_eq!(candidate(&fs, inputs(&[1], &[], now)), Target::At(100));
        // Never fetched: nothing to wait for.
        let fs = [f(2, -1, None)];
        assert_eq!(candidate(&fs, inputs(&[1], &[], now)), Target::LeaderEnd);
    }

    #[test]
    fn follower_hw_is_capped_by_its_log_end() {
        assert_eq!(follower_high_watermark(10, 7), 7);
        assert_eq!(follower_high_watermark(5, 7), 5);
        assert_eq!(follower_high_watermark(-1, 7), 0);
    }
}
