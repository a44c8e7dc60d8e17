//! Unit tests of the image's apply logic: each record's effect and each rejection.

use super::*;

fn endpoint(port: u16) -> Endpoint {
    Endpoint {
        name: "PLAINTEXT".into(),
        host: "127.0.0.1".into(),
        port,
        security_protocol: "PLAINTEXT".into(),
    }
}

fn register(id: BrokerId, incarnation: u128) -> MetadataRecord {
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: Uuid::from_u128(incarnation),
        endpoints: vec![endpoint(9092 + id as u16)],
        rack: None,
    })
}

fn unfence(id: BrokerId, epoch: u64) -> MetadataRecord {
    MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
        broker_id: id,
        broker_epoch: epoch,
    })
}

/// An image with brokers 1, 2, 3 registered (epochs 1, 2, 3) and unfenced.
fn three_brokers() -> MetadataImage {
    let mut image = MetadataImage::default();
    for id in 1..=3 {
        image = image
            .apply(&RecordBatch::one(register(id, id as u128)), id as u64)
            .unwrap();
    }
    for id in 1..=3 {
        image = image
            .apply(&RecordBatch::one(unfence(id, id as u64)), 10 + id as u64)
            .unwrap();
    }
    image
}

#[test]
fn registration_starts_fenced_with_epoch_of_its_index() {
    let image = MetadataImage::default()
        .apply(&RecordBatch::one(register(5, 1)), 7)
        .unwrap();
    let b = image.broker(5).unwrap();
    assert_eq!((b.epoch, b.fenced), (7, true));
    assert_eq!(image.applied_index(), 7);
    assert!(image.unfenced_brokers().is_empty());
    let image = image.apply(&RecordBatch::one(unfence(5, 7)), 8).unwrap();
    assert_eq!(image.unfenced_brokers(), vec![(5, None)]);
}

#[test]
fn duplicate_node_id_is_rejected_while_unfenced() {
    let image = three_brokers();
    assert_eq!(
        image.apply(&RecordBatch::one(register(1, 99)), 20),
        Err(RejectReason::DuplicateBrokerId(1))
    );
    // The same incarnation may register again (a new epoch).
    let again = image.apply(&RecordBatch::one(register(1, 1)), 20).unwrap();
    assert_eq!(again.broker(1).unwrap().epoch, 20);
    // Once fenced, a new incarnation takes over.
    let fence = MetadataRecord::FenceBroker(FenceBrokerRecord {
        broker_id: 1,
        broker_epoch: 1,
    });
    let fenced = image.apply(&RecordBatch::one(fence), 20).unwrap();
    let taken = fenced
        .apply(&RecordBatch::one(register(1, 99)), 21)
        .unwrap();
    assert_eq!(taken.broker(1).unwrap().incarnation_id, Uuid::from_u128(99));
}

#[test]
fn stale_epochs_and_unknown_brokers_are_rejected() {
    let image = three_brokers();
    let fence = |id, epoch| {
        RecordBatch::one(MetadataRecord::FenceBroker(FenceBrokerRecord {
            broker_id: id,
            broker_epoch: epoch,
        }))
    };
    assert_eq!(
        image.apply(&fence(2, 1), 30),
        Err(RejectReason::StaleBrokerEpoch(2))
    );
    assert_eq!(
        image.apply(&fence(9, 1), 30),
        Err(RejectReason::UnknownBroker(9))
    );
    let fenced = image.apply(&fence(2, 2), 30).unwrap();
    assert!(matches!(
        fenced.apply(&fence(2, 2), 31),
        Err(RejectReason::Invalid(_))
    ));
    let gone = fenced
        .apply(
            &RecordBatch::one(MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
                broker_id: 2,
                broker_epoch: 2,
            })),
            32,
        )
        .unwrap();
    assert!(gone.broker(2).is_none());
}

