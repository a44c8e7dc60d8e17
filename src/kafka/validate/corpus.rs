//! Request frames for tests, benchmarks and the fuzzing seed corpus: a default request of every
//! advertised API and version as kafka-protocol encodes it, and random well-formed requests
//! generated from the request layouts (every field, nested structs, nulls, tagged fields).

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::schema::STRUCTS;
use super::spec::{Field, Kind};
use super::{header_version, message, HEADER};

/// The deterministic generator of the storage crate (SplitMix64).
pub use crate::storage::rng::Rng;

macro_rules! default_request {
    ($key:expr, $($name:ident),* $(,)?) => {
        match $key {
            $(ApiKey::$name => Some(RequestKind::$name(Default::default())),)*
            _ => None,
        }
    };
}

/// A default request of `key`, if Runnel advertises the API.
pub fn default_request(key: ApiKey) -> Option<RequestKind> {
    default_request!(
        key,
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        OffsetCommit,
        OffsetFetch,
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        DescribeGroups,
        ListGroups,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        DeleteRecords,
        DeleteGroups,
        OffsetDelete,
        ConsumerGroupHeartbeat,
        ConsumerGroupDescribe,
        InitProducerId,
        AddPartitionsToTxn,
        AddOffsetsToTxn,
        EndTxn,
        TxnOffsetCommit,
        WriteTxnMarkers,
        DescribeProducers,
        DescribeTransactions,
        ListTransactions,
        DescribeConfigs,
        AlterConfigs,
        IncrementalAlterConfigs,
        CreatePartitions,
        DescribeCluster,
        DescribeLogDirs,
        DescribeTopicPartitions,
        AlterPartitionReassignments,
        ListPartitionReassignments,
        ElectLeaders,
        AlterReplicaLogDirs,
        DescribeAcls,
        CreateAcls,
        DeleteAcls,
        DescribeUserScramCredentials,
        AlterUserScramCredentials,
        SaslHandshake,
        SaslAuthenticate,
        OffsetForLeaderEpoch,
    )
}

fn header(key: ApiKey, version: i16, buf: &mut BytesMut) {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 7;
    h.client_id = Some(StrBytes::from_static_str("corpus"));
    h.encode(buf, key.request_header_version(version))
        .expect("header encodes");
}

/// A frame (without size prefix) holding a default request of `key` at `version`, encoded by
/// kafka-protocol. Produce v0-v2, which kafka-protocol cannot encode, get the v3 body without
/// its transactional id (the same layout).
pub fn default_frame(key: ApiKey, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    if key == ApiKey::Produce && version < 3 {
        let mut h = RequestHeader::default();
        h.request_api_key = 0;
        h.request_api_version = version;
        h.client_id = Some(StrBytes::from_static_str("corpus"));
        h.encode(&mut buf, 1).expect("header encodes");
        let mut body = BytesMut::new();
        default_request(key)
            .expect("advertised")
            .encode(&mut body, 3)
            .expect("request encodes");
        buf.extend_from_slice(&body[2..]);
        return buf.to_vec();
    }
    header(key, version, &mut buf);
    default_request(key)
        .expect("advertised")
        .encode(&mut buf, version)
        .expect("request encodes");
    buf.to_vec()
}

/// A random well-formed frame (without size prefix) of API `key` at `version`, generated from
/// the request layout: arrays of up to three elements, short strings, nulls where allowed, known
/// tagged fields and an occasional unknown one.
pub fn random_frame(key: ApiKey, version: i16, rng: &mut Rng) -> Vec<u8> {
    let m = message(key as i16).expect("advertised");
    let mut out = Vec::new();
    let hv = header_version(m, version);
    let mut g = Gen { rng, out: &mut out };
    g.put(&(key as i16).to_be_bytes());
    g.put(&version.to_be_bytes());
    let correlation_id = g.rng.next_u64() as i32;
    g.put(&correlation_id.to_be_bytes());
    // The rest of the header: client id and, in v2, tagged fields.
    g.rest_of_struct(HEADER.root, hv, HEADER.flexible.has(hv), 3, 0);
    g.structure(m.root, version, m.flexible.has(version), 0);
    out
}

struct Gen<'a> {
    rng: &'a mut Rng,
    out: &'a mut Vec<u8>,
}

