//! The records of `__transaction_state` in Kafka's own schemas (key version 0: the
//! transactional id; value version 0: producer id and epoch, timeout, state, partitions and
//! timestamps), so that Kafka tooling reading the topic understands them.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TxnMeta, TxnState};

/// The stored part of a [`TxnMeta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnValue {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// transaction.timeout.ms.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions of the transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Last update, ms.
    pub update_ms: i64,
    /// Transaction start, ms (-1 when none).
    pub start_ms: i64,
}

impl TxnValue {
    /// The stored form of `m`.
    pub fn of(m: &TxnMeta) -> TxnValue {
        TxnValue {
            producer_id: m.producer_id,
            epoch: m.epoch,
            timeout_ms: m.timeout_ms,
            state: m.state,
            partitions: m.partitions.clone(),
            update_ms: m.update_ms,
            start_ms: m.start_ms,
        }
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

/// Encodes the key of transactional id `txn_id`.
pub fn encode_key(txn_id: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + txn_id.len());
    b.put_i16(0);
    put_str(&mut b, txn_id);
    b.freeze()
}

/// Encodes a value (version 0).
pub fn encode_value(v: &TxnValue) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_i16(0);
    b.put_i64(v.producer_id);
    b.put_i16(v.epoch);
    b.put_i32(v.timeout_ms);
    b.put_i8(v.state as i8);
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in &v.partitions {
        match topics.last_mut() {
            Some((name, ps)) if *name == t.as_str() => ps.push(*p),
            _ => topics.push((t.as_str(), vec![*p])),
        }
    }
    b.put_i32(topics.len() as i32);
    for (t, ps) in topics {
        put_str(&mut b, t);
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(p);
        }
    }
    b.put_i64(v.update_ms);
    b.put_i64(v.start_ms);
    b.freeze()
}

fn get_str(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_i16();
    if n < 0 || b.remaining() < n as usize {
        return None;
    }
    String::from_utf8(b.split_to(n as usize).to_vec()).ok()
}

/// Decodes a key into the transactional id.
pub fn decode_key(mut b: Bytes) -> Option<String> {
    if b.remaining() < 2 || b.get_i16() != 0 {
        return None;
    }
    get_str(&mut b)
}

/// Decodes a value of version 0 or 1 (the fields of version 0 come first in both).
pub fn decode_value(mut b: Bytes) -> Option<TxnValue> {
    if b.remaining() < 2 + 8 + 2 + 4 + 1 + 4 {
        return None;
    }
    let version = b.get_i16();
    if version != 0 {
        return None;
    }
    let producer_id = b.get_i64();
    let epoch = b.get_i16();
    let timeout_ms = b.get_i32();
    let state = TxnState::from_i8(b.get_i8())?;
    let mut partitions = BTreeSet::new();
    let n = b.get_i32();
    for _ in 0..n.max(0) {
        let t = get_str(&mut b)?;
        if b.remaining() < 4 {
            return None;
        }
        let k = b.get_i32();
        if b.remaining() < 4 * k.max(0) as usize {
            return None;
        }
        for _ in 0..k.max(0) {
            partitions.insert((t.clone(), b.get_i32()));
        }
    }
    if b.remaining() < 16 {
        return None;
    }
    Some(TxnValue {
        producer_id,
        epoch,
        timeout_ms,
        state,
        partitions,
        update_ms: b.get_i64(),
        start_ms: b.get_i64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut partitions = BTreeSet::new();
        partitions.insert(("a".to_string(), 1));
        partitions.insert(("a".to_string(), 3));
        partitions.insert(("b".to_string(), 0));
        let v = TxnValue {
            producer_id: 42,
            epoch: 3,
            timeout_ms: 60000,
            state: TxnState::PrepareCommit,
            partitions,
            update_ms: 5,
            start_ms: 4,
        };
        let enc = encode_value(&v);
        assert_eq!(decode_value(enc.clone()), Some(v));
        assert_eq!(decode_value(enc.slice(..enc.len() - 1)), None);
        assert_eq!(decode_key(encode_key("tx-1")), Some("tx-1".to_string()));
    }
}
