//! Broker lifecycle on the active controller: heartbeats, fencing after
//! `broker.session.timeout.ms` without one, unfencing on the next, and the partition leadership
//! changes that go with both. Pure: time is passed in, and the result is record batches for the
//! controller to propose.
//!
//! The state is one entry per registered broker (entries of brokers no longer in the image are
//! dropped), and it lives only on the leader: a new leader gives every broker a full session
//! from the moment it took over before fencing it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::image::{MetadataImage, RejectReason};
use crate::records::*;

/// Kafka's default `broker.session.timeout.ms`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_millis(9000);

/// Heartbeat tracking of the active controller.
#[derive(Debug)]
pub struct Lifecycle {
    session_timeout: Duration,
    /// Since when this node leads (`None`: not the leader).
    leading_since: Option<Instant>,
    /// Last heartbeat (or fence proposal) per broker, with the epoch it was for.
    last_seen: HashMap<BrokerId, (u64, Instant)>,
    /// Brokers in a controlled shutdown, with the epoch they stop at: a late heartbeat of that
    /// epoch must not unfence them again.
    stopping: HashMap<BrokerId, u64>,
    /// The static broker default of `unclean.leader.election.enable`.
    unclean_default: bool,
}

impl Lifecycle {
    /// Tracking with the given session timeout.
    pub fn new(session_timeout: Duration) -> Lifecycle {
        Lifecycle {
            session_timeout,
            leading_since: None,
            last_seen: HashMap::new(),
            stopping: HashMap::new(),
            unclean_default: false,
        }
    }

    /// Sets the static broker default of `unclean.leader.election.enable` (a topic's config
    /// overrides it): whether a fence may elect a replica outside
    /// the ISR of a partition whose ISR has no other unfenced member.
    pub fn with_unclean_default(mut self, unclean: bool) -> Lifecycle {
        self.unclean_default = unclean;
        self
    }

    /// This node became (`true`) or stopped being (`false`) the leader.
    pub fn set_leader(&mut self, leader: bool, now: Instant) {
        match (leader, self.leading_since) {
            (true, None) => self.leading_since = Some(now),
            (false, Some(_)) => {
                self.leading_since = None;
                self.last_seen.clear();
                self.stopping.clear();
            }
            _ => {}
        }
    }

