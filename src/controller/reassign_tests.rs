//! Unit tests of partition reassignments in the image: start, completion through the ISR,
//! leader moves, cancel, refusals and snapshots.

use uuid::Uuid;

use crate::image::{MetadataImage, Reassignment, RejectReason};
use crate::records::*;

const TOPIC: Uuid = Uuid::from_u128(7);

/// Brokers 1-4 registered (epochs 1-4) and unfenced, topic "t" with partition 0 on
/// `replicas` (all in sync, the first leading).
fn setup(replicas: &[BrokerId]) -> MetadataImage {
    let image = crate::image_fixtures::with_brokers(4);
    let batch = RecordBatch::create_topic("t", TOPIC, &[replicas.to_vec()], &[]);
    image.apply(&batch, 20).unwrap()
}

fn reassign(target: Option<&[BrokerId]>, allow_rf_change: bool) -> RecordBatch {
    RecordBatch::one(MetadataRecord::ReassignPartition(ReassignPartitionRecord {
        topic_id: TOPIC,
        partition: 0,
        target: target.map(<[BrokerId]>::to_vec),
        allow_replication_factor_change: allow_rf_change,
    }))
}

/// (replicas, isr, leader, leader epoch, partition epoch).
fn part(image: &MetadataImage) -> (Vec<BrokerId>, Vec<BrokerId>, BrokerId, i32, i32) {
    let p = &image.topic(&TOPIC).unwrap().partitions[0];
    (
        p.replicas.clone(),
        p.isr.clone(),
        p.leader,
        p.leader_epoch,
        p.partition_epoch,
    )
}

/// The leader's AlterPartition asking for `isr` against the image as it is.
fn expand(image: &MetadataImage, isr: &[BrokerId], index: u64) -> MetadataImage {
    let (_, _, leader, le, pe) = part(image);
    let batch = RecordBatch::one(MetadataRecord::AlterPartition(AlterPartitionRecord {
        topic_id: TOPIC,
        partition: 0,
        leader,
        broker_epoch: leader as u64,
        leader_epoch: le,
        partition_epoch: pe,
        isr: isr.to_vec(),
    }));
    image.apply(&batch, index).unwrap()
}

#[test]
fn a_move_completes_when_the_new_replica_is_in_sync_and_moves_the_leader() {
    let image = setup(&[1]);
    let moving = image.apply(&reassign(Some(&[2]), true), 21).unwrap();
    assert_eq!(part(&moving), (vec![2, 1], vec![1], 1, 0, 1));
    assert_eq!(
        moving.reassignment(&TOPIC, 0),
        Some(&Reassignment {
            adding: vec![2],
            removing: vec![1]
        })
    );
    // Broker 2 catches up: the leader adds it to the ISR, which completes the move. Broker 1
    // leaves the replicas and the ISR, and broker 2 leads in a new epoch.
    let done = expand(&moving, &[1, 2], 22);
    assert_eq!(part(&done), (vec![2], vec![2], 2, 1, 3));
    assert!(done.reassignments().is_empty());
}

#[test]
fn growing_waits_for_every_new_replica_and_shrinking_is_immediate() {
    let image = setup(&[1]);
    let growing = image.apply(&reassign(Some(&[1, 2, 3]), true), 21).unwrap();
    assert_eq!(part(&growing).0, vec![1, 2, 3]);
    let half = expand(&growing, &[1, 2], 22);
    assert!(
        half.reassignment(&TOPIC, 0).is_some(),
        "3 is not in sync yet"
    );
    let grown = expand(&half, &[1, 2, 3], 23);
    assert!(grown.reassignments().is_empty());
    let (replicas, isr, leader, le, _) = part(&grown);
    assert_eq!(
        (replicas, isr, leader, le),
        (vec![1, 2, 3], vec![1, 2, 3], 1, 0)
    );
    // Back to one replica: every target replica is in sync, so it is done at once.
    let shrunk = grown.apply(&reassign(Some(&[1]), true), 24).unwrap();
    assert!(shrunk.reassignments().is_empty());
    let (replicas, isr, leader, le, _) = part(&shrunk);
    assert_eq!(
        (replicas, isr, leader, le),
        (vec![1], vec![1], 1, 1),
        "removed replicas bump the leader epoch"
    );
}

#[test]
fn cancel_reverts_and_needs_a_reassignment() {
    let image = setup(&[1]);
    assert!(matches!(
        image.apply(&reassign(None, true), 21),
        Err(RejectReason::NoReassignmentInProgress(_))
    ));
    let moving = image.apply(&reassign(Some(&[2, 3]), true), 21).unwrap();
    assert_eq!(part(&moving).0, vec![2, 3, 1]);
    let half = expand(&moving, &[1, 2], 22);
    let reverted = half.apply(&reassign(None, true), 23).unwrap();
    let (replicas, isr, leader, _, _) = part(&reverted);
    assert_eq!((replicas, isr, leader), (vec![1], vec![1], 1));
    assert!(reverted.reassignments().is_empty());
}

