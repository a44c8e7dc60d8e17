//! Kafka-visible errors: the typed [`KafkaError`] the broker's layers pass to each other, and its
//! conversion to the numeric codes clients see. Internal results are `Result<T, KafkaError>` or
//! `Option<KafkaError>`; the number is taken only where a response struct is filled
//! (src/kafka/apis/), with [`KafkaError::code`] or [`code`].

use std::fmt;

/// The wire code of "no error".
pub const NONE: i16 = 0;

/// An error a Kafka client can be told about, named after Kafka's `Errors` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KafkaError {
    /// An unexpected server error.
    UnknownServerError,
    /// The requested offset is not within the range of offsets held by the broker.
    OffsetOutOfRange,
    /// A message failed its CRC check or is otherwise malformed.
    CorruptMessage,
    /// The topic or partition does not exist on this broker.
    UnknownTopicOrPartition,
    /// This broker is not the leader of the partition.
    NotLeaderOrFollower,
    /// The partition has no leader (its leader is fenced and no other replica can lead).
    LeaderNotAvailable,
    /// The request timed out.
    RequestTimedOut,
    /// A record batch is larger than the maximum allowed.
    MessageTooLarge,
    /// The offset commit's metadata is larger than offset.metadata.max.bytes.
    OffsetMetadataTooLarge,
    /// The coordinator is loading and cannot serve the group yet.
    CoordinatorLoadInProgress,
    /// The coordinator is not available.
    CoordinatorNotAvailable,
    /// This broker is not the coordinator of the group.
    NotCoordinator,
    /// The topic name is invalid.
    InvalidTopicException,
    /// Fewer in-sync replicas than `min.insync.replicas` for an acks=all produce.
    NotEnoughReplicas,
    /// The ISR shrank below `min.insync.replicas` while an acks=all produce waited (its records
    /// were appended).
    NotEnoughReplicasAfterAppend,
    /// acks other than -1, 0 or 1.
    InvalidRequiredAcks,
    /// The generation id is not the group's current one.
    IllegalGeneration,
    /// The group's members use protocols that do not match.
    InconsistentGroupProtocol,
    /// The group id is empty or invalid.
    InvalidGroupId,
    /// The member is not (or no longer) in the group.
    UnknownMemberId,
    /// The session timeout is outside the broker's allowed range.
    InvalidSessionTimeout,
    /// The group is rebalancing; the member must rejoin.
    RebalanceInProgress,
    /// A record timestamp outside the topic's accepted range.
    InvalidTimestamp,
    /// The version of the API is not supported.
    UnsupportedVersion,
    /// The topic already exists.
    TopicAlreadyExists,
    /// The number of partitions is invalid.
    InvalidPartitions,
    /// The replication factor is invalid.
    InvalidReplicationFactor,
    /// Manual replica assignment is invalid.
    InvalidReplicaAssignment,
    /// A configuration value is invalid.
    InvalidConfig,
    /// The request is malformed.
    InvalidRequest,
    /// This broker cannot reach the active controller (it moved, or is shutting down).
    NotController,
    /// The message format version does not support the request (magic < 2).
    UnsupportedForMessageFormat,
    /// A batch's sequence number is not the one following the producer's last batch.
    OutOfOrderSequenceNumber,
    /// The producer's epoch is older than the one the broker knows (a zombie producer).
    InvalidProducerEpoch,
    /// The transaction is not in a state that allows the request.
    InvalidTxnState,
    /// The producer id does not belong to the transactional id.
    InvalidProducerIdMapping,
    /// transaction.timeout.ms is larger than transaction.max.timeout.ms.
    InvalidTransactionTimeout,
    /// Another operation on the same transactional id is in progress; retry.
    ConcurrentTransactions,
    /// Security features (ACLs) are disabled: no authorizer is configured.
    SecurityDisabled,
    /// Not attempted because another part of the request failed.
    OperationNotAttempted,
    /// A disk error prevented the operation.
    KafkaStorageError,
    /// The log directory named is not one of the broker's.
    LogDirNotFound,
    /// The broker has no record of the producer id (its state expired or was never written).
    UnknownProducerId,
    /// The group is not empty (DeleteGroups).
    NonEmptyGroup,
    /// The group does not exist.
    GroupIdNotFound,
    /// JoinGroup must be retried with the member id the broker assigned (KIP-394).
    MemberIdRequired,
    /// The group is full.
    GroupMaxSizeReached,
    /// Another member with the same group.instance.id has replaced this one (KIP-345).
    FencedInstanceId,
    /// The preferred replica is not in the ISR or not alive (ElectLeaders).
    PreferredLeaderNotAvailable,
    /// No replica of the partition can be its leader (ElectLeaders, unclean).
    EligibleLeadersNotAvailable,
    /// The partition's leader is already its preferred replica.
    ElectionNotNeeded,
    /// No partition reassignment is in progress.
    NoReassignmentInProgress,
    /// OffsetDelete of a topic the group's active members are subscribed to.
    GroupSubscribedToTopic,
    /// A record was rejected.
    InvalidRecord,
    /// Offsets committed in a transaction that is not finished yet (OffsetFetch require_stable).
    UnstableOffsetCommit,
    /// A newer producer with the same transactional id has fenced this one.
    ProducerFenced,
    /// The client's leader epoch is older than the partition's (KIP-320): its metadata is stale.
    FencedLeaderEpoch,
    /// The client's leader epoch is newer than the broker knows (KIP-320): retriable.
    UnknownLeaderEpoch,
    /// The topic id is not known.
    UnknownTopicId,
    /// The transactional id is not known to the coordinator.
    TransactionalIdNotFound,
    /// The member epoch is fenced by the group coordinator (KIP-848).
    FencedMemberEpoch,
    /// A static member's instance id is still held by another member (KIP-848).
    UnreleasedInstanceId,
    /// The assignor named by the member is not supported.
    UnsupportedAssignor,
    /// The member epoch is stale (KIP-848 commits).
    StaleMemberEpoch,
    /// DescribeCluster asked for an endpoint type this broker does not serve.
    UnsupportedEndpointType,
    /// A regular expression in the request does not compile (ListTransactions v2's pattern).
    InvalidRegularExpression,
    /// The SASL mechanism asked for is not enabled on this listener, or not a SCRAM one.
    UnsupportedSaslMechanism,
    /// A SASL request out of place (a second handshake, an authenticate before the handshake).
    IllegalSaslState,
    /// Authentication failed (wrong password, unknown user, bad SASL message).
    SaslAuthenticationFailed,
    /// The resource named does not exist (a SCRAM credential to delete or describe).
    ResourceNotFound,
    /// The same resource twice in one request.
    DuplicateResource,
    /// A SCRAM credential outside Kafka's bounds (empty user name, iterations).
    UnacceptableCredential,
    /// The principal may not perform the operation on the topic (ACLs).
    TopicAuthorizationFailed,
    /// The principal may not perform the operation on the group (ACLs).
    GroupAuthorizationFailed,
    /// The principal may not perform the operation on the cluster (ACLs).
    ClusterAuthorizationFailed,
    /// The principal may not use the transactional id (ACLs).
    TransactionalIdAuthorizationFailed,
}

