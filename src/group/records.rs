//! The records of `__consumer_offsets`, in Kafka's own key and value schemas, so that Kafka
//! tooling reading the topic understands them and compaction keeps the latest value per key.
//!
//! - Offset commit: key version 1 (group, topic, partition), value version 3 (offset, leader
//!   epoch, metadata, commit timestamp).
//! - Group metadata: key version 2 (group), value version 3 (protocol type, generation,
//!   protocol, leader, state timestamp, members with subscription and assignment).
//! - A record without a value (tombstone) deletes the key.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Key of a `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetsKey {
    /// A committed offset.
    Offset {
        /// Group id.
        group: String,
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: i32,
    },
    /// A group's membership and assignment.
    Group {
        /// Group id.
        group: String,
    },
}

impl OffsetsKey {
    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            OffsetsKey::Offset { group, .. } | OffsetsKey::Group { group } => group,
        }
    }
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// The committed offset (the next record to consume).
    pub offset: i64,
    /// Leader epoch given with the commit (-1 when none).
    pub leader_epoch: i32,
    /// Client metadata string, returned as committed.
    pub metadata: String,
    /// When the commit was made, ms since the epoch.
    pub commit_timestamp: i64,
}

/// One member of a stored classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    /// Member id.
    pub member_id: String,
    /// group.instance.id of a static member.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout, ms.
    pub rebalance_timeout: i32,
    /// Session timeout, ms.
    pub session_timeout: i32,
    /// Metadata of the chosen protocol.
    pub subscription: Bytes,
    /// Assignment given by the leader.
    pub assignment: Bytes,
}

/// A classic group's state as stored after each completed rebalance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    /// Protocol type ("consumer" for consumers).
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// Chosen protocol (assignor) name.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state, ms since the epoch.
    pub state_timestamp: i64,
    /// Members.
    pub members: Vec<MemberValue>,
}

/// A decoded `__consumer_offsets` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetsValue {
    /// An offset commit.
    Offset(OffsetValue),
    /// Group metadata.
    Group(GroupValue),
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

/// Encodes a key.
pub fn encode_key(key: &OffsetsKey) -> Bytes {
    let mut b = BytesMut::new();
    match key {
        OffsetsKey::Offset {
            group,
            topic,
            partition,
        } => {
            b.put_i16(1);
            put_str(&mut b, group);
            put_str(&mut b, topic);
            b.put_i32(*partition);
        }
        OffsetsKey::Group { group } => {
            b.put_i16(2);
            put_str(&mut b, group);
        }
    }
    b.freeze()
}

/// Encodes an offset commit value (version 3).
pub fn encode_offset(v: &OffsetValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    b.put_i64(v.offset);
    b.put_i32(v.leader_epoch);
    put_str(&mut b, &v.metadata);
    b.put_i64(v.commit_timestamp);
    b.freeze()
}

/// Encodes a group metadata value (version 3).
pub fn encode_group(v: &GroupValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, &v.protocol_type);
    b.put_i32(v.generation);
    put_nullable_str(&mut b, v.protocol.as_deref());
    put_nullable_str(&mut b, v.leader.as_deref());
    b.put_i64(v.state_timestamp);
    b.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_str(&mut b, &m.member_id);
        put_nullable_str(&mut b, m.instance_id.as_deref());
        put_str(&mut b, &m.client_id);
        put_str(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout);
        b.put_i32(m.session_timeout);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

/// Reader over a schema-encoded buffer; every read fails cleanly on truncation.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Option<()> {
        (self.0.remaining() >= n).then_some(())
    }
    fn i16(&mut self) -> Option<i16> {
        self.need(2)?;
        Some(self.0.get_i16())
    }
    fn i32(&mut self) -> Option<i32> {
        self.need(4)?;
        Some(self.0.get_i32())
    }
    fn i64(&mut self) -> Option<i64> {
        self.need(8)?;
        Some(self.0.get_i64())
    }
    fn nullable_str(&mut self) -> Option<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Some(None);
        }
        self.need(n as usize)?;
        let s = self.0.split_to(n as usize);
        Some(Some(String::from_utf8_lossy(&s).into_owned()))
    }
    fn str(&mut self) -> Option<String> {
        self.nullable_str()?
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.i32()?;
        if n < 0 {
            return Some(Bytes::new());
        }
        self.need(n as usize)?;
        Some(self.0.split_to(n as usize))
    }
}