    /// A heartbeat from `broker` at `epoch`: the batch that unfences it, when it is fenced.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        broker: BrokerId,
        epoch: u64,
        now: Instant,
    ) -> Result<Option<RecordBatch>, RejectReason> {
        let reg = image
            .broker(broker)
            .ok_or(RejectReason::UnknownBroker(broker))?;
        if reg.epoch != epoch || self.stopping.get(&broker) == Some(&epoch) {
            return Err(RejectReason::StaleBrokerEpoch(broker));
        }
        self.last_seen.insert(broker, (epoch, now));
        Ok(reg.fenced.then(|| unfence_batch(image, broker, epoch)))
    }

    /// A controlled shutdown of `broker` at `epoch` (Kafka's heartbeat with `wantShutDown`):
    /// the batch that fences it now, with the same partition changes as a session's expiry, or
    /// `None` when it is fenced already.
    pub fn shutdown(
        &mut self,
        image: &MetadataImage,
        broker: BrokerId,
        epoch: u64,
    ) -> Result<Option<RecordBatch>, RejectReason> {
        let reg = image
            .broker(broker)
            .ok_or(RejectReason::UnknownBroker(broker))?;
        if reg.epoch != epoch {
            return Err(RejectReason::StaleBrokerEpoch(broker));
        }
        self.stopping.insert(broker, epoch);
        Ok((!reg.fenced).then(|| fence_batch(image, broker, epoch, self.unclean_default)))
    }

    /// The batches that fence brokers whose session expired at `now`. A broker is given a new
    /// session after its fence is proposed, so a lost proposal is retried a session later.
    pub fn expired(&mut self, image: &MetadataImage, now: Instant) -> Vec<RecordBatch> {
        let Some(since) = self.leading_since else {
            return Vec::new();
        };
        self.last_seen
            .retain(|id, (epoch, _)| image.broker(*id).is_some_and(|b| b.epoch == *epoch));
        self.stopping
            .retain(|id, epoch| image.broker(*id).is_some_and(|b| b.epoch == *epoch));
        let mut out = Vec::new();
        for reg in image.brokers().values().filter(|b| !b.fenced) {
            let last = self
                .last_seen
                .get(&reg.id)
                .map(|(_, t)| *t)
                .unwrap_or(since)
                .max(since);
            if now.saturating_duration_since(last) > self.session_timeout {
                self.last_seen.insert(reg.id, (reg.epoch, now));
                out.push(fence_batch(image, reg.id, reg.epoch, self.unclean_default));
            }
        }
        out
    }

    /// A registration of a new incarnation of a broker whose old incarnation is registered and
    /// unfenced: the batch that fences the old one first when it has no session with this
    /// leader (no heartbeat since this node took over), as Kafka's controller lets a restarted
    /// broker replace a registration without a live session. `None` when there is nothing to
    /// replace, or the old incarnation heartbeats (then the registration is refused as a
    /// duplicate `node.id` until its session expires).
    pub fn replace_sessionless(
        &self,
        image: &MetadataImage,
        registration: &RegisterBrokerRecord,
    ) -> Option<RecordBatch> {
        self.leading_since?;
        let old = image
            .broker(registration.broker_id)
            .filter(|b| !b.fenced && b.incarnation_id != registration.incarnation_id)?;
        let heard = self
            .last_seen
            .get(&old.id)
            .is_some_and(|(epoch, _)| *epoch == old.epoch);
        (!heard).then(|| fence_batch(image, old.id, old.epoch, self.unclean_default))
    }

    /// Brokers tracked (bounded by the registered brokers).
    pub fn tracked(&self) -> usize {
        self.last_seen.len() + self.stopping.len()
    }
}

/// Fences `broker`: it leaves the ISR of every partition where others remain, and partitions it
/// leads get the first other unfenced ISR member as leader, or none: unless the topic allows
/// unclean elections (`unclean.leader.election.enable`, `unclean_default` when the topic does
/// not set it), then the first other unfenced replica leads
/// and is the whole ISR (Kafka's unclean election; what it lacks of the log is lost).
pub fn fence_batch(
    image: &MetadataImage,
    broker: BrokerId,
    epoch: u64,
    unclean_default: bool,
) -> RecordBatch {
    let mut records = vec![MetadataRecord::FenceBroker(FenceBrokerRecord {
        broker_id: broker,
        broker_epoch: epoch,
    })];
    let eligible = |b: &BrokerId| *b != broker && image.broker(*b).is_some_and(|r| !r.fenced);
    for topic in image.topics() {
        for (i, p) in topic.partitions.iter().enumerate() {
            if p.leader != broker && !p.isr.contains(&broker) {
                continue;
            }
            let mut isr: Vec<BrokerId> = p.isr.iter().copied().filter(|b| *b != broker).collect();
            if isr.is_empty() {
                isr = p.isr.clone();
            }
            let mut leader = if p.leader == broker || p.leader == NO_LEADER {
                isr.iter().copied().find(eligible).unwrap_or(NO_LEADER)
            } else {
                p.leader
            };
            if leader == NO_LEADER && crate::elect::unclean_allowed(image, topic, unclean_default) {
                if let Some(b) = p.replicas.iter().copied().find(eligible) {
                    tracing::warn!(
                        "unclean election: broker {b} leads {}-{i} from outside its ISR {:?}",
                        topic.name,
                        p.isr
                    );
                    leader = b;
                    isr = vec![b];
                }
            }
            records.push(MetadataRecord::PartitionChange(PartitionChangeRecord {
                topic_id: topic.topic_id,
                partition: i as i32,
                leader: Some(leader),
                isr: (isr != p.isr).then_some(isr),
                replicas: None,
            }));
        }
    }
    RecordBatch { records }
}

