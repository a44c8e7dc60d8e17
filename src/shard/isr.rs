//! ISR changes made by a partition's leader (docs/replication.md step 5; Kafka's
//! `Partition.maybeShrinkIsr` / `maybeExpandIsr` and AlterPartition, KIP-497/KIP-841).
//!
//! One task per core looks at the leader's progress table ([`Progress`]) every half of
//! `replica.lag.time.max.ms` (and at once when a fetch brings a follower outside the ISR up to
//! the high watermark): an ISR member other than the leader whose last catch-up with the
//! leader's log end is older than `replica.lag.time.max.ms` leaves the ISR; a replica outside
//! it whose log end reached the high watermark and the start of the leader's current epoch
//! joins it. The new ISR is proposed as an `AlterPartitionRecord` with the leader epoch and
//! partition epoch the core's image showed, through core 0's controller quorum
//! ([`AlterIsrCall`]); it takes effect when the core's image shows it (the progress table is
//! rebuilt from each snapshot, and the high watermark follows the new ISR at once).
//!
//! One proposal per partition is in flight ([`Pending`]): it ends when the image shows a new
//! partition epoch; a refused or failed proposal waits (a stale one for the next image) and is
//! retried no sooner than one more turn per earlier attempt (at most [`MAX_BACKOFF_TURNS`]).

use std::rc::Rc;
use std::time::{Duration, Instant};

use runnel_controller::records::AlterPartitionRecord;
use runnel_controller::{ControllerError, MetadataRecord, RecordBatch, RejectReason};

use super::call::CoreCall;
use super::replica_progress::{Follower, Progress};
use super::{Mesh, MetadataAdmin, PartitionStore};

/// The longest wait between two proposals for one partition, in turns of the task.
pub const MAX_BACKOFF_TURNS: u32 = 10;

/// An ISR change in flight for one partition.
#[derive(Debug, Clone)]
pub struct Pending {
    /// No new proposal before this time.
    until: Instant,
    /// Proposals made at this partition epoch.
    attempts: u32,
    /// Replicas the proposal in flight adds (part of Kafka's maximal ISR for the high
    /// watermark until the proposal is answered); empty once it was refused or failed.
    pub(super) added: Vec<i32>,
}

/// One ISR change to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The record to propose (its broker epoch filled in by the task).
    pub record: AlterPartitionRecord,
    /// Replicas leaving the ISR.
    pub removed: Vec<i32>,
    /// Replicas joining it.
    pub added: Vec<i32>,
}

impl Progress {
    /// The ISR changes due at `now` with `lag` as `replica.lag.time.max.ms`; each proposed
    /// partition is marked in flight until `now + wait` (see the module comment).
    pub fn isr_proposals(&self, now: Instant, lag: Duration, wait: Duration) -> Vec<Proposal> {
        let mut out = Vec::new();
        for ((topic, partition), e) in self.parts.borrow_mut().iter_mut() {
            if e.pending.as_ref().is_some_and(|p| now < p.until) {
                continue;
            }
            let (removed, added) = decide(
                &e.led.isr,
                &e.followers,
                Window {
                    me: self.me,
                    since: e.since,
                    epoch_start: e.epoch_start,
                    hw: e.led.log.high_watermark(),
                    now,
                    lag,
                },
            );
            if removed.is_empty() && added.is_empty() {
                continue;
            }
            let mut isr: Vec<i32> = e
                .led
                .isr
                .iter()
                .copied()
                .filter(|id| !removed.contains(id))
                .collect();
            isr.extend(added.iter().copied());
            let attempts = e.pending.as_ref().map_or(0, |p| p.attempts) + 1;
            e.pending = Some(Pending {
                until: now + wait * attempts.min(MAX_BACKOFF_TURNS),
                attempts,
                added: added.clone(),
            });
            out.push(Proposal {
                topic: topic.clone(),
                partition: *partition,
                record: AlterPartitionRecord {
                    topic_id: e.led.topic_id,
                    partition: *partition,
                    leader: self.me,
                    broker_epoch: 0,
                    leader_epoch: e.led.leader_epoch,
                    partition_epoch: e.led.partition_epoch,
                    isr,
                },
                removed,
                added,
            });
        }
        out
    }

