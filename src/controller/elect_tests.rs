//! Unit tests of leader elections: what [`decide`], [`rebalance`] and [`leaderless_unclean`]
//! choose, and what the image refuses when it applies an election.

use uuid::Uuid;

use super::*;
use crate::lifecycle::fence_batch;
use crate::records::*;

const T: u128 = 7;

fn register(image: MetadataImage, id: BrokerId, index: u64) -> MetadataImage {
    let reg = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: Uuid::from_u128(id as u128),
        endpoints: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
            security_protocol: "PLAINTEXT".into(),
        }],
        rack: None,
    });
    let image = image.apply(&RecordBatch::one(reg), index).unwrap();
    let unfence = MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
        broker_id: id,
        broker_epoch: index,
    });
    image.apply(&RecordBatch::one(unfence), index + 1).unwrap()
}

/// Brokers 1-3 (epochs 1, 3, 5), unfenced; topic "t" with the given assignments (all in sync,
/// preferred leaders leading) and configs.
fn setup(assignments: &[Vec<BrokerId>], configs: &[(String, String)]) -> MetadataImage {
    let mut image = MetadataImage::default();
    for id in 1..=3 {
        image = register(image, id, 2 * id as u64 - 1);
    }
    let batch = RecordBatch::create_topic("t", Uuid::from_u128(T), assignments, configs);
    image.apply(&batch, 10).unwrap()
}

fn apply(image: &MetadataImage, records: Vec<MetadataRecord>) -> MetadataImage {
    let index = image.applied_index() + 1;
    image.apply(&RecordBatch { records }, index).unwrap()
}

fn change(partition: i32, leader: BrokerId, isr: Option<Vec<BrokerId>>) -> MetadataRecord {
    MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id: Uuid::from_u128(T),
        partition,
        leader: Some(leader),
        isr,
        replicas: None,
    })
}

fn fence(image: &MetadataImage, id: BrokerId, unclean: bool) -> MetadataImage {
    let epoch = image.broker(id).unwrap().epoch;
    let batch = fence_batch(image, id, epoch, unclean);
    image.apply(&batch, image.applied_index() + 1).unwrap()
}

fn part(image: &MetadataImage, i: usize) -> PartitionImage {
    image.topic_by_name("t").unwrap().partitions[i].clone()
}

fn elect(image: &MetadataImage, r: ElectLeaderRecord) -> Result<MetadataImage, RejectReason> {
    image.apply(
        &RecordBatch::one(MetadataRecord::ElectLeader(r)),
        image.applied_index() + 1,
    )
}

#[test]
fn a_preferred_election_moves_leadership_back_and_bumps_the_epochs() {
    let image = setup(&[vec![1, 2, 3]], &[]);
    assert_eq!(
        decide(&image, "t", 0, false),
        Err(ElectionRefusal::NotNeeded)
    );
    let moved = apply(&image, vec![change(0, 2, None)]);
    let before = part(&moved, 0);
    let r = decide(&moved, "t", 0, false).unwrap();
    assert_eq!((r.leader, r.unclean), (1, false));
    let after = elect(&moved, r.clone()).unwrap();
    let p = part(&after, 0);
    assert_eq!(p.leader, 1);
    assert_eq!(p.leader_epoch, before.leader_epoch + 1);
    assert_eq!(p.partition_epoch, before.partition_epoch + 1);
    assert_eq!(p.isr, before.isr);
    // The same election again is stale: the partition epoch moved.
    assert!(matches!(
        elect(&after, r),
        Err(RejectReason::InvalidUpdateVersion(_))
    ));
    assert_eq!(
        decide(&after, "t", 0, false),
        Err(ElectionRefusal::NotNeeded)
    );
}

#[test]
fn a_preferred_replica_fenced_or_out_of_the_isr_cannot_lead() {
    let image = setup(&[vec![1, 2, 3], vec![1, 2, 3]], &[]);
    // Partition 0: 1 is fenced (2 leads). Partition 1: 1 left the ISR.
    let image = fence(&image, 1, false);
    assert_eq!(part(&image, 0).leader, 2);
    assert_eq!(
        decide(&image, "t", 0, false),
        Err(ElectionRefusal::PreferredLeaderNotAvailable)
    );
    // A record made anyway is refused when applied.
    let p = part(&image, 0);
    let forced = ElectLeaderRecord {
        topic_id: Uuid::from_u128(T),
        partition: 0,
        partition_epoch: p.partition_epoch,
        leader: 1,
        unclean: false,
    };
    assert!(matches!(
        elect(&image, forced),
        Err(RejectReason::IneligibleReplica(_))
    ));
    assert_eq!(
        decide(&image, "t", 9, false),
        Err(ElectionRefusal::UnknownTopicOrPartition)
    );
    assert_eq!(
        decide(&image, "nope", 0, false),
        Err(ElectionRefusal::UnknownTopicOrPartition)
    );
    assert_eq!(
        decide(&image, "t", -1, false),
        Err(ElectionRefusal::UnknownTopicOrPartition)
    );
}

