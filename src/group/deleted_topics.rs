//! Committed offsets of deleted topics: removed from every group, durably, when the topic goes
//! (as Kafka does), so that a topic created later under the same name starts with no stale
//! offsets and `runnel_group_*` metrics of the old topic disappear.

use std::collections::BTreeMap;

use super::records::OffsetsKey;
use super::store;
use super::Coordinator;

/// A group id and one of its offset keys (topic, partition).
type GroupOffset = (String, (String, i32));

/// Writes tombstones for every committed offset of `topics` in the groups this core coordinates,
/// then forgets them. Offsets whose tombstones could not be written stay (and are retried at the
/// next topic change).
pub async fn forget(coord: &Coordinator, topics: &[String]) {
    if topics.is_empty() {
        return;
    }
    // Tombstones by partition of __consumer_offsets, with the (group, key) they remove.
    let mut by_partition: BTreeMap<i32, Vec<GroupOffset>> = BTreeMap::new();
    for g in coord.groups.borrow().values() {
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
        if let Err(e) = store::append(coord, partition, entries).await {
            tracing::warn!(
                partition,
                error = %e,
                "cannot remove the committed offsets of deleted topics; kept for now"
            );
            continue;
        }
        let mut groups = coord.groups.borrow_mut();
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