/// Unfences `broker`: partitions without a leader whose ISR has it are led by it again.
pub fn unfence_batch(image: &MetadataImage, broker: BrokerId, epoch: u64) -> RecordBatch {
    let mut records = vec![MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
        broker_id: broker,
        broker_epoch: epoch,
    })];
    for topic in image.topics() {
        for (i, p) in topic.partitions.iter().enumerate() {
            if p.leader == NO_LEADER && p.isr.contains(&broker) {
                records.push(MetadataRecord::PartitionChange(PartitionChangeRecord {
                    topic_id: topic.topic_id,
                    partition: i as i32,
                    leader: Some(broker),
                    isr: None,
                    replicas: None,
                }));
            }
        }
    }
    RecordBatch { records }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn image_with(brokers: &[BrokerId], assignments: &[Vec<BrokerId>]) -> MetadataImage {
        let mut image = MetadataImage::default();
        let mut index = 0;
        for &id in brokers {
            index += 1;
            let reg = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                broker_id: id,
                incarnation_id: Uuid::from_u128(id as u128),
                endpoints: vec![Endpoint {
                    name: "PLAINTEXT".into(),
                    host: "h".into(),
                    port: 1,
                    security_protocol: "PLAINTEXT".into(),
                }],
                rack: None,
            });
            image = image.apply(&RecordBatch::one(reg), index).unwrap();
            index += 1;
            image = image
                .apply(&unfence_batch(&image, id, index - 1), index)
                .unwrap();
        }
        let batch = RecordBatch::create_topic("t", Uuid::from_u128(7), assignments, &[]);
        image.apply(&batch, index + 1).unwrap()
    }

    #[test]
    fn a_restarted_broker_replaces_a_registration_without_a_session() {
        let image = image_with(&[1, 2], &[vec![1], vec![2]]);
        let t0 = Instant::now();
        let mut lc = Lifecycle::new(Duration::from_secs(9));
        let again = |id: BrokerId| RegisterBrokerRecord {
            broker_id: id,
            incarnation_id: Uuid::from_u128(1000 + id as u128),
            endpoints: Vec::new(),
            rack: None,
        };
        assert!(
            lc.replace_sessionless(&image, &again(1)).is_none(),
            "only the leader decides"
        );
        lc.set_leader(true, t0);
        // Broker 2 heartbeats to this leader; broker 1 (killed) does not.
        let epoch2 = image.broker(2).unwrap().epoch;
        lc.heartbeat(&image, 2, epoch2, t0).unwrap();
        assert!(
            lc.replace_sessionless(&image, &again(2)).is_none(),
            "a live session is a duplicate node.id"
        );
        let same = RegisterBrokerRecord {
            incarnation_id: Uuid::from_u128(1),
            ..again(1)
        };
        assert!(lc.replace_sessionless(&image, &same).is_none(), "same run");
        let fence = lc.replace_sessionless(&image, &again(1)).unwrap();
        let image = image.apply(&fence, 100).unwrap();
        assert!(image.broker(1).unwrap().fenced);
        assert_eq!(
            image.topic_by_name("t").unwrap().partitions[0].leader,
            NO_LEADER
        );
        assert!(
            lc.replace_sessionless(&image, &again(1)).is_none(),
            "fenced: nothing to replace"
        );
    }

    #[test]
    fn fences_after_the_session_and_unfences_on_heartbeat() {
        let image = image_with(&[1, 2], &[vec![1], vec![2], vec![1, 2]]);
        let t0 = Instant::now();
        let mut lc = Lifecycle::new(Duration::from_secs(9));
        assert!(
            lc.expired(&image, t0 + Duration::from_secs(60)).is_empty(),
            "not leader"
        );
        lc.set_leader(true, t0);
        let epoch2 = image.broker(2).unwrap().epoch;
        assert_eq!(
            lc.heartbeat(&image, 2, epoch2, t0 + Duration::from_secs(5))
                .unwrap(),
            None
        );
        assert!(lc.expired(&image, t0 + Duration::from_secs(9)).is_empty());
        let fences = lc.expired(&image, t0 + Duration::from_millis(9001));
        assert_eq!(fences.len(), 1, "broker 1 only: 2 heartbeated");
        // Not proposed again within the next session.
        assert!(lc.expired(&image, t0 + Duration::from_secs(10)).is_empty());
        let image = image.apply(&fences[0], 100).unwrap();
        let topic = image.topic_by_name("t").unwrap();
        assert_eq!(topic.partitions[0].leader, NO_LEADER);
        assert_eq!(
            topic.partitions[0].isr,
            vec![1],
            "the last ISR member stays"
        );
        assert_eq!(
            (topic.partitions[2].leader, &topic.partitions[2].isr),
            (2, &vec![2])
        );
        assert!(image.broker(1).unwrap().fenced);
        // Broker 1 comes back.
        let epoch1 = image.broker(1).unwrap().epoch;
        let unfence = lc
            .heartbeat(&image, 1, epoch1, t0 + Duration::from_secs(11))
            .unwrap();
        let image = image.apply(&unfence.unwrap(), 101).unwrap();
        let topic = image.topic_by_name("t").unwrap();
        assert_eq!(
            (topic.partitions[0].leader, topic.partitions[0].leader_epoch),
            (1, 2)
        );
        assert!(!image.broker(1).unwrap().fenced);
    }

    #[test]
    fn a_controlled_shutdown_fences_at_once_and_checks_the_epoch() {
        let image = image_with(&[1, 2], &[vec![1], vec![2]]);
        let mut lc = Lifecycle::new(Duration::from_secs(30));
        let epoch1 = image.broker(1).unwrap().epoch;
        assert_eq!(
            lc.shutdown(&image, 1, epoch1 + 1),
            Err(RejectReason::StaleBrokerEpoch(1))
        );
        assert_eq!(
            lc.shutdown(&image, 9, 1),
            Err(RejectReason::UnknownBroker(9))
        );
        let batch = lc.shutdown(&image, 1, epoch1).unwrap().expect("a fence");
        let image = image.apply(&batch, 100).unwrap();
        assert!(image.broker(1).unwrap().fenced);
        let topic = image.topic_by_name("t").unwrap();
        assert_eq!(
            (topic.partitions[0].leader, topic.partitions[0].leader_epoch),
            (NO_LEADER, 1)
        );
        assert_eq!(
            topic.partitions[1].leader, 2,
            "others' partitions untouched"
        );
        // Asked again (a retry after a lost answer): nothing more to do.
        assert_eq!(lc.shutdown(&image, 1, epoch1), Ok(None));
        // A heartbeat sent before the shutdown and arriving after it does not unfence.
        assert_eq!(
            lc.heartbeat(&image, 1, epoch1, Instant::now()),
            Err(RejectReason::StaleBrokerEpoch(1))
        );
        assert_eq!(lc.tracked(), 1);
        lc.set_leader(true, Instant::now());
        lc.expired(&MetadataImage::default(), Instant::now());
        assert_eq!(lc.tracked(), 0, "forgotten once the registration is gone");
    }

    #[test]
    fn heartbeats_are_checked_and_state_is_bounded() {
        let image = image_with(&[1], &[vec![1]]);
        let now = Instant::now();
        let mut lc = Lifecycle::new(DEFAULT_SESSION_TIMEOUT);
        lc.set_leader(true, now);
        assert_eq!(
            lc.heartbeat(&image, 9, 1, now),
            Err(RejectReason::UnknownBroker(9))
        );
        assert_eq!(
            lc.heartbeat(&image, 1, 99, now),
            Err(RejectReason::StaleBrokerEpoch(1))
        );
        assert!(lc.heartbeat(&image, 1, 1, now).is_ok());
        assert_eq!(lc.tracked(), 1);
        lc.expired(&MetadataImage::default(), now);
        assert_eq!(lc.tracked(), 0);
        lc.heartbeat(&image, 1, 1, now).unwrap();
        lc.set_leader(false, now);
        assert_eq!(lc.tracked(), 0);
    }
}
