//! Committed offsets of deleted topics: removed from every group, durably, when the topic goes
//! (as Kafka does), so that a topic created later under the same name starts with no stale
//! offsets and `runnel_group_*` metrics of the old topic disappear.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::records::OffsetsKey;
use super::store;
use crate::cluster::TopicTable;
use crate::shard::Shard;

/// A group id and one of its offset keys (topic, partition).
type GroupOffset = (String, (String, i32));

/// Topics of `before` that `after` no longer has (or has again under another topic id).
pub fn deleted(before: &TopicTable, after: &TopicTable) -> Vec<String> {
    before
        .topics
        .values()
        .filter(|t| after.get(&t.name).is_none_or(|now| now.id != t.id))
        .map(|t| t.name.clone())
        .collect()
}

/// Writes tombstones for every committed offset of `topics` in the groups this core coordinates,
/// then forgets them. Offsets whose tombstones could not be written stay (and are retried at the
/// next topic change).
pub async fn forget(shard: &Rc<Shard>, topics: &[String]) {
    if topics.is_empty() {
        return;
    }
    // Tombstones by partition of __consumer_offsets, with the (group, key) they remove.
    let mut by_partition: BTreeMap<i32, Vec<GroupOffset>> = BTreeMap::new();
    for g in shard.groups.groups.borrow().values() {
        for key in g.offsets.keys().filter(|(t, _)| topics.contains(t)) {
            by_partition
                .entry(g.partition)
                .or_default()
                .push((g.id.clone(), key.clone()));
        }
    }
    for (partition, keys) in by_partition {
        let entries = keys
            .iter()
            .map(|(group, (topic, p))| {
                let key = OffsetsKey::Offset {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *p,
                };
                (key, None)
            })
            .collect();
        if let Err(code) = store::append(shard, partition, entries).await {
            tracing::warn!(
                partition,
                error_code = code,
                "cannot remove the committed offsets of deleted topics; kept for now"
            );
            continue;
        }
        let mut groups = shard.groups.groups.borrow_mut();
        for (group, key) in &keys {
            if let Some(g) = groups.get_mut(group) {
                g.offsets.remove(key);
            }
        }
        tracing::info!(
            partition,
            offsets = keys.len(),
            "removed committed offsets of deleted topics"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::topics::TopicMeta;

    fn table(topics: &[(&str, &str)]) -> TopicTable {
        let mut t = TopicTable::default();
        for (name, id) in topics {
            t.topics.insert(
                name.to_string(),
                TopicMeta {
                    name: name.to_string(),
                    id: id.to_string(),
                    partitions: vec![0],
                    configs: Default::default(),
                },
            );
        }
        t
    }

    #[test]
    fn deleted_and_recreated_topics_count_as_deleted() {
        let before = table(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let after = table(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(
            deleted(&before, &after),
            vec!["b".to_string(), "c".to_string()]
        );
    }
}