    /// A proposal for `topic`/`partition` was refused as stale (the image already moved on):
    /// the next image ends the wait (it clears the pending change); until then, the longest
    /// backoff.
    pub fn isr_stale(&self, topic: &str, partition: i32, wait: Duration) {
        if let Some(e) = self
            .parts
            .borrow_mut()
            .get_mut(&(topic.to_string(), partition))
        {
            if let Some(p) = e.pending.as_mut() {
                p.attempts = MAX_BACKOFF_TURNS;
                p.until = Instant::now() + wait * MAX_BACKOFF_TURNS;
                p.added.clear();
            }
        }
    }

    /// A proposal for `topic`/`partition` failed: the replicas it would have added no longer
    /// count for the high watermark (Kafka reverts its maximal ISR).
    pub fn isr_failed(&self, topic: &str, partition: i32) {
        if let Some(e) = self
            .parts
            .borrow_mut()
            .get_mut(&(topic.to_string(), partition))
        {
            if let Some(p) = e.pending.as_mut() {
                p.added.clear();
            }
        }
    }
}

/// What the ISR decision of one partition is made against.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The leader (never removed).
    me: i32,
    /// When the leadership began.
    since: Instant,
    /// The leader's log end when it began.
    epoch_start: i64,
    /// The high watermark now.
    hw: i64,
    now: Instant,
    /// `replica.lag.time.max.ms`.
    lag: Duration,
}

/// Kafka's `getOutOfSyncReplicas` and `isFollowerInSync`: the ISR members (other than the
/// leader) not caught up within `lag`, and the replicas outside the ISR whose log end reached
/// the high watermark and the start of the leadership.
fn decide(isr: &[i32], followers: &[Follower], w: Window) -> (Vec<i32>, Vec<i32>) {
    let lagging = |id: i32| {
        let f = followers.iter().find(|f| f.id == id);
        let last = f.and_then(|f| f.caught_up).unwrap_or(w.since).max(w.since);
        w.now.saturating_duration_since(last) > w.lag
    };
    let removed = isr
        .iter()
        .copied()
        .filter(|&id| id != w.me && lagging(id))
        .collect();
    let added = followers
        .iter()
        .filter(|f| !isr.contains(&f.id))
        .filter(|f| f.log_end >= w.hw && f.log_end >= w.epoch_start)
        .map(|f| f.id)
        .collect();
    (removed, added)
}

/// Proposes an ISR change through the controller quorum; runs on core 0, the core that holds
/// it. The answer is the controller's refusal, if any.
#[derive(Debug)]
pub struct AlterIsrCall(pub AlterPartitionRecord);

/// Why an ISR proposal did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterIsrError {
    /// Made against an older image (InvalidUpdateVersion, FencedLeaderEpoch, NotLeader,
    /// StaleBrokerEpoch): wait for the next one.
    Stale(String),
    /// Anything else (no quorum on core 0, the controller unavailable, an ineligible replica).
    Failed(String),
}

impl CoreCall for AlterIsrCall {
    type Reply = Result<(), AlterIsrError>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let Some(q) = admin.quorum() else {
            return Err(AlterIsrError::Failed("no controller quorum".into()));
        };
        let batch = RecordBatch::one(MetadataRecord::AlterPartition(self.0));
        match q.propose_raw(batch).await {
            Ok(()) => Ok(()),
            Err(ControllerError::Rejected(
                r @ (RejectReason::InvalidUpdateVersion(_)
                | RejectReason::FencedLeaderEpoch(_)
                | RejectReason::NotLeader(_)
                | RejectReason::StaleBrokerEpoch(_)),
            )) => Err(AlterIsrError::Stale(r.to_string())),
            Err(e) => Err(AlterIsrError::Failed(e.to_string())),
        }
    }
}

