//! Replica placement for CreateTopics and CreatePartitions: which brokers hold each new
//! partition, preferred leader first. Pure functions of the unfenced brokers and two random
//! numbers, so tests pick the numbers.
//!
//! The rules follow Kafka's: partition `p`'s first replica (its preferred leader) is broker
//! `(p + start) % n` of the brokers ordered by id, so leaders go round-robin from a random start;
//! the other replicas follow the first at a distance (`shift`) that grows by one every `n`
//! partitions, so the followers of one broker's partitions are spread over the others too. When
//! every broker has a rack the brokers are ordered alternating racks (first broker of each rack,
//! then the second, ...) and a replica goes to a rack that has none of the partition's replicas
//! while such a rack is left, so a partition spans `min(replication factor, racks)` racks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::records::BrokerId;

/// Why replicas cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    /// No unfenced broker.
    NoBrokers,
    /// A replication factor of 0, or above the number of unfenced brokers.
    ReplicationFactor {
        /// The factor asked for.
        requested: usize,
        /// Unfenced brokers.
        available: usize,
    },
    /// Some brokers have a rack and some do not.
    MixedRacks,
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::NoBrokers => write!(f, "no unfenced broker to place replicas on"),
            PlacementError::ReplicationFactor {
                requested,
                available,
            } => write!(
                f,
                "replication factor {requested} with {available} unfenced brokers"
            ),
            PlacementError::MixedRacks => {
                write!(f, "some brokers have broker.rack set and some do not")
            }
        }
    }
}

impl std::error::Error for PlacementError {}

/// Places partitions `first_partition..first_partition + count` with `replication_factor`
/// replicas each on `brokers` (id, rack), with a random start and shift.
pub fn place(
    brokers: &[(BrokerId, Option<String>)],
    first_partition: u32,
    count: u32,
    replication_factor: usize,
) -> Result<Vec<Vec<BrokerId>>, PlacementError> {
    let n = brokers.len().max(1);
    let start = rand::random::<usize>() % n;
    let shift = rand::random::<usize>() % n;
    place_with(
        brokers,
        first_partition,
        count,
        replication_factor,
        start,
        shift,
    )
}

/// [`place`] with the start broker and the first shift given.
pub fn place_with(
    brokers: &[(BrokerId, Option<String>)],
    first_partition: u32,
    count: u32,
    replication_factor: usize,
    start: usize,
    shift: usize,
) -> Result<Vec<Vec<BrokerId>>, PlacementError> {
    if brokers.is_empty() {
        return Err(PlacementError::NoBrokers);
    }
    if replication_factor == 0 || replication_factor > brokers.len() {
        return Err(PlacementError::ReplicationFactor {
            requested: replication_factor,
            available: brokers.len(),
        });
    }
    let with_rack = brokers.iter().filter(|(_, r)| r.is_some()).count();
    if with_rack != 0 && with_rack != brokers.len() {
        return Err(PlacementError::MixedRacks);
    }
    let ordered = if with_rack == 0 {
        let mut ids: Vec<(BrokerId, Option<&str>)> =
            brokers.iter().map(|(id, _)| (*id, None)).collect();
        ids.sort_unstable();
        ids
    } else {
        rack_alternated(brokers)
    };
    let racks = ordered
        .iter()
        .filter_map(|(_, r)| *r)
        .collect::<BTreeSet<_>>()
        .len();
    let n = ordered.len();
    let mut shift = shift % n;
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let p = first_partition as usize + i;
        if p > 0 && p.is_multiple_of(n) {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![ordered[first].0];
        let mut racks_used: BTreeSet<&str> = ordered[first].1.into_iter().collect();
        // Candidates after the first, at the partition's shift; n - 1 distinct brokers.
        let candidates: Vec<usize> = (0..n - 1)
            .map(|k| (first + 1 + (shift + k) % (n - 1)) % n)
            .collect();
        for strict in [true, false] {
            for &c in &candidates {
                if replicas.len() == replication_factor {
                    break;
                }
                let (id, rack) = ordered[c];
                if replicas.contains(&id) {
                    continue;
                }
                if strict
                    && racks_used.len() < racks
                    && rack.is_some_and(|r| racks_used.contains(r))
                {
                    continue;
                }
                replicas.push(id);
                racks_used.extend(rack);
            }
        }
        out.push(replicas);
    }
    Ok(out)
}

