//! How the image applies an [`AlterPartitionRecord`]: Kafka's checks of an AlterPartition
//! request (the KRaft controller's `ReplicationControlManager.alterPartition`), made when the
//! record is applied so that two requests racing through the log cannot both win. In order:
//! the partition exists; the requester is registered with that broker epoch; it is the
//! partition's leader; its leader epoch and partition epoch are the current ones; the ISR it
//! asks for is a set of distinct replicas holding the leader; every replica it adds is
//! registered and unfenced (KIP-841: a fenced broker never joins the ISR). An ISR equal to the
//! current one changes nothing (the partition epoch stays). An ISR that now holds every target
//! replica of a reassignment in progress completes it in the same apply (`crate::reassign`).

use crate::image::{MetadataImage, RejectReason};
use crate::records::AlterPartitionRecord;

impl MetadataImage {
    /// The partition a change record names, with its `topic-partition` name for refusals:
    /// `UnknownTopic` / `UnknownPartition` when the image has no such partition.
    pub(crate) fn partition_to_change(
        &self,
        topic_id: &uuid::Uuid,
        partition: i32,
    ) -> Result<(String, crate::image::PartitionImage), RejectReason> {
        let name = format!("{topic_id}-{partition}");
        let current = self
            .topic(topic_id)
            .ok_or_else(|| RejectReason::UnknownTopic(topic_id.to_string()))?
            .partitions
            .get(usize::try_from(partition).unwrap_or(usize::MAX))
            .ok_or_else(|| RejectReason::UnknownPartition(name.clone()))?
            .clone();
        Ok((name, current))
    }

    /// Applies `r` (see the module comment).
    pub(crate) fn alter_partition(&mut self, r: &AlterPartitionRecord) -> Result<(), RejectReason> {
        let (name, current) = self.partition_to_change(&r.topic_id, r.partition)?;
        self.registered(r.leader, r.broker_epoch)?;
        if current.leader != r.leader {
            return Err(RejectReason::NotLeader(name));
        }
        if r.leader_epoch != current.leader_epoch {
            return Err(RejectReason::FencedLeaderEpoch(name));
        }
        if r.partition_epoch != current.partition_epoch {
            return Err(RejectReason::InvalidUpdateVersion(name));
        }
        self.check_replicas(&current.replicas, &r.isr, r.leader)?;
        for added in r.isr.iter().filter(|b| !current.isr.contains(b)) {
            if self.broker(*added).is_none_or(|b| b.fenced) {
                return Err(RejectReason::IneligibleReplica(format!(
                    "broker {added} is fenced or not registered ({name})"
                )));
            }
        }
        if r.isr == current.isr {
            return Ok(());
        }
        let mut p = current;
        p.isr = r.isr.clone();
        p.partition_epoch = p.partition_epoch.saturating_add(1);
        let topic = self.topic_mut(&r.topic_id)?;
        topic.partitions[r.partition as usize] = p;
        // A reassignment whose target replicas are now all in sync completes here.
        self.complete_reassignment_if_needed(&r.topic_id, r.partition)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use crate::image::{MetadataImage, RejectReason};
    use crate::records::*;

    /// Brokers 1-3 registered (epochs 1-3) and unfenced, topic "t" with one partition on
    /// replicas [1, 2, 3], leader 1, ISR all three.
    fn setup() -> (MetadataImage, Uuid) {
        let image = crate::image_fixtures::with_brokers(3);
        let id = Uuid::from_u128(7);
        let batch = RecordBatch::create_topic("t", id, &[vec![1, 2, 3]], &[]);
        (image.apply(&batch, 20).unwrap(), id)
    }

    fn alter(id: Uuid, leader: BrokerId, epochs: (u64, i32, i32), isr: &[BrokerId]) -> RecordBatch {
        RecordBatch::one(MetadataRecord::AlterPartition(AlterPartitionRecord {
            topic_id: id,
            partition: 0,
            leader,
            broker_epoch: epochs.0,
            leader_epoch: epochs.1,
            partition_epoch: epochs.2,
            isr: isr.to_vec(),
        }))
    }

    fn partition(image: &MetadataImage, id: Uuid) -> (Vec<BrokerId>, i32, i32) {
        let p = &image.topic(&id).unwrap().partitions[0];
        (p.isr.clone(), p.leader_epoch, p.partition_epoch)
    }

    #[test]
    fn the_leader_shrinks_and_expands_its_isr() {
        let (image, id) = setup();
        let (_, le, pe) = partition(&image, id);
        let shrunk = image
            .apply(&alter(id, 1, (1, le, pe), &[1, 2]), 21)
            .unwrap();
        assert_eq!(partition(&shrunk, id), (vec![1, 2], le, pe + 1));
        // The same request again is stale: the partition epoch moved.
        assert!(matches!(
            shrunk.apply(&alter(id, 1, (1, le, pe), &[1]), 22),
            Err(RejectReason::InvalidUpdateVersion(_))
        ));
        let grown = shrunk
            .apply(&alter(id, 1, (1, le, pe + 1), &[1, 2, 3]), 22)
            .unwrap();
        assert_eq!(partition(&grown, id), (vec![1, 2, 3], le, pe + 2));
        // Asking for the ISR it already has changes nothing.
        let same = grown
            .apply(&alter(id, 1, (1, le, pe + 2), &[1, 2, 3]), 23)
            .unwrap();
        assert_eq!(partition(&same, id), (vec![1, 2, 3], le, pe + 2));
    }

    #[test]
    fn stale_or_foreign_requests_change_nothing() {
        let (image, id) = setup();
        let (_, le, pe) = partition(&image, id);
        let refused = |batch: RecordBatch| image.apply(&batch, 21).unwrap_err();
        assert!(matches!(
            refused(alter(id, 2, (2, le, pe), &[1, 2])),
            RejectReason::NotLeader(_)
        ));
        assert!(matches!(
            refused(alter(id, 1, (9, le, pe), &[1, 2])),
            RejectReason::StaleBrokerEpoch(1)
        ));
        assert!(matches!(
            refused(alter(id, 1, (1, le + 1, pe), &[1, 2])),
            RejectReason::FencedLeaderEpoch(_)
        ));
        assert!(matches!(
            refused(alter(id, 1, (1, le, pe + 5), &[1, 2])),
            RejectReason::InvalidUpdateVersion(_)
        ));
        // Without the leader, with a non-replica, or a replica twice.
        for isr in [&[2, 3][..], &[1, 4], &[1, 2, 2]] {
            assert!(
                matches!(
                    refused(alter(id, 1, (1, le, pe), isr)),
                    RejectReason::InvalidReplicaAssignment(_)
                ),
                "{isr:?}"
            );
        }
        assert!(matches!(
            refused(alter(Uuid::from_u128(8), 1, (1, le, pe), &[1])),
            RejectReason::UnknownTopic(_)
        ));
    }

    #[test]
    fn a_fenced_broker_never_joins_the_isr() {
        let (image, id) = setup();
        let (_, le, pe) = partition(&image, id);
        let image = image
            .apply(&alter(id, 1, (1, le, pe), &[1, 2]), 21)
            .unwrap();
        let fence = MetadataRecord::FenceBroker(FenceBrokerRecord {
            broker_id: 3,
            broker_epoch: 3,
        });
        let image = image.apply(&RecordBatch::one(fence), 22).unwrap();
        let (isr, le, pe) = partition(&image, id);
        assert_eq!(isr, vec![1, 2]);
        assert!(matches!(
            image.apply(&alter(id, 1, (1, le, pe), &[1, 2, 3]), 23),
            Err(RejectReason::IneligibleReplica(_))
        ));
    }
}