#[test]
fn create_topic_batch_applies_whole() {
    let image = three_brokers();
    let id = Uuid::from_u128(42);
    let batch = RecordBatch::create_topic(
        "orders",
        id,
        &[vec![1, 2], vec![2, 3], vec![3, 1]],
        &[("retention.ms".into(), "1000".into())],
    );
    let image = image.apply(&batch, 40).unwrap();
    let topic = image.topic_by_name("orders").unwrap();
    assert_eq!(topic.topic_id, id);
    assert_eq!(topic.partitions.len(), 3);
    assert_eq!(topic.partitions[1].leader, 2);
    assert_eq!(topic.partitions[1].isr, vec![2, 3]);
    assert_eq!(
        topic.configs.get("retention.ms").map(String::as_str),
        Some("1000")
    );
    // The same name again, or the same id under another name, is refused.
    assert!(matches!(
        image.apply(&batch, 41),
        Err(RejectReason::TopicExists(_))
    ));
    let other = RecordBatch::create_topic("other", id, &[vec![1]], &[]);
    assert!(matches!(
        image.apply(&other, 41),
        Err(RejectReason::TopicExists(_))
    ));
}

#[test]
fn a_bad_record_rejects_its_whole_batch() {
    let image = three_brokers();
    // Partition 0 is fine, the second names an unregistered broker: nothing applies.
    let batch = RecordBatch::create_topic("t", Uuid::from_u128(1), &[vec![1], vec![7]], &[]);
    assert!(matches!(
        image.apply(&batch, 50),
        Err(RejectReason::InvalidReplicaAssignment(_))
    ));
    assert!(image.topic_by_name("t").is_none());
    for bad in [vec![], vec![1, 1], vec![1, 2, 3, 1]] {
        let batch = RecordBatch::create_topic("t", Uuid::from_u128(1), &[bad], &[]);
        assert!(image.apply(&batch, 50).is_err());
    }
    for name in ["", ".", "..", "a/b", &"x".repeat(250)] {
        let batch = RecordBatch::create_topic(name, Uuid::from_u128(1), &[vec![1]], &[]);
        assert!(
            matches!(image.apply(&batch, 50), Err(RejectReason::Invalid(_))),
            "{name}"
        );
    }
}

#[test]
fn partitions_are_added_in_order() {
    let id = Uuid::from_u128(3);
    let image = three_brokers()
        .apply(&RecordBatch::create_topic("t", id, &[vec![1]], &[]), 20)
        .unwrap();
    let skip = RecordBatch::partitions(id, 2, &[vec![2]]);
    assert!(matches!(
        image.apply(&skip, 21),
        Err(RejectReason::Invalid(_))
    ));
    let add = RecordBatch::partitions(id, 1, &[vec![2], vec![3]]);
    let image = image.apply(&add, 21).unwrap();
    assert_eq!(image.topic(&id).unwrap().partitions.len(), 3);
    let unknown = RecordBatch::partitions(Uuid::from_u128(9), 0, &[vec![2]]);
    assert!(matches!(
        image.apply(&unknown, 22),
        Err(RejectReason::UnknownTopic(_))
    ));
}

#[test]
fn partition_change_bumps_epochs() {
    let id = Uuid::from_u128(3);
    let image = three_brokers()
        .apply(
            &RecordBatch::create_topic("t", id, &[vec![1, 2, 3]], &[]),
            20,
        )
        .unwrap();
    let change = |leader, isr: Option<Vec<BrokerId>>| {
        RecordBatch::one(MetadataRecord::PartitionChange(PartitionChangeRecord {
            topic_id: id,
            partition: 0,
            leader,
            isr,
            replicas: None,
        }))
    };
    let image = image.apply(&change(None, Some(vec![1, 2])), 21).unwrap();
    let p = &image.topic(&id).unwrap().partitions[0];
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 0, 1));
    let image = image.apply(&change(Some(2), None), 22).unwrap();
    let p = &image.topic(&id).unwrap().partitions[0];
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 2));
    // A leader outside the ISR, and an unknown partition, are refused.
    assert!(image.apply(&change(Some(3), None), 23).is_err());
    let mut bad = change(Some(NO_LEADER), None);
    if let MetadataRecord::PartitionChange(c) = &mut bad.records[0] {
        c.partition = 5;
    }
    assert!(matches!(
        image.apply(&bad, 23),
        Err(RejectReason::UnknownPartition(_))
    ));
    let image = image
        .apply(&change(Some(NO_LEADER), Some(vec![])), 23)
        .unwrap();
    assert_eq!(image.topic(&id).unwrap().partitions[0].leader, NO_LEADER);
}