/// Brokers ordered by rack, alternating: the first broker (by id) of each rack, then the second
/// of each, and so on.
fn rack_alternated(brokers: &[(BrokerId, Option<String>)]) -> Vec<(BrokerId, Option<&str>)> {
    let mut by_rack: BTreeMap<&str, Vec<BrokerId>> = BTreeMap::new();
    for (id, rack) in brokers {
        by_rack
            .entry(rack.as_deref().unwrap_or(""))
            .or_default()
            .push(*id);
    }
    by_rack.values_mut().for_each(|ids| ids.sort_unstable());
    let longest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(brokers.len());
    for i in 0..longest {
        for (rack, ids) in &by_rack {
            if let Some(id) = ids.get(i) {
                out.push((*id, Some(*rack)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(ids: &[BrokerId]) -> Vec<(BrokerId, Option<String>)> {
        ids.iter().map(|id| (*id, None)).collect()
    }

    #[test]
    fn leaders_go_round_robin_from_the_start() {
        let got = place_with(&plain(&[3, 1, 2]), 0, 6, 1, 1, 0).unwrap();
        assert_eq!(
            got,
            vec![vec![2], vec![3], vec![1], vec![2], vec![3], vec![1]]
        );
    }

    #[test]
    fn replicas_are_distinct_and_leaders_spread() {
        for start in 0..5 {
            for shift in 0..5 {
                let got = place_with(&plain(&[1, 2, 3, 4, 5]), 0, 20, 3, start, shift).unwrap();
                let mut leaders = BTreeMap::new();
                for replicas in &got {
                    assert_eq!(replicas.len(), 3);
                    assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), 3);
                    *leaders.entry(replicas[0]).or_insert(0) += 1;
                }
                assert_eq!(leaders.values().copied().collect::<Vec<_>>(), vec![4; 5]);
            }
        }
    }

    #[test]
    fn followers_shift_every_n_partitions() {
        let got = place_with(&plain(&[1, 2, 3]), 0, 6, 2, 0, 0).unwrap();
        // Partitions 0-2 take the next broker as follower, 3-5 the one after.
        assert_eq!(got[0], vec![1, 2]);
        assert_eq!(got[3], vec![1, 3]);
    }

    #[test]
    fn rack_aware_spans_racks() {
        let brokers: Vec<(BrokerId, Option<String>)> = vec![
            (1, Some("a".into())),
            (2, Some("a".into())),
            (3, Some("a".into())),
            (4, Some("b".into())),
            (5, Some("c".into())),
            (6, Some("c".into())),
        ];
        let rack = |id: &BrokerId| brokers.iter().find(|b| b.0 == *id).unwrap().1.clone();
        for start in 0..6 {
            for shift in 0..6 {
                let got = place_with(&brokers, 0, 12, 3, start, shift).unwrap();
                for replicas in &got {
                    let racks: BTreeSet<_> = replicas.iter().map(rack).collect();
                    assert_eq!(racks.len(), 3, "{replicas:?}");
                }
                let got = place_with(&brokers, 0, 12, 5, start, shift).unwrap();
                for replicas in &got {
                    assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), 5);
                }
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(place(&[], 0, 1, 1), Err(PlacementError::NoBrokers));
        assert_eq!(
            place(&plain(&[1, 2]), 0, 1, 3),
            Err(PlacementError::ReplicationFactor {
                requested: 3,
                available: 2
            })
        );
        assert!(place(&plain(&[1]), 0, 1, 0).is_err());
        let mixed = vec![(1, Some("a".to_string())), (2, None)];
        assert_eq!(place(&mixed, 0, 1, 1), Err(PlacementError::MixedRacks));
        assert_eq!(place(&plain(&[7]), 4, 3, 1).unwrap(), vec![vec![7]; 3]);
    }
}