#[test]
fn an_unclean_election_only_for_a_partition_without_a_leader() {
    let image = setup(&[vec![1, 2, 3]], &[]);
    assert_eq!(
        decide(&image, "t", 0, true),
        Err(ElectionRefusal::NotNeeded)
    );
    // ISR shrinks to [1], then 1 is fenced: no leader, the ISR keeps 1.
    let image = apply(&image, vec![change(0, 1, Some(vec![1]))]);
    let image = fence(&image, 1, false);
    let p = part(&image, 0);
    assert_eq!((p.leader, p.isr.clone()), (NO_LEADER, vec![1]));
    let r = decide(&image, "t", 0, true).unwrap();
    assert_eq!((r.leader, r.unclean), (2, true));
    let after = elect(&image, r).unwrap();
    let q = part(&after, 0);
    assert_eq!((q.leader, q.isr), (2, vec![2]));
    assert_eq!(q.leader_epoch, p.leader_epoch + 1);
    // An unclean record for a partition with a leader is refused.
    let again = ElectLeaderRecord {
        topic_id: Uuid::from_u128(T),
        partition: 0,
        partition_epoch: part(&after, 0).partition_epoch,
        leader: 3,
        unclean: true,
    };
    assert!(matches!(
        elect(&after, again),
        Err(RejectReason::ElectionNotNeeded(_))
    ));
    // With every replica fenced there is nobody.
    let none = fence(&fence(&after, 2, false), 3, false);
    assert_eq!(
        decide(&none, "t", 0, true),
        Err(ElectionRefusal::EligibleLeadersNotAvailable)
    );
}

#[test]
fn fencing_honours_unclean_leader_election_enable() {
    let shrunk = |configs: &[(String, String)]| {
        let image = setup(&[vec![1, 2, 3]], configs);
        apply(&image, vec![change(0, 1, Some(vec![1]))])
    };
    // Off (the default): the partition stays without a leader.
    let off = fence(&shrunk(&[]), 1, false);
    assert_eq!(part(&off, 0).leader, NO_LEADER);
    assert!(leaderless_unclean(&off, false, 10).is_empty());
    // On by the broker default, or by the topic config.
    let on = fence(&shrunk(&[]), 1, true);
    assert_eq!((part(&on, 0).leader, part(&on, 0).isr), (2, vec![2]));
    let cfg = [(UNCLEAN_CONFIG.to_string(), "true".to_string())];
    let on = fence(&shrunk(&cfg), 1, false);
    assert_eq!(part(&on, 0).leader, 2);
    // The topic config set to false overrides a default of true.
    let cfg = [(UNCLEAN_CONFIG.to_string(), "false".to_string())];
    let off = fence(&shrunk(&cfg), 1, true);
    assert_eq!(part(&off, 0).leader, NO_LEADER);
    // Turned on later: the controller's periodic unclean elections pick it up.
    let later = fence(&shrunk(&[]), 1, false);
    let elections = leaderless_unclean(&later, true, 10);
    assert_eq!(elections.len(), 1);
    assert_eq!(elections[0].leader, 2);
    assert!(leaderless_unclean(&later, true, 0).is_empty(), "bounded");
}

#[test]
fn the_rebalance_follows_the_imbalance_ratio_and_is_bounded() {
    // Broker 1 is the preferred leader of 4 partitions; 2 and 3 of one each.
    let a = vec![
        vec![1, 2, 3],
        vec![1, 2, 3],
        vec![1, 3, 2],
        vec![1, 3, 2],
        vec![2, 3, 1],
        vec![3, 1, 2],
    ];
    let image = setup(&a, &[]);
    assert!(rebalance(&image, 10, 100).is_empty(), "balanced");
    // Broker 1 loses the leadership of one of its four: 25 %.
    let image = apply(&image, vec![change(0, 2, None)]);
    assert_eq!(rebalance(&image, 25, 100), vec![], "not above 25 %");
    let r = rebalance(&image, 10, 100);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].partition, r[0].leader), (0, 1));
    // Two more: three elections, bounded by max.
    let image = apply(&image, vec![change(1, 2, None), change(2, 3, None)]);
    assert_eq!(rebalance(&image, 10, 100).len(), 3);
    assert_eq!(rebalance(&image, 10, 2).len(), 2);
    // A preferred replica out of the ISR is skipped.
    let image = apply(&image, vec![change(1, 2, Some(vec![2, 3]))]);
    let r = rebalance(&image, 10, 100);
    assert_eq!(
        r.iter().map(|e| e.partition).collect::<Vec<_>>(),
        vec![0, 2]
    );
    // Applied, everything is balanced again.
    let image = apply(
        &image,
        r.into_iter().map(MetadataRecord::ElectLeader).collect(),
    );
    assert_eq!(part(&image, 0).leader, 1);
    assert_eq!(part(&image, 2).leader, 1);
    assert!(rebalance(&image, 10, 100).is_empty());
}