#[test]
fn delete_topic_and_configs() {
    let id = Uuid::from_u128(3);
    let image = three_brokers()
        .apply(&RecordBatch::create_topic("t", id, &[vec![1]], &[]), 20)
        .unwrap();
    let remove = RecordBatch::one(MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: id,
    }));
    let deleted = image.apply(&remove, 21).unwrap();
    assert!(deleted.topic_by_name("t").is_none());
    assert!(matches!(
        deleted.apply(&remove, 22),
        Err(RejectReason::UnknownTopic(_))
    ));
    let config = |resource, value: Option<&str>| {
        RecordBatch::one(MetadataRecord::Config(ConfigRecord {
            resource,
            name: "retention.ms".into(),
            value: value.map(String::from),
        }))
    };
    assert!(matches!(
        deleted.apply(&config(ConfigResource::Topic("t".into()), Some("1")), 22),
        Err(RejectReason::UnknownTopic(_))
    ));
    let set = image
        .apply(&config(ConfigResource::Topic("t".into()), Some("1")), 22)
        .unwrap();
    assert_eq!(set.topic(&id).unwrap().configs.len(), 1);
    let unset = set
        .apply(&config(ConfigResource::Topic("t".into()), None), 23)
        .unwrap();
    assert!(unset.topic(&id).unwrap().configs.is_empty());
    let broker = image
        .apply(&config(ConfigResource::Broker(None), Some("5")), 24)
        .unwrap();
    assert_eq!(broker.broker_configs(None).unwrap().len(), 1);
    let cleared = broker
        .apply(&config(ConfigResource::Broker(None), None), 25)
        .unwrap();
    assert!(cleared.broker_configs(None).is_none());
}

#[test]
fn producer_id_blocks_only_move_forward() {
    let image = three_brokers();
    let block = |next| {
        RecordBatch::one(MetadataRecord::ProducerIds(ProducerIdsRecord {
            broker_id: 1,
            broker_epoch: 1,
            next_producer_id: next,
        }))
    };
    let image = image.apply(&block(1000), 20).unwrap();
    assert_eq!(image.next_producer_id(), 1000);
    assert_eq!(
        image.apply(&block(1000), 21),
        Err(RejectReason::InvalidProducerIds(1000))
    );
}

#[test]
fn untouched_topics_are_shared_between_images() {
    let a = Uuid::from_u128(1);
    let image = three_brokers()
        .apply(&RecordBatch::create_topic("a", a, &[vec![1]], &[]), 20)
        .unwrap();
    let next = image
        .apply(
            &RecordBatch::create_topic("b", Uuid::from_u128(2), &[vec![2]], &[]),
            21,
        )
        .unwrap();
    assert!(Arc::ptr_eq(
        image.topic(&a).unwrap(),
        next.topic(&a).unwrap()
    ));
    assert_eq!(next.advanced_to(30).applied_index(), 30);
}