impl KafkaError {
    /// The error code sent on the wire.
    pub const fn code(self) -> i16 {
        match self {
            KafkaError::UnknownServerError => -1,
            KafkaError::OffsetOutOfRange => 1,
            KafkaError::CorruptMessage => 2,
            KafkaError::UnknownTopicOrPartition => 3,
            KafkaError::LeaderNotAvailable => 5,
            KafkaError::NotLeaderOrFollower => 6,
            KafkaError::RequestTimedOut => 7,
            KafkaError::MessageTooLarge => 10,
            KafkaError::OffsetMetadataTooLarge => 12,
            KafkaError::CoordinatorLoadInProgress => 14,
            KafkaError::CoordinatorNotAvailable => 15,
            KafkaError::NotCoordinator => 16,
            KafkaError::InvalidTopicException => 17,
            KafkaError::NotEnoughReplicas => 19,
            KafkaError::NotEnoughReplicasAfterAppend => 20,
            KafkaError::InvalidRequiredAcks => 21,
            KafkaError::IllegalGeneration => 22,
            KafkaError::InconsistentGroupProtocol => 23,
            KafkaError::InvalidGroupId => 24,
            KafkaError::UnknownMemberId => 25,
            KafkaError::InvalidSessionTimeout => 26,
            KafkaError::RebalanceInProgress => 27,
            KafkaError::InvalidTimestamp => 32,
            KafkaError::UnsupportedVersion => 35,
            KafkaError::TopicAlreadyExists => 36,
            KafkaError::InvalidPartitions => 37,
            KafkaError::InvalidReplicationFactor => 38,
            KafkaError::InvalidReplicaAssignment => 39,
            KafkaError::InvalidConfig => 40,
            KafkaError::NotController => 41,
            KafkaError::InvalidRequest => 42,
            KafkaError::UnsupportedForMessageFormat => 43,
            KafkaError::OutOfOrderSequenceNumber => 45,
            KafkaError::InvalidProducerEpoch => 47,
            KafkaError::InvalidTxnState => 48,
            KafkaError::InvalidProducerIdMapping => 49,
            KafkaError::InvalidTransactionTimeout => 50,
            KafkaError::ConcurrentTransactions => 51,
            KafkaError::SecurityDisabled => 54,
            KafkaError::OperationNotAttempted => 55,
            KafkaError::KafkaStorageError => 56,
            KafkaError::LogDirNotFound => 57,
            KafkaError::UnknownProducerId => 59,
            KafkaError::NonEmptyGroup => 68,
            KafkaError::GroupIdNotFound => 69,
            KafkaError::MemberIdRequired => 79,
            KafkaError::GroupMaxSizeReached => 81,
            KafkaError::FencedInstanceId => 82,
            KafkaError::PreferredLeaderNotAvailable => 80,
            KafkaError::EligibleLeadersNotAvailable => 83,
            KafkaError::ElectionNotNeeded => 84,
            KafkaError::NoReassignmentInProgress => 85,
            KafkaError::GroupSubscribedToTopic => 86,
            KafkaError::InvalidRecord => 87,
            KafkaError::UnstableOffsetCommit => 88,
            KafkaError::ProducerFenced => 90,
            KafkaError::FencedLeaderEpoch => 74,
            KafkaError::UnknownLeaderEpoch => 75,
            KafkaError::UnknownTopicId => 100,
            KafkaError::TransactionalIdNotFound => 105,
            KafkaError::FencedMemberEpoch => 110,
            KafkaError::UnreleasedInstanceId => 111,
            KafkaError::UnsupportedAssignor => 112,
            KafkaError::StaleMemberEpoch => 113,
            KafkaError::UnsupportedEndpointType => 115,
            KafkaError::InvalidRegularExpression => 128,
            KafkaError::UnsupportedSaslMechanism => 33,
            KafkaError::IllegalSaslState => 34,
            KafkaError::SaslAuthenticationFailed => 58,
            KafkaError::ResourceNotFound => 91,
            KafkaError::DuplicateResource => 92,
            KafkaError::UnacceptableCredential => 93,
            KafkaError::TopicAuthorizationFailed => 29,
            KafkaError::GroupAuthorizationFailed => 30,
            KafkaError::ClusterAuthorizationFailed => 31,
            KafkaError::TransactionalIdAuthorizationFailed => 53,
        }
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.code())
    }
}