impl Gen<'_> {
    fn put(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.out.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn len(&mut self, n: Option<usize>, compact: bool, wide: bool) {
        match (n, compact) {
            (None, true) => self.uvarint(0),
            (Some(n), true) => self.uvarint(n as u32 + 1),
            (None, false) if wide => self.put(&(-1i32).to_be_bytes()),
            (None, false) => self.put(&(-1i16).to_be_bytes()),
            (Some(n), false) if wide => self.put(&(n as i32).to_be_bytes()),
            (Some(n), false) => self.put(&(n as i16).to_be_bytes()),
        }
    }

    fn random(&mut self, n: usize) {
        for _ in 0..n {
            let b = self.rng.next_u64() as u8;
            self.out.push(b);
        }
    }

    fn structure(&mut self, index: u16, version: i16, flexible: bool, depth: u32) {
        self.rest_of_struct(index, version, flexible, 0, depth)
    }

    /// Writes the fields of struct `index` from the `skip`-th on, then its tagged fields.
    fn rest_of_struct(
        &mut self,
        index: u16,
        version: i16,
        flexible: bool,
        skip: usize,
        depth: u32,
    ) {
        let fields = STRUCTS[index as usize];
        for f in fields.iter().skip(skip) {
            if f.is_regular(version, flexible) {
                self.field(f, version, flexible, depth);
            }
        }
        if !flexible {
            return;
        }
        let mut tagged: Vec<(u32, Vec<u8>)> = Vec::new();
        for f in fields {
            let Some(t) = &f.tag else { continue };
            if f.versions.has(version) && t.versions.has(version) && self.rng.one_in(2) {
                let mut value = Vec::new();
                let mut g = Gen {
                    rng: &mut *self.rng,
                    out: &mut value,
                };
                g.field(f, version, true, depth);
                tagged.push((t.tag, value));
            }
        }
        if self.rng.one_in(4) {
            let mut value = Vec::new();
            let n = self.rng.below(4) as usize;
            Gen {
                rng: &mut *self.rng,
                out: &mut value,
            }
            .random(n);
            tagged.push((1000 + self.rng.below(100) as u32, value));
        }
        self.uvarint(tagged.len() as u32);
        for (tag, value) in tagged {
            self.uvarint(tag);
            self.uvarint(value.len() as u32);
            self.put(&value);
        }
    }

    fn field(&mut self, f: &Field, version: i16, flexible: bool, depth: u32) {
        let compact = f.compact(version, flexible);
        let nullable = f.nullable.has(version);
        self.kind(&f.kind, version, flexible, compact, nullable, depth)
    }

    fn kind(
        &mut self,
        kind: &Kind,
        version: i16,
        flexible: bool,
        compact: bool,
        nullable: bool,
        depth: u32,
    ) {
        let null = nullable && self.rng.one_in(4);
        match kind {
            Kind::Bool => {
                let b = self.rng.below(2) as u8;
                self.out.push(b)
            }
            Kind::Int8 => self.random(1),
            Kind::Int16 | Kind::Uint16 => self.random(2),
            Kind::Int32 | Kind::Uint32 => self.random(4),
            Kind::Int64 | Kind::Float64 => self.random(8),
            Kind::Uuid => self.random(16),
            Kind::Str if null => self.len(None, compact, false),
            Kind::Str => {
                let n = self.rng.below(5) as usize;
                self.len(Some(n), compact, false);
                for _ in 0..n {
                    let c = b'a' + self.rng.below(26) as u8;
                    self.out.push(c);
                }
            }
            Kind::Bytes | Kind::Records if null => self.len(None, compact, true),
            Kind::Bytes | Kind::Records => {
                let n = self.rng.below(9) as usize;
                self.len(Some(n), compact, true);
                self.random(n);
            }
            Kind::Struct(s) => {
                if nullable {
                    self.out.push(if null { 0xff } else { 1 });
                    if null {
                        return;
                    }
                }
                self.structure(*s, version, flexible, depth + 1)
            }
            Kind::Array(_) if null => self.len(None, compact, true),
            Kind::Array(elem) => {
                let n = if depth > 3 {
                    0
                } else {
                    self.rng.below(4) as usize
                };
                self.len(Some(n), compact, true);
                for _ in 0..n {
                    self.kind(elem, version, flexible, compact, false, depth + 1);
                }
            }
        }
    }
}