#[test]
fn the_cluster_id_is_set_once_and_survives_snapshots() {
    let set = |id: &str| {
        RecordBatch::one(MetadataRecord::ClusterId(ClusterIdRecord {
            cluster_id: id.to_string(),
        }))
    };
    let image = three_brokers();
    assert_eq!(image.cluster_id(), None);
    // A snapshot written before the cluster id existed: the same fields without the last ones
    // (reassignments, ACLs, SCRAM credentials, then the cluster id).
    let mut old = image.to_snapshot_bytes().unwrap();
    assert_eq!(old.pop(), Some(0), "no reassignments is one byte, last");
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), image);
    assert_eq!(old.pop(), Some(0), "no ACLs is one byte, before it");
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), image);
    assert_eq!(
        old.split_off(old.len() - 2),
        [0, 0],
        "no SCRAM credentials: two bytes, before the ACLs"
    );
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), image);
    assert_eq!(
        old.pop(),
        Some(0),
        "an absent cluster id is one byte, before those"
    );
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), image);
    // Garbage after an old image is not taken for one.
    let mut bad = old.clone();
    bad.extend([7, 7]);
    assert!(MetadataImage::from_snapshot_bytes(&bad).is_err());
    assert!(matches!(
        image.apply(&set(""), 20),
        Err(RejectReason::Invalid(_))
    ));
    assert!(matches!(
        image.apply(&set("a b"), 20),
        Err(RejectReason::Invalid(_))
    ));
    let image = image.apply(&set("MkU3OEVBNTcwNTJENDM2Qk"), 20).unwrap();
    assert_eq!(image.cluster_id(), Some("MkU3OEVBNTcwNTJENDM2Qk"));
    // The same id again changes nothing; another one is refused.
    assert!(image.apply(&set("MkU3OEVBNTcwNTJENDM2Qk"), 21).is_ok());
    assert!(matches!(
        image.apply(&set("other"), 21),
        Err(RejectReason::Invalid(_))
    ));
    let bytes = image.to_snapshot_bytes().unwrap();
    let back = MetadataImage::from_snapshot_bytes(&bytes).unwrap();
    // The image brokers without a controller fetch (serde, as on the wire) carries it too.
    let wire: MetadataImage = postcard::from_bytes(&postcard::to_stdvec(&image).unwrap()).unwrap();
    assert_eq!(wire.cluster_id(), Some("MkU3OEVBNTcwNTJENDM2Qk"));
    assert_eq!(back.cluster_id(), Some("MkU3OEVBNTcwNTJENDM2Qk"));
    assert_eq!(back, image);
}

#[test]
fn scram_credentials_apply_and_survive_snapshots_and_older_snapshots_load() {
    use crate::scram_image::{SCRAM_SHA_256, SCRAM_SHA_512};
    let upsert = |name: &str, mechanism: i8, len: usize| {
        MetadataRecord::UserScramCredential(UserScramCredentialRecord {
            name: name.into(),
            mechanism,
            salt: vec![9; 24],
            stored_key: vec![1; len],
            server_key: vec![2; len],
            iterations: 8192,
        })
    };
    let base = three_brokers()
        .apply(
            &RecordBatch::one(MetadataRecord::ClusterId(ClusterIdRecord {
                cluster_id: "c1".into(),
            })),
            20,
        )
        .unwrap();
    // A snapshot of before SCRAM credentials existed (ending with its cluster id) loads: the
    // same bytes without the empty credentials (two bytes), ACLs and reassignments (one byte
    // each).
    let mut old = base.to_snapshot_bytes().unwrap();
    old.truncate(old.len() - 4);
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), base);
    let image = base
        .apply(
            &RecordBatch {
                records: vec![
                    upsert("alice", SCRAM_SHA_256, 32),
                    upsert("alice", SCRAM_SHA_512, 64),
                    upsert("bob", SCRAM_SHA_512, 64),
                ],
            },
            21,
        )
        .unwrap();
    assert_eq!(image.scram().len(), 3);
    assert_eq!(
        image.scram().get("bob", SCRAM_SHA_512).unwrap().iterations,
        8192
    );
    // A batch with one bad record changes nothing.
    let bad = RecordBatch {
        records: vec![upsert("carol", SCRAM_SHA_256, 32), upsert("dave", 7, 32)],
    };
    assert!(matches!(
        image.apply(&bad, 22),
        Err(RejectReason::Invalid(_))
    ));
    let removed = image
        .apply(
            &RecordBatch::one(MetadataRecord::RemoveUserScramCredential(
                RemoveUserScramCredentialRecord {
                    name: "bob".into(),
                    mechanism: SCRAM_SHA_512,
                },
            )),
            22,
        )
        .unwrap();
    assert!(removed.scram().user("bob").is_none());
    let back = MetadataImage::from_snapshot_bytes(&image.to_snapshot_bytes().unwrap()).unwrap();
    assert_eq!(back, image);
    // Log entries written before the new records still decode (variants appended last).
    let entry = postcard::to_stdvec(&RecordBatch::one(MetadataRecord::ClusterId(
        ClusterIdRecord {
            cluster_id: "c1".into(),
        },
    )))
    .unwrap();
    let decoded: RecordBatch = postcard::from_bytes(&entry).unwrap();
    assert!(matches!(decoded.records[0], MetadataRecord::ClusterId(_)));
}