impl std::error::Error for KafkaError {}

/// The wire code of an optional error: [`NONE`] when there is none.
pub fn code(e: Option<KafkaError>) -> i16 {
    e.map_or(NONE, KafkaError::code)
}

/// The wire code of a result: [`NONE`] on success.
pub fn result_code<T>(r: &Result<T, KafkaError>) -> i16 {
    r.as_ref().err().map_or(NONE, |e| e.code())
}

/// A Kafka error with the human-readable message Kafka sends in `error_message` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The error.
    pub error: KafkaError,
    /// The message for the client.
    pub message: String,
}

impl ErrorMessage {
    /// `error` with `message`.
    pub fn new(error: KafkaError, message: impl Into<String>) -> ErrorMessage {
        ErrorMessage {
            error,
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for ErrorMessage {}

impl From<&crate::storage::LogError> for KafkaError {
    fn from(e: &crate::storage::LogError) -> KafkaError {
        use crate::storage::LogError;
        match e {
            LogError::OffsetOutOfRange => KafkaError::OffsetOutOfRange,
            LogError::Io(_)
            | LogError::Discarded
            | LogError::Offline(_)
            | LogError::Closed
            | LogError::CorruptStored { .. }
            | LogError::BadOwnBatch(_) => KafkaError::KafkaStorageError,
            LogError::Producer(f) => KafkaError::from(*f),
            LogError::Corrupt(_) => KafkaError::CorruptMessage,
            LogError::Follower(crate::storage::FollowerFault::Crc { .. }) => {
                KafkaError::CorruptMessage
            }
            LogError::Follower(_) => KafkaError::UnknownServerError,
        }
    }
}

impl From<crate::storage::LogError> for KafkaError {
    fn from(e: crate::storage::LogError) -> KafkaError {
        KafkaError::from(&e)
    }
}

impl From<crate::storage::producers::ProducerFault> for KafkaError {
    fn from(f: crate::storage::producers::ProducerFault) -> KafkaError {
        use crate::storage::producers::ProducerFault;
        match f {
            ProducerFault::UnknownProducerId => KafkaError::UnknownProducerId,
            ProducerFault::InvalidProducerEpoch => KafkaError::InvalidProducerEpoch,
            ProducerFault::OutOfOrderSequence => KafkaError::OutOfOrderSequenceNumber,
        }
    }
}

/// The error for a produced batch that failed validation: `InvalidRecord` when its header's
/// counts are inconsistent, `CorruptMessage` when its records are malformed.
impl From<&crate::storage::validate::Invalid> for KafkaError {
    fn from(e: &crate::storage::validate::Invalid) -> KafkaError {
        if e.is_header() {
            KafkaError::InvalidRecord
        } else {
            KafkaError::CorruptMessage
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::producers::ProducerFault;
    use crate::storage::LogError;

    const ALL: [KafkaError; 76] = [
        KafkaError::FencedLeaderEpoch,
        KafkaError::UnknownLeaderEpoch,
        KafkaError::UnknownServerError,
        KafkaError::OffsetOutOfRange,
        KafkaError::CorruptMessage,
        KafkaError::UnknownTopicOrPartition,
        KafkaError::LeaderNotAvailable,
        KafkaError::NotLeaderOrFollower,
        KafkaError::NotController,
        KafkaError::RequestTimedOut,
        KafkaError::MessageTooLarge,
        KafkaError::OffsetMetadataTooLarge,
        KafkaError::CoordinatorLoadInProgress,
        KafkaError::CoordinatorNotAvailable,
        KafkaError::NotCoordinator,
        KafkaError::InvalidTopicException,
        KafkaError::NotEnoughReplicas,
        KafkaError::NotEnoughReplicasAfterAppend,
        KafkaError::InvalidRequiredAcks,
        KafkaError::IllegalGeneration,
        KafkaError::InconsistentGroupProtocol,
        KafkaError::InvalidGroupId,
        KafkaError::UnknownMemberId,
        KafkaError::InvalidSessionTimeout,
        KafkaError::RebalanceInProgress,
        KafkaError::InvalidTimestamp,
        KafkaError::UnsupportedVersion,
        KafkaError::TopicAlreadyExists,
        KafkaError::InvalidPartitions,
        KafkaError::InvalidReplicationFactor,
        KafkaError::InvalidReplicaAssignment,
        KafkaError::InvalidConfig,
        KafkaError::InvalidRequest,
        KafkaError::UnsupportedForMessageFormat,
        KafkaError::OutOfOrderSequenceNumber,
        KafkaError::InvalidProducerEpoch,
        KafkaError::InvalidTxnState,
        KafkaError::InvalidProducerIdMapping,
        KafkaError::InvalidTransactionTimeout,
        KafkaError::ConcurrentTransactions,
        KafkaError::SecurityDisabled,
        KafkaError::OperationNotAttempted,
        KafkaError::KafkaStorageError,
        KafkaError::LogDirNotFound,
        KafkaError::UnknownProducerId,
        KafkaError::NonEmptyGroup,
        KafkaError::GroupIdNotFound,
        KafkaError::MemberIdRequired,
        KafkaError::GroupMaxSizeReached,
        KafkaError::FencedInstanceId,
        KafkaError::PreferredLeaderNotAvailable,
        KafkaError::EligibleLeadersNotAvailable,
        KafkaError::ElectionNotNeeded,
        KafkaError::NoReassignmentInProgress,
        KafkaError::GroupSubscribedToTopic,
        KafkaError::InvalidRecord,
        KafkaError::UnstableOffsetCommit,
        KafkaError::ProducerFenced,
        KafkaError::UnknownTopicId,
        KafkaError::TransactionalIdNotFound,
        KafkaError::FencedMemberEpoch,
        KafkaError::UnreleasedInstanceId,
        KafkaError::UnsupportedAssignor,
        KafkaError::StaleMemberEpoch,
        KafkaError::UnsupportedEndpointType,
        KafkaError::InvalidRegularExpression,
        KafkaError::UnsupportedSaslMechanism,
        KafkaError::IllegalSaslState,
        KafkaError::SaslAuthenticationFailed,
        KafkaError::ResourceNotFound,
        KafkaError::DuplicateResource,
        KafkaError::UnacceptableCredential,
        KafkaError::TopicAuthorizationFailed,
        KafkaError::GroupAuthorizationFailed,
        KafkaError::ClusterAuthorizationFailed,
        KafkaError::TransactionalIdAuthorizationFailed,
    ];

    #[test]
    fn codes_are_kafkas_and_distinct() {
        assert_eq!(KafkaError::UnknownServerError.code(), -1);
        assert_eq!(KafkaError::UnknownTopicOrPartition.code(), 3);
        assert_eq!(KafkaError::LeaderNotAvailable.code(), 5);
        assert_eq!(KafkaError::NotLeaderOrFollower.code(), 6);
        assert_eq!(KafkaError::NotController.code(), 41);
        assert_eq!(KafkaError::KafkaStorageError.code(), 56);
        assert_eq!(KafkaError::InvalidRegularExpression.code(), 128);
        let mut codes: Vec<i16> = ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        assert!(!codes.contains(&NONE));
    }

    #[test]
    fn wire_codes_of_outcomes() {
        assert_eq!(code(None), NONE);
        assert_eq!(code(Some(KafkaError::RequestTimedOut)), 7);
        assert_eq!(result_code(&Ok::<i64, KafkaError>(5)), NONE);
        assert_eq!(result_code(&Err::<(), _>(KafkaError::NotCoordinator)), 16);
    }

    #[test]
    fn log_errors_map_as_kafka_does() {
        assert_eq!(
            KafkaError::from(LogError::OffsetOutOfRange),
            KafkaError::OffsetOutOfRange
        );
        assert_eq!(
            KafkaError::from(LogError::Closed),
            KafkaError::KafkaStorageError
        );
        assert_eq!(
            KafkaError::from(LogError::Producer(ProducerFault::OutOfOrderSequence)),
            KafkaError::OutOfOrderSequenceNumber
        );
    }
}
