//! Server-side partition assignors of the KIP-848 consumer protocol ("uniform" and "range"),
//! and parsing of classic consumer subscriptions (to know which topics a group reads).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, Bytes};

/// A topic as the assignors see it.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
}

/// One member's input to an assignor.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    /// Member id.
    pub id: String,
    /// Subscribed topic names.
    pub subscribed: BTreeSet<String>,
    /// The member's previous target assignment (kept where balance allows).
    pub previous: BTreeMap<String, BTreeSet<i32>>,
}

/// A target assignment: member id to topic to partitions.
pub type Assignment = BTreeMap<String, BTreeMap<String, BTreeSet<i32>>>;

/// Runs assignor `name` ("range"; anything else is "uniform").
pub fn assign(
    name: &str,
    members: &[MemberSpec],
    topics: &BTreeMap<String, TopicInfo>,
) -> Assignment {
    if name == "range" {
        range(members, topics)
    } else {
        uniform(members, topics)
    }
}

/// Spreads all subscribed partitions evenly, keeping each member's previous partitions where
/// that does not unbalance the group.
pub fn uniform(members: &[MemberSpec], topics: &BTreeMap<String, TopicInfo>) -> Assignment {
    let mut out: Assignment = members
        .iter()
        .map(|m| (m.id.clone(), BTreeMap::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    let mut all: Vec<(String, i32)> = Vec::new();
    for t in topics.values() {
        if members.iter().any(|m| m.subscribed.contains(&t.name)) {
            all.extend((0..t.partitions).map(|p| (t.name.clone(), p)));
        }
    }
    let quota_min = all.len() / members.len();
    let mut extras = all.len() % members.len();
    let mut taken: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    // Keep previous partitions up to the quota (one extra while extras remain).
    for m in members {
        let mut kept = 0usize;
        for (t, ps) in &m.previous {
            let Some(info) = topics.get(t) else { continue };
            if !m.subscribed.contains(t) {
                continue;
            }
            for &p in ps {
                let key = (t.clone(), p);
                if p >= info.partitions || taken.contains(&key) {
                    continue;
                }
                let limit = quota_min + usize::from(extras > 0 && kept >= quota_min);
                if kept >= limit {
                    break;
                }
                if kept == quota_min {
                    extras -= 1;
                }
                kept += 1;
                taken.insert(key);
                out.get_mut(&m.id)
                    .expect("member")
                    .entry(t.clone())
                    .or_default()
                    .insert(p);
            }
        }
        counts.insert(&m.id, kept);
    }
    // Hand out the rest, each to the eligible member holding the fewest.
    for (t, p) in all {
        if taken.contains(&(t.clone(), p)) {
            continue;
        }
        let best = members
            .iter()
            .filter(|m| m.subscribed.contains(&t))
            .min_by_key(|m| (counts[m.id.as_str()], m.id.clone()));
        if let Some(m) = best {
            *counts.get_mut(m.id.as_str()).expect("member") += 1;
            out.get_mut(&m.id)
                .expect("member")
                .entry(t.clone())
                .or_default()
                .insert(p);
        }
    }
    out
}

/// Kafka's range assignment: per topic, consecutive partition ranges to the subscribed members
/// in member-id order, the first ones getting one more when it does not divide evenly.
pub fn range(members: &[MemberSpec], topics: &BTreeMap<String, TopicInfo>) -> Assignment {
    let mut out: Assignment = members
        .iter()
        .map(|m| (m.id.clone(), BTreeMap::new()))
        .collect();
    for t in topics.values() {
        let mut subs: Vec<&MemberSpec> = members
            .iter()
            .filter(|m| m.subscribed.contains(&t.name))
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        let n = t.partitions.max(0) as usize;
        let per = n / subs.len();
        let extra = n % subs.len();
        let mut next = 0usize;
        for (i, m) in subs.iter().enumerate() {
            let take = per + usize::from(i < extra);
            if take > 0 {
                let set: BTreeSet<i32> = (next..next + take).map(|p| p as i32).collect();
                out.get_mut(&m.id)
                    .expect("member")
                    .insert(t.name.clone(), set);
            }
            next += take;
        }
    }
    out
}

/// Topics listed in a classic consumer-protocol subscription (ConsumerProtocolSubscription:
/// version, then an array of topic names). Unparseable metadata yields no topics.
pub fn subscription_topics(metadata: &Bytes) -> Vec<String> {
    let mut b = metadata.clone();
    let mut out = Vec::new();
    if b.remaining() < 6 {
        return out;
    }
    let _version = b.get_i16();
    let n = b.get_i32();
    for _ in 0..n.max(0) {
        if b.remaining() < 2 {
            break;
        }
        let len = b.get_i16();
        if len < 0 || b.remaining() < len as usize {
            break;
        }
        let s = b.split_to(len as usize);
        out.push(String::from_utf8_lossy(&s).into_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(spec: &[(&str, i32)]) -> BTreeMap<String, TopicInfo> {
        spec.iter()
            .map(|(n, p)| {
                (
                    n.to_string(),
                    TopicInfo {
                        name: n.to_string(),
                        partitions: *p,
                    },
                )
            })
            .collect()
    }

    fn member(id: &str, subs: &[&str]) -> MemberSpec {
        MemberSpec {
            id: id.into(),
            subscribed: subs.iter().map(|s| s.to_string()).collect(),
            previous: BTreeMap::new(),
        }
    }

    fn count(a: &Assignment, m: &str) -> usize {
        a[m].values().map(|s| s.len()).sum()
    }

    #[test]
    fn uniform_is_complete_balanced_and_sticky() {
        let t = topics(&[("a", 12)]);
        let ms = vec![
            member("m1", &["a"]),
            member("m2", &["a"]),
            member("m3", &["a"]),
        ];
        let first = uniform(&ms, &t);
        assert_eq!(
            (
                count(&first, "m1"),
                count(&first, "m2"),
                count(&first, "m3")
            ),
            (4, 4, 4)
        );
        // A fourth member joins: only 3 partitions move, each member keeps 3 of its own.
        let mut ms2: Vec<MemberSpec> = ms
            .iter()
            .map(|m| MemberSpec {
                previous: first[&m.id].clone(),
                ..m.clone()
            })
            .collect();
        ms2.push(member("m4", &["a"]));
        let second = uniform(&ms2, &t);
        let mut seen = BTreeSet::new();
        for m in ["m1", "m2", "m3", "m4"] {
            assert_eq!(count(&second, m), 3);
            for p in second[m].get("a").into_iter().flatten() {
                assert!(seen.insert(*p), "partition {p} assigned twice");
            }
        }
        assert_eq!(seen.len(), 12);
        for m in ["m1", "m2", "m3"] {
            assert!(second[m]["a"].is_subset(&first[m]["a"]));
        }
    }

    #[test]
    fn range_gives_consecutive_ranges() {
        let t = topics(&[("a", 5)]);
        let ms = vec![member("m2", &["a"]), member("m1", &["a"])];
        let a = range(&ms, &t);
        assert_eq!(a["m1"]["a"], BTreeSet::from([0, 1, 2]));
        assert_eq!(a["m2"]["a"], BTreeSet::from([3, 4]));
    }

    #[test]
    fn subscription_parse() {
        let mut b = bytes::BytesMut::new();
        use bytes::BufMut;
        b.put_i16(1);
        b.put_i32(2);
        for t in ["x", "yy"] {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        assert_eq!(subscription_topics(&b.freeze()), vec!["x", "yy"]);
        assert!(subscription_topics(&Bytes::from_static(b"\x00")).is_empty());
    }
}