#[test]
fn a_revert_that_needs_an_unclean_election_is_refused_unless_allowed() {
    let image = setup(&[1]);
    let moving = image.apply(&reassign(Some(&[2, 3]), true), 21).unwrap();
    let half = expand(&moving, &[1, 2], 22);
    // Broker 1 is fenced: broker 2 (being added) is the only one in sync and leads.
    let fence = MetadataRecord::FenceBroker(FenceBrokerRecord {
        broker_id: 1,
        broker_epoch: 1,
    });
    let change = MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id: TOPIC,
        partition: 0,
        leader: Some(2),
        isr: Some(vec![2]),
        replicas: None,
    });
    let fenced = half
        .apply(
            &RecordBatch {
                records: vec![fence, change],
            },
            23,
        )
        .unwrap();
    assert!(fenced.reassignment(&TOPIC, 0).is_some(), "3 is not in sync");
    // Reverting leaves no in-sync replica: refused without unclean leader election.
    assert!(matches!(
        fenced.apply(&reassign(None, true), 24),
        Err(RejectReason::InvalidReplicaAssignment(m)) if m.contains("unclean")
    ));
    let unclean = RecordBatch::one(MetadataRecord::Config(ConfigRecord {
        resource: ConfigResource::Topic("t".into()),
        name: "unclean.leader.election.enable".into(),
        value: Some("true".into()),
    }));
    let allowed = fenced.apply(&unclean, 24).unwrap();
    let reverted = allowed.apply(&reassign(None, true), 25).unwrap();
    let (replicas, isr, leader, _, _) = part(&reverted);
    assert_eq!(
        (replicas, isr, leader),
        (vec![1], vec![1], NO_LEADER),
        "broker 1 is fenced"
    );
}

#[test]
fn invalid_targets_and_replication_factor_changes_are_refused() {
    let image = setup(&[1, 2]);
    for target in [&[][..], &[1, 1], &[1, 9], &[-1]] {
        assert!(
            matches!(
                image.apply(&reassign(Some(target), true), 21),
                Err(RejectReason::InvalidReplicaAssignment(_))
            ),
            "{target:?}"
        );
    }
    assert!(matches!(
        image.apply(&reassign(Some(&[3]), false), 21),
        Err(RejectReason::InvalidReplicationFactor(m)) if m.contains("from 2 to 1")
    ));
    // The same factor elsewhere is fine, also while a reassignment is in progress (the factor
    // is the original replicas').
    let moving = image.apply(&reassign(Some(&[3, 4]), false), 21).unwrap();
    assert_eq!(part(&moving).0, vec![3, 4, 1, 2]);
    let again = moving.apply(&reassign(Some(&[2, 3]), false), 22).unwrap();
    assert_eq!(part(&again).0, vec![2, 3, 1, 4]);
    // Reassigning to the replicas it has changes nothing.
    let image2 = setup(&[1, 2]);
    let same = image2.apply(&reassign(Some(&[1, 2]), false), 21).unwrap();
    assert_eq!(part(&same), part(&image2));
    // Unknown partitions and topics.
    let bad = RecordBatch::one(MetadataRecord::ReassignPartition(ReassignPartitionRecord {
        topic_id: TOPIC,
        partition: 5,
        target: Some(vec![1]),
        allow_replication_factor_change: true,
    }));
    assert!(matches!(
        image.apply(&bad, 21),
        Err(RejectReason::UnknownPartition(_))
    ));
}

#[test]
fn reassignments_survive_snapshots_and_go_with_their_topic() {
    let image = setup(&[1]);
    let moving = image.apply(&reassign(Some(&[2]), true), 21).unwrap();
    let bytes = moving.to_snapshot_bytes().unwrap();
    let back = MetadataImage::from_snapshot_bytes(&bytes).unwrap();
    assert_eq!(back, moving);
    assert!(back.reassignment(&TOPIC, 0).is_some());
    // A snapshot of before reassignments (no reassignment in it): the same bytes without the
    // last field.
    let mut old = image.to_snapshot_bytes().unwrap();
    assert_eq!(old.pop(), Some(0));
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), image);
    let remove = RecordBatch::one(MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: TOPIC,
    }));
    assert!(moving
        .apply(&remove, 22)
        .unwrap()
        .reassignments()
        .is_empty());
}