fn acl(id: u128, name: &str) -> AccessControlEntryRecord {
    AccessControlEntryRecord {
        id: Uuid::from_u128(id),
        resource_type: 2,
        resource_name: name.into(),
        pattern_type: 3,
        principal: "User:alice".into(),
        host: "*".into(),
        operation: 3,
        permission_type: 3,
    }
}

#[test]
fn acls_are_added_removed_and_survive_snapshots() {
    let add = |a: AccessControlEntryRecord| RecordBatch::one(MetadataRecord::AccessControlEntry(a));
    let remove = |id: u128| {
        RecordBatch::one(MetadataRecord::RemoveAccessControlEntry(
            RemoveAccessControlEntryRecord {
                id: Uuid::from_u128(id),
            },
        ))
    };
    let image = three_brokers();
    // A snapshot of before ACLs (with a cluster id): the same bytes without the last fields
    // (no reassignments, no ACLs: one byte each).
    let with_id = image
        .apply(
            &RecordBatch::one(MetadataRecord::ClusterId(ClusterIdRecord {
                cluster_id: "c1".into(),
            })),
            9,
        )
        .unwrap();
    let mut old = with_id.to_snapshot_bytes().unwrap();
    old.truncate(old.len() - 2);
    assert_eq!(MetadataImage::from_snapshot_bytes(&old).unwrap(), with_id);

    let one = image.apply(&add(acl(1, "t")), 10).unwrap();
    assert_eq!(one.acls().len(), 1);
    // Images that change no ACL share the map.
    let later = one.apply(&remove_nothing(), 11).unwrap();
    assert!(Arc::ptr_eq(one.acls(), later.acls()));
    // The same id, the same binding under another id, bad codes and empty fields: refused.
    for bad in [
        acl(1, "u"),
        acl(2, "t"),
        AccessControlEntryRecord {
            resource_type: 1,
            ..acl(3, "x")
        },
        AccessControlEntryRecord {
            pattern_type: 2,
            ..acl(3, "x")
        },
        AccessControlEntryRecord {
            operation: 1,
            ..acl(3, "x")
        },
        AccessControlEntryRecord {
            permission_type: 1,
            ..acl(3, "x")
        },
        AccessControlEntryRecord {
            host: String::new(),
            ..acl(3, "x")
        },
        acl(0, "x"),
    ] {
        assert!(
            matches!(
                one.apply(&add(bad.clone()), 12),
                Err(RejectReason::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    let two = one.apply(&add(acl(2, "u")), 12).unwrap();
    let bytes = two.to_snapshot_bytes().unwrap();
    assert_eq!(MetadataImage::from_snapshot_bytes(&bytes).unwrap(), two);
    let back = two.apply(&remove(1), 13).unwrap();
    assert_eq!(
        back.acls().keys().collect::<Vec<_>>(),
        vec![&Uuid::from_u128(2)]
    );
    assert!(matches!(
        back.apply(&remove(1), 14),
        Err(RejectReason::Invalid(_))
    ));
}

/// A batch that changes nothing about ACLs (a broker config).
fn remove_nothing() -> RecordBatch {
    RecordBatch::one(MetadataRecord::Config(ConfigRecord {
        resource: ConfigResource::Broker(None),
        name: "x".into(),
        value: Some("1".into()),
    }))
}
