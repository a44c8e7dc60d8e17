//! Kafka error codes used by the broker (the numbers clients see on the wire).

/// No error.
pub const NONE: i16 = 0;
/// An unexpected server error.
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
/// The requested offset is not within the range of offsets held by the broker.
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
/// A message failed its CRC check or is otherwise malformed.
pub const CORRUPT_MESSAGE: i16 = 2;
/// The topic or partition does not exist on this broker.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// This broker is not the leader of the partition.
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// The coordinator is not available.
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// The request timed out.
pub const REQUEST_TIMED_OUT: i16 = 7;
/// A record batch is larger than the maximum allowed.
pub const MESSAGE_TOO_LARGE: i16 = 10;
/// The topic name is invalid.
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
/// acks other than -1, 0 or 1.
pub const INVALID_REQUIRED_ACKS: i16 = 21;
/// The version of the API is not supported.
pub const UNSUPPORTED_VERSION: i16 = 35;
/// The topic already exists.
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
/// The number of partitions is invalid.
pub const INVALID_PARTITIONS: i16 = 37;
/// The replication factor is invalid.
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
/// Manual replica assignment is invalid.
pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
/// A configuration value is invalid.
pub const INVALID_CONFIG: i16 = 40;
/// The request is malformed.
pub const INVALID_REQUEST: i16 = 42;
/// The message format version does not support the request (magic < 2).
pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
/// A disk error prevented the operation.
pub const KAFKA_STORAGE_ERROR: i16 = 56;
/// A record was rejected.
pub const INVALID_RECORD: i16 = 87;
/// The topic id is not known.
pub const UNKNOWN_TOPIC_ID: i16 = 100;
/// The coordinator is loading and cannot serve the group yet.
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
/// This broker is not the coordinator of the group.
pub const NOT_COORDINATOR: i16 = 16;
/// The offset commit's metadata is larger than offset.metadata.max.bytes.
pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
/// The group's members use protocols that do not match.
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
/// The group id is empty or invalid.
pub const INVALID_GROUP_ID: i16 = 24;
/// The member is not (or no longer) in the group.
pub const UNKNOWN_MEMBER_ID: i16 = 25;
/// The session timeout is outside the broker's allowed range.
pub const INVALID_SESSION_TIMEOUT: i16 = 26;
/// The group is rebalancing; the member must rejoin.
pub const REBALANCE_IN_PROGRESS: i16 = 27;
/// The generation id is not the group's current one.
pub const ILLEGAL_GENERATION: i16 = 22;
/// The group is not empty (DeleteGroups).
pub const NON_EMPTY_GROUP: i16 = 68;
/// The group does not exist.
pub const GROUP_ID_NOT_FOUND: i16 = 69;
/// JoinGroup must be retried with the member id the broker assigned (KIP-394).
pub const MEMBER_ID_REQUIRED: i16 = 79;
/// The group is full.
pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
/// Another member with the same group.instance.id has replaced this one (KIP-345).
pub const FENCED_INSTANCE_ID: i16 = 82;
/// OffsetDelete of a topic the group's active members are subscribed to.
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
/// The member epoch is fenced by the group coordinator (KIP-848).
pub const FENCED_MEMBER_EPOCH: i16 = 110;
/// The member epoch is stale (KIP-848 commits).
pub const STALE_MEMBER_EPOCH: i16 = 113;
/// The assignor named by the member is not supported.
pub const UNSUPPORTED_ASSIGNOR: i16 = 112;
/// A static member's instance id is still held by another member (KIP-848).
pub const UNRELEASED_INSTANCE_ID: i16 = 111;
/// A batch's sequence number is not the one following the producer's last batch.
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
/// The producer's epoch is older than the one the broker knows (a zombie producer).
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
/// The transaction is not in a state that allows the request.
pub const INVALID_TXN_STATE: i16 = 48;
/// The producer id does not belong to the transactional id.
pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
/// transaction.timeout.ms is larger than transaction.max.timeout.ms.
pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
/// Another operation on the same transactional id is in progress; retry.
pub const CONCURRENT_TRANSACTIONS: i16 = 51;
/// Not attempted because another part of the request failed.
pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
/// The broker has no record of the producer id (its state expired or was never written).
pub const UNKNOWN_PRODUCER_ID: i16 = 59;
/// Offsets committed in a transaction that is not finished yet (OffsetFetch require_stable).
pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
/// A newer producer with the same transactional id has fenced this one.
pub const PRODUCER_FENCED: i16 = 90;
/// The transactional id is not known to the coordinator.
pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
/// Fewer in-sync replicas than `min.insync.replicas` for an acks=all produce.
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
/// A record timestamp outside the topic's accepted range.
pub const INVALID_TIMESTAMP: i16 = 32;
/// Security features (ACLs) are disabled: no authorizer is configured.
pub const SECURITY_DISABLED: i16 = 54;
/// The log directory named is not one of the broker's.
pub const LOG_DIR_NOT_FOUND: i16 = 57;
/// The partition's leader is already its preferred replica.
pub const ELECTION_NOT_NEEDED: i16 = 84;
/// No partition reassignment is in progress.
pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
/// DescribeCluster asked for an endpoint type this broker does not serve.
pub const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;
/// A regular expression in the request does not compile (ListTransactions v2's pattern).
pub const INVALID_REGULAR_EXPRESSION: i16 = 128;

/// The Kafka error code for a log engine error.
pub fn log_error(e: &crate::storage::LogError) -> i16 {
    use crate::storage::LogError;
    match e {
        LogError::OffsetOutOfRange => OFFSET_OUT_OF_RANGE,
        LogError::Io(_)
        | LogError::Discarded
        | LogError::Offline(_)
        | LogError::Closed
        | LogError::CorruptStored { .. }
        | LogError::BadOwnBatch(_) => KAFKA_STORAGE_ERROR,
        LogError::Producer(f) => producer_fault(*f),
        LogError::Corrupt(_) => CORRUPT_MESSAGE,
    }
}

/// The Kafka error code for a batch the producer state refused.
pub fn producer_fault(f: crate::storage::producers::ProducerFault) -> i16 {
    use crate::storage::producers::ProducerFault;
    match f {
        ProducerFault::UnknownProducerId => UNKNOWN_PRODUCER_ID,
        ProducerFault::InvalidProducerEpoch => INVALID_PRODUCER_EPOCH,
        ProducerFault::OutOfOrderSequence => OUT_OF_ORDER_SEQUENCE_NUMBER,
    }
}

/// The Kafka error code for a produced batch that failed validation: `INVALID_RECORD` when its
/// header's counts are inconsistent, `CORRUPT_MESSAGE` when its records are malformed.
pub fn invalid_batch(e: &crate::storage::validate::Invalid) -> i16 {
    if e.is_header() {
        INVALID_RECORD
    } else {
        CORRUPT_MESSAGE
    }
}
