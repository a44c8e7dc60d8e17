//! The broker's local topic table derived from the controller's metadata image: every topic of
//! the image with its id and configs; each partition whose replica is this broker keeps the
//! core it had (a partition new to this broker goes to the least-loaded core), every other
//! partition is [`ELSEWHERE`]. A pure function, so the same image always gives the same table.

use runnel_controller::records::BrokerId;
use runnel_controller::MetadataImage;

use super::topics::{TopicMeta, TopicTable, ELSEWHERE};

/// The table for broker `me` with `cores` cores from `image`, keeping the core placement of
/// `current` for the partitions both have (same topic id).
pub fn derive(
    image: &MetadataImage,
    me: BrokerId,
    current: &TopicTable,
    cores: usize,
) -> TopicTable {
    let mut next = TopicTable::default();
    // Partitions hosted here that have no core yet: placed once every kept slot is known.
    let mut unplaced: Vec<(String, usize)> = Vec::new();
    for topic in image.topics() {
        let id = topic.topic_id.hyphenated().to_string();
        let kept = current.get(&topic.name).filter(|m| m.id == id);
        let mut slots = Vec::with_capacity(topic.partitions.len());
        for (p, part) in topic.partitions.iter().enumerate() {
            let slot = if !part.replicas.contains(&me) {
                ELSEWHERE
            } else {
                match kept.and_then(|m| m.partitions.get(p)) {
                    Some(&s) if s != ELSEWHERE => s,
                    _ => {
                        unplaced.push((topic.name.clone(), p));
                        ELSEWHERE
                    }
                }
            };
            slots.push(slot);
        }
        next.topics.insert(
            topic.name.clone(),
            TopicMeta {
                name: topic.name.clone(),
                id,
                partitions: slots,
                configs: topic.configs.clone(),
            },
        );
    }
    let mut load = next.core_loads(cores);
    for (name, p) in unplaced {
        // The least-loaded core, ties to the lowest index (as `TopicTable::place`).
        let mut core = 0;
        for (i, &l) in load.iter().enumerate() {
            if l < load[core] {
                core = i;
            }
        }
        load[core] += 1;
        if let Some(meta) = next.topics.get_mut(&name) {
            meta.partitions[p] = core as u32;
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_controller::records::{Endpoint, MetadataRecord, RegisterBrokerRecord};
    use runnel_controller::RecordBatch;

    fn image_with(topics: &[(&str, uuid::Uuid, Vec<Vec<BrokerId>>)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        let mut index = 1;
        for b in 1..=3 {
            let reg = RecordBatch::one(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                broker_id: b,
                incarnation_id: uuid::Uuid::new_v4(),
                endpoints: vec![Endpoint {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9000 + b as u16,
                    security_protocol: "PLAINTEXT".into(),
                }],
                rack: None,
            }));
            image = image.apply(&reg, index).unwrap();
            index += 1;
        }
        for (name, id, assignment) in topics {
            let batch = RecordBatch::create_topic(
                name,
                *id,
                assignment,
                &[("retention.ms".into(), "1000".into())],
            );
            image = image.apply(&batch, index).unwrap();
            index += 1;
        }
        image
    }

    #[test]
    fn hosts_only_own_replicas_and_keeps_cores() {
        let id = uuid::Uuid::new_v4();
        let image = image_with(&[("t", id, vec![vec![1], vec![2], vec![1], vec![3]])]);
        let table = derive(&image, 1, &TopicTable::default(), 2);
        let t = table.get("t").unwrap();
        assert_eq!(t.id, id.to_string());
        assert_eq!(t.partitions, vec![0, ELSEWHERE, 1, ELSEWHERE]);
        assert_eq!(
            t.configs.get("retention.ms").map(String::as_str),
            Some("1000")
        );
        assert_eq!(table.owner("t", 1, 2), None);
        assert!(table.has_partition("t", 3));
        assert!(!table.has_partition("t", 4));
        // Kept slots survive a new derivation, even when another placement would differ.
        let mut moved = table.clone();
        moved.topics.get_mut("t").unwrap().partitions = vec![1, ELSEWHERE, 1, ELSEWHERE];
        assert_eq!(derive(&image, 1, &moved, 2), moved);
    }

    #[test]
    fn a_topic_gone_or_recreated_is_not_kept() {
        let old = uuid::Uuid::new_v4();
        let mut current = derive(
            &image_with(&[
                ("t", old, vec![vec![1]]),
                ("gone", uuid::Uuid::new_v4(), vec![vec![1]]),
            ]),
            1,
            &TopicTable::default(),
            4,
        );
        current.topics.get_mut("t").unwrap().partitions = vec![3];
        let new = uuid::Uuid::new_v4();
        let table = derive(&image_with(&[("t", new, vec![vec![1]])]), 1, &current, 4);
        assert!(table.get("gone").is_none());
        let t = table.get("t").unwrap();
        assert_eq!(t.id, new.to_string());
        assert_eq!(t.partitions, vec![0], "a new topic id is placed afresh");
    }
}