/// Starts this core's ISR task (see the module comment).
pub fn start(store: &Rc<PartitionStore>, mesh: &Rc<Mesh>) {
    let (store, mesh) = (store.clone(), mesh.clone());
    glommio::spawn_local(async move {
        loop {
            // Read each turn: the broker's settings may be reloaded.
            let lag = Duration::from_millis(store.view().config().replica_fetch.lag_time_max_ms);
            let every = lag / 2;
            store.progress.set_lag(lag);
            {
                let woken = store.progress.expand.wait();
                let timer = glommio::timer::sleep(every);
                futures_lite::future::or(woken, timer).await;
            }
            let proposals = store.progress.isr_proposals(Instant::now(), lag, every);
            for p in proposals {
                propose(&store, &mesh, p, every).await;
            }
        }
    })
    .detach();
}

async fn propose(store: &PartitionStore, mesh: &Mesh, mut p: Proposal, wait: Duration) {
    let me = p.record.leader;
    let Some(epoch) = store.cluster().state().image.broker(me).map(|b| b.epoch) else {
        return;
    };
    p.record.broker_epoch = epoch;
    let isr = p.record.isr.clone();
    let answer = mesh.call(0, AlterIsrCall(p.record)).await;
    match answer {
        Ok(Ok(())) => {
            tracing::info!(topic = %p.topic, partition = p.partition, ?isr, removed = ?p.removed, added = ?p.added, "ISR changed");
            if !p.removed.is_empty() {
                crate::metrics::hooks::isr_change(true);
            }
            if !p.added.is_empty() {
                crate::metrics::hooks::isr_change(false);
            }
        }
        Ok(Err(AlterIsrError::Stale(why))) => {
            tracing::debug!(topic = %p.topic, partition = p.partition, %why, "ISR change refused as stale; waiting for the next image");
            store.progress.isr_stale(&p.topic, p.partition, wait);
        }
        Ok(Err(AlterIsrError::Failed(why))) => {
            tracing::warn!(topic = %p.topic, partition = p.partition, %why, "ISR change not made");
            store.progress.isr_failed(&p.topic, p.partition);
        }
        Err(_) => {
            tracing::warn!(topic = %p.topic, partition = p.partition, "ISR change not sent to core 0");
            store.progress.isr_failed(&p.topic, p.partition);
        }
    }
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

    fn window(since: Instant, now: Instant) -> Window {
        Window {
            me: 1,
            since,
            epoch_start: 10,
            hw: 20,
            now,
            lag: Duration::from_secs(30),
        }
    }

    #[test]
    fn lagging_members_leave_but_never_the_leader() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(40);
        let followers = [
            f(2, 20, Some(t0 + Duration::from_secs(35))),
            f(3, 5, Some(t0)),
        ];
        let (removed, added) = decide(&[1, 2, 3], &followers, window(t0, now));
        assert_eq!(removed, vec![3]);
        assert!(added.is_empty());
        // Nothing lags within the window, even members that never fetched (counted from the
        // start of the leadership).
        let (removed, _) = decide(
            &[1, 2, 3],
            &[f(2, -1, None), f(3, -1, None)],
            window(t0, t0),
        );
        assert!(removed.is_empty());
        let (removed, _) = decide(
            &[1, 2, 3],
            &[f(2, -1, None), f(3, 20, Some(now))],
            window(t0, now),
        );
        assert_eq!(removed, vec![2]);
    }

    #[test]
    fn caught_up_replicas_join() {
        let t0 = Instant::now();
        let w = window(t0, t0);
        let followers = [f(2, 20, Some(t0)), f(3, 19, Some(t0))];
        let (removed, added) = decide(&[1], &followers, w);
        assert!(removed.is_empty());
        assert_eq!(added, vec![2], "3 is below the high watermark");
        // Past the high watermark but not the start of the leadership: not yet.
        let w = Window { hw: 5, ..w };
        let (_, added) = decide(&[1], &[f(2, 8, Some(t0))], w);
        assert!(added.is_empty());
    }
}