/// Decodes a key; `None` for key versions Runnel does not use.
pub fn decode_key(key: Bytes) -> Option<OffsetsKey> {
    let mut r = Reader(key);
    match r.i16()? {
        0 | 1 => Some(OffsetsKey::Offset {
            group: r.str()?,
            topic: r.str()?,
            partition: r.i32()?,
        }),
        2 => Some(OffsetsKey::Group { group: r.str()? }),
        _ => None,
    }
}

/// Decodes the value stored under `key`.
pub fn decode_value(key: &OffsetsKey, value: Bytes) -> Option<OffsetsValue> {
    let mut r = Reader(value);
    let version = r.i16()?;
    match key {
        OffsetsKey::Offset { .. } => {
            let offset = r.i64()?;
            let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
            let metadata = r.str()?;
            let commit_timestamp = r.i64()?;
            Some(OffsetsValue::Offset(OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp,
            }))
        }
        OffsetsKey::Group { .. } => {
            let protocol_type = r.str()?;
            let generation = r.i32()?;
            let protocol = r.nullable_str()?;
            let leader = r.nullable_str()?;
            let state_timestamp = if version >= 2 { r.i64()? } else { -1 };
            let n = r.i32()?.max(0) as usize;
            let mut members = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let member_id = r.str()?;
                let instance_id = if version >= 3 {
                    r.nullable_str()?
                } else {
                    None
                };
                let client_id = r.str()?;
                let client_host = r.str()?;
                let rebalance_timeout = if version >= 1 { r.i32()? } else { -1 };
                let session_timeout = r.i32()?;
                let subscription = r.bytes()?;
                let assignment = r.bytes()?;
                members.push(MemberValue {
                    member_id,
                    instance_id,
                    client_id,
                    client_host,
                    rebalance_timeout,
                    session_timeout,
                    subscription,
                    assignment,
                });
            }
            Some(OffsetsValue::Group(GroupValue {
                protocol_type,
                generation,
                protocol,
                leader,
                state_timestamp,
                members,
            }))
        }
    }
}

/// Partition of `__consumer_offsets` that holds `group`: Kafka's choice (Java's
/// `String.hashCode`, made non-negative, modulo the partition count).
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    let h = if h == i32::MIN { 0 } else { h.abs() };
    h % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_round_trip() {
        let k = OffsetsKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        };
        let v = OffsetValue {
            offset: 42,
            leader_epoch: -1,
            metadata: "meta".into(),
            commit_timestamp: 1000,
        };
        let k2 = decode_key(encode_key(&k)).unwrap();
        assert_eq!(k2, k);
        assert_eq!(
            decode_value(&k2, encode_offset(&v)),
            Some(OffsetsValue::Offset(v))
        );
    }

    #[test]
    fn group_round_trip_and_truncation() {
        let k = OffsetsKey::Group { group: "g".into() };
        let v = GroupValue {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            state_timestamp: 5,
            members: vec![MemberValue {
                member_id: "m1".into(),
                instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout: 300000,
                session_timeout: 45000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let enc = encode_group(&v);
        assert_eq!(decode_value(&k, enc.clone()), Some(OffsetsValue::Group(v)));
        assert_eq!(decode_value(&k, enc.slice(..enc.len() - 2)), None);
    }

    #[test]
    fn partition_matches_java_hash() {
        // "group".hashCode() == 98629247 in Java.
        assert_eq!(partition_for("group", 50), 98629247 % 50);
        assert!(partition_for("é-ü-日本", 16) < 16);
    }
}
