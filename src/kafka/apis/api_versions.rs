//! ApiVersions: the API ranges Runnel advertises, matching Apache Kafka 4.1 for every API that
//! is implemented, with one deliberate difference: the transaction APIs stop below
//! transactions V2 (KIP-890 part 2), which Runnel does not implement.
//!
//! Clients read these ranges to pick request versions, and some infer the broker's release
//! from them (kafka-python sees 4.1 from Produce v13): every range is one real Kafka 4.1
//! broker's, never above what kafka-protocol 0.18 can decode, and never below the floors
//! Kafka 4 keeps (KIP-896).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, ResponseKind};

use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;

/// (API, min version, max version) as advertised; Kafka 4.1's ranges, except that the
/// transaction APIs stop below the versions of transactions V2 (KIP-890 part 2), which Runnel
/// does not implement: AddPartitionsToTxn v4+ (broker-side verification), EndTxn v5 and
/// TxnOffsetCommit v5 (Kafka 4.1: 0-5, 0-5, 0-5).
///
/// Produce is advertised from v0 because librdkafka requires it (KAFKA-18659), as Kafka 4 does;
/// v2 is served, v0-v1 (message format v0/v1 only) close the connection.
///
/// What the versions added since Kafka 4.0 change, and how each is served: Produce v13 names
/// topics by id (KIP-516), Fetch v18 adds the follower's high watermark (KIP-1166, a tagged
/// field a single node ignores), ListOffsets v10 adds `timeout_ms` (KIP-1075, for remote
/// storage; nothing here waits), Metadata v13 a top-level error code, DescribeCluster v2 fenced
/// brokers (KIP-1073; a single node is never fenced), ListTransactions v2 a transactional id
/// pattern (KIP-1152) and AlterPartitionReassignments v1 `allow_replication_factor_change`
/// (KIP-860).
pub const ADVERTISED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::AlterReplicaLogDirs, 1, 2),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
];

/// The advertised range of `key`, if the API is implemented.
pub fn supported(key: ApiKey) -> Option<(i16, i16)> {
    ADVERTISED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, a, b)| (a, b))
}

fn api_list() -> Vec<ApiVersion> {
    ADVERTISED
        .iter()
        .map(|&(k, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = k as i16;
            v.min_version = min;
            v.max_version = max;
            v
        })
        .collect()
}

/// Answers ApiVersions.
pub fn handle(_ctx: &RequestContext, _req: ApiVersionsRequest) -> ResponseKind {
    response()
}

/// The ApiVersions answer (the same on every listener, before authentication too, as Kafka's).
pub fn response() -> ResponseKind {
    let mut r = ApiVersionsResponse::default();
    r.error_code = errors::NONE;
    r.api_keys = api_list();
    ResponseKind::ApiVersions(r)
}

/// SaslHandshake or SaslAuthenticate where no exchange can be: on a PLAINTEXT listener, or
/// after the connection authenticated when re-authentication (KIP-368, [`crate::kafka::reauth`])
/// is off or not in progress: ILLEGAL_SASL_STATE, as Kafka answers.
pub fn sasl_out_of_place(key: ApiKey) -> ResponseKind {
    let code = KafkaError::IllegalSaslState.code();
    if key == ApiKey::SaslHandshake {
        let mut r = kafka_protocol::messages::SaslHandshakeResponse::default();
        r.error_code = code;
        ResponseKind::SaslHandshake(r)
    } else {
        let mut r = kafka_protocol::messages::SaslAuthenticateResponse::default();
        r.error_code = code;
        r.error_message = Some(kafka_protocol::protocol::StrBytes::from_static_str(
            "Unexpected SASL request: the connection is not in a SASL exchange",
        ));
        ResponseKind::SaslAuthenticate(r)
    }
}

/// The v0 answer to an ApiVersions request of a version we cannot parse (KIP-511).
pub fn unsupported_version_response() -> ResponseKind {
    let mut r = ApiVersionsResponse::default();
    r.error_code = KafkaError::UnsupportedVersion.code();
    r.api_keys = api_list();
    ResponseKind::ApiVersions(r)
}
