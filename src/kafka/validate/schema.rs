//! Request layouts of the APIs Runnel advertises, generated from Apache Kafka's JSON
//! message schemas (apache/kafka 1eb7644349cb07139d6a3c1ad1986979647cac99) and the newer versions listed in
//! `tools/gen_request_schema.py` (NEWER), by that script.
//! Do not edit: regenerate (see docs/protocol-validation.md).

use super::spec::{Field, Kind, Message, Tagged, V};

/// The request header (versions 0-2).
pub static HEADER: Message = Message { name: "RequestHeader", api_key: -1, valid: V(0, 2), flexible: V(2, 32767), root: 0 };

/// One entry per advertised API.
pub static MESSAGES: &[Message] = &[
    Message { name: "ProduceRequest", api_key: 0, valid: V(0, 13), flexible: V(9, 32767), root: 1 },
    Message { name: "FetchRequest", api_key: 1, valid: V(0, 18), flexible: V(12, 32767), root: 4 },
    Message { name: "ListOffsetsRequest", api_key: 2, valid: V(0, 10), flexible: V(6, 32767), root: 9 },
    Message { name: "MetadataRequest", api_key: 3, valid: V(0, 13), flexible: V(9, 32767), root: 12 },
    Message { name: "OffsetCommitRequest", api_key: 8, valid: V(0, 9), flexible: V(8, 32767), root: 14 },
    Message { name: "OffsetFetchRequest", api_key: 9, valid: V(0, 9), flexible: V(6, 32767), root: 17 },
    Message { name: "FindCoordinatorRequest", api_key: 10, valid: V(0, 6), flexible: V(3, 32767), root: 21 },
    Message { name: "JoinGroupRequest", api_key: 11, valid: V(0, 9), flexible: V(6, 32767), root: 22 },
    Message { name: "HeartbeatRequest", api_key: 12, valid: V(0, 4), flexible: V(4, 32767), root: 24 },
    Message { name: "LeaveGroupRequest", api_key: 13, valid: V(0, 5), flexible: V(4, 32767), root: 25 },
    Message { name: "SyncGroupRequest", api_key: 14, valid: V(0, 5), flexible: V(4, 32767), root: 27 },
    Message { name: "DescribeGroupsRequest", api_key: 15, valid: V(0, 6), flexible: V(5, 32767), root: 29 },
    Message { name: "ListGroupsRequest", api_key: 16, valid: V(0, 5), flexible: V(3, 32767), root: 30 },
    Message { name: "ApiVersionsRequest", api_key: 18, valid: V(0, 4), flexible: V(3, 32767), root: 31 },
    Message { name: "CreateTopicsRequest", api_key: 19, valid: V(0, 7), flexible: V(5, 32767), root: 32 },
    Message { name: "DeleteTopicsRequest", api_key: 20, valid: V(0, 6), flexible: V(4, 32767), root: 36 },
    Message { name: "DeleteRecordsRequest", api_key: 21, valid: V(0, 2), flexible: V(2, 32767), root: 38 },
    Message { name: "DeleteGroupsRequest", api_key: 42, valid: V(0, 2), flexible: V(2, 32767), root: 41 },
    Message { name: "OffsetDeleteRequest", api_key: 47, valid: V(0, 0), flexible: V(1, 0), root: 42 },
    Message { name: "ConsumerGroupHeartbeatRequest", api_key: 68, valid: V(0, 1), flexible: V(0, 32767), root: 45 },
    Message { name: "ConsumerGroupDescribeRequest", api_key: 69, valid: V(0, 1), flexible: V(0, 32767), root: 47 },
    Message { name: "InitProducerIdRequest", api_key: 22, valid: V(0, 5), flexible: V(2, 32767), root: 48 },
    Message { name: "AddPartitionsToTxnRequest", api_key: 24, valid: V(0, 5), flexible: V(3, 32767), root: 49 },
    Message { name: "AddOffsetsToTxnRequest", api_key: 25, valid: V(0, 4), flexible: V(3, 32767), root: 52 },
    Message { name: "EndTxnRequest", api_key: 26, valid: V(0, 5), flexible: V(3, 32767), root: 53 },
    Message { name: "TxnOffsetCommitRequest", api_key: 28, valid: V(0, 4), flexible: V(3, 32767), root: 54 },
    Message { name: "WriteTxnMarkersRequest", api_key: 27, valid: V(0, 1), flexible: V(1, 32767), root: 57 },
    Message { name: "DescribeProducersRequest", api_key: 61, valid: V(0, 0), flexible: V(0, 32767), root: 60 },
    Message { name: "DescribeTransactionsRequest", api_key: 65, valid: V(0, 0), flexible: V(0, 32767), root: 62 },
    Message { name: "ListTransactionsRequest", api_key: 66, valid: V(0, 2), flexible: V(0, 32767), root: 63 },
    Message { name: "DescribeConfigsRequest", api_key: 32, valid: V(0, 4), flexible: V(4, 32767), root: 64 },
    Message { name: "AlterConfigsRequest", api_key: 33, valid: V(0, 2), flexible: V(2, 32767), root: 66 },
    Message { name: "IncrementalAlterConfigsRequest", api_key: 44, valid: V(0, 1), flexible: V(1, 32767), root: 69 },
    Message { name: "CreatePartitionsRequest", api_key: 37, valid: V(0, 3), flexible: V(2, 32767), root: 72 },
    Message { name: "DescribeClusterRequest", api_key: 60, valid: V(0, 2), flexible: V(0, 32767), root: 75 },
    Message { name: "DescribeLogDirsRequest", api_key: 35, valid: V(0, 4), flexible: V(2, 32767), root: 76 },
    Message { name: "DescribeTopicPartitionsRequest", api_key: 75, valid: V(0, 0), flexible: V(0, 32767), root: 78 },
    Message { name: "AlterPartitionReassignmentsRequest", api_key: 45, valid: V(0, 1), flexible: V(0, 32767), root: 81 },
    Message { name: "ListPartitionReassignmentsRequest", api_key: 46, valid: V(0, 0), flexible: V(0, 32767), root: 84 },
    Message { name: "ElectLeadersRequest", api_key: 43, valid: V(0, 2), flexible: V(2, 32767), root: 86 },
    Message { name: "AlterReplicaLogDirsRequest", api_key: 34, valid: V(0, 2), flexible: V(2, 32767), root: 88 },
    Message { name: "DescribeAclsRequest", api_key: 29, valid: V(0, 3), flexible: V(2, 32767), root: 91 },
    Message { name: "CreateAclsRequest", api_key: 30, valid: V(0, 3), flexible: V(2, 32767), root: 92 },
    Message { name: "DeleteAclsRequest", api_key: 31, valid: V(0, 3), flexible: V(2, 32767), root: 94 },
    Message { name: "DescribeUserScramCredentialsRequest", api_key: 50, valid: V(0, 0), flexible: V(0, 32767), root: 96 },
    Message { name: "AlterUserScramCredentialsRequest", api_key: 51, valid: V(0, 0), flexible: V(0, 32767), root: 98 },
    Message { name: "SaslHandshakeRequest", api_key: 17, valid: V(0, 1), flexible: V(1, 0), root: 101 },
    Message { name: "SaslAuthenticateRequest", api_key: 36, valid: V(0, 2), flexible: V(2, 32767), root: 102 },
    Message { name: "OffsetForLeaderEpochRequest", api_key: 23, valid: V(0, 4), flexible: V(4, 32767), root: 103 },
];

/// The response header (versions 0-1), for answers from other brokers.
pub static RESPONSE_HEADER: Message = Message { name: "ResponseHeader", api_key: -1, valid: V(0, 1), flexible: V(1, 32767), root: 106 };

/// One entry per API the inter-broker client sends, with the versions it sends.
pub static RESPONSES: &[Message] = &[
    Message { name: "WriteTxnMarkersResponse", api_key: 27, valid: V(1, 1), flexible: V(1, 32767), root: 107 },
    Message { name: "OffsetForLeaderEpochResponse", api_key: 23, valid: V(2, 4), flexible: V(4, 32767), root: 111 },
    Message { name: "FetchResponse", api_key: 1, valid: V(4, 17), flexible: V(12, 32767), root: 114 },
    Message { name: "SaslHandshakeResponse", api_key: 17, valid: V(1, 1), flexible: V(1, 0), root: 122 },
    Message { name: "SaslAuthenticateResponse", api_key: 36, valid: V(2, 2), flexible: V(2, 32767), root: 123 },
];

/// Struct layouts, indexed by [`Kind::Struct`] and [`Message::root`].
pub static STRUCTS: &[&[Field]] = &[
    // 0: RequestHeader
    &[
        Field { name: "RequestApiKey", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "RequestApiVersion", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CorrelationId", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ClientId", kind: Kind::Str, versions: V(1, 32767), nullable: V(1, 32767), tag: None, flexible: Some(V(1, 0)) },
    ],
    // 1: ProduceRequest
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(3, 32767), nullable: V(3, 32767), tag: None, flexible: None },
        Field { name: "Acks", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicData", kind: Kind::Array(&Kind::Struct(2)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 2: TopicProduceData
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 12), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(13, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionData", kind: Kind::Array(&Kind::Struct(3)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 3: PartitionProduceData
    &[
        Field { name: "Index", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Records", kind: Kind::Records, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 4: FetchRequest
    &[
        Field { name: "ClusterId", kind: Kind::Str, versions: V(12, 32767), nullable: V(12, 32767), tag: Some(Tagged { tag: 0, versions: V(12, 32767) }), flexible: None },
        Field { name: "ReplicaId", kind: Kind::Int32, versions: V(0, 14), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ReplicaState", kind: Kind::Struct(5), versions: V(15, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 1, versions: V(15, 32767) }), flexible: None },
        Field { name: "MaxWaitMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MinBytes", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MaxBytes", kind: Kind::Int32, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IsolationLevel", kind: Kind::Int8, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SessionId", kind: Kind::Int32, versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SessionEpoch", kind: Kind::Int32, versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(6)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ForgottenTopicsData", kind: Kind::Array(&Kind::Struct(8)), versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "RackId", kind: Kind::Str, versions: V(11, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 5: ReplicaState
    &[
        Field { name: "ReplicaId", kind: Kind::Int32, versions: V(15, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ReplicaEpoch", kind: Kind::Int64, versions: V(15, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 6: FetchTopic
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 12), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(13, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(7)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 7: FetchPartition
    &[
        Field { name: "Partition", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CurrentLeaderEpoch", kind: Kind::Int32, versions: V(9, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "FetchOffset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LastFetchedEpoch", kind: Kind::Int32, versions: V(12, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LogStartOffset", kind: Kind::Int64, versions: V(5, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionMaxBytes", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ReplicaDirectoryId", kind: Kind::Uuid, versions: V(17, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 0, versions: V(17, 32767) }), flexible: None },
        Field { name: "HighWatermark", kind: Kind::Int64, versions: V(18, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 1, versions: V(18, 32767) }), flexible: None },
    ],
    // 8: ForgottenTopic
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(7, 12), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(13, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 9: ListOffsetsRequest
    &[
        Field { name: "ReplicaId", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IsolationLevel", kind: Kind::Int8, versions: V(2, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(10)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(10, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 10: ListOffsetsTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(11)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 11: ListOffsetsPartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CurrentLeaderEpoch", kind: Kind::Int32, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Timestamp", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MaxNumOffsets", kind: Kind::Int32, versions: V(0, 0), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 12: MetadataRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(13)), versions: V(0, 32767), nullable: V(1, 32767), tag: None, flexible: None },
        Field { name: "AllowAutoTopicCreation", kind: Kind::Bool, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeClusterAuthorizedOperations", kind: Kind::Bool, versions: V(8, 10), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeTopicAuthorizedOperations", kind: Kind::Bool, versions: V(8, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 13: MetadataRequestTopic
    &[
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(10, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(10, 32767), tag: None, flexible: None },
    ],
    // 14: OffsetCommitRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GenerationIdOrMemberEpoch", kind: Kind::Int32, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(7, 32767), nullable: V(7, 32767), tag: None, flexible: None },
        Field { name: "RetentionTimeMs", kind: Kind::Int64, versions: V(2, 4), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(15)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 15: OffsetCommitRequestTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(16)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 16: OffsetCommitRequestPartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedOffset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedLeaderEpoch", kind: Kind::Int32, versions: V(6, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommitTimestamp", kind: Kind::Int64, versions: V(1, 1), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedMetadata", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 17: OffsetFetchRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 7), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(18)), versions: V(0, 7), nullable: V(2, 7), tag: None, flexible: None },
        Field { name: "Groups", kind: Kind::Array(&Kind::Struct(19)), versions: V(8, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "RequireStable", kind: Kind::Bool, versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 18: OffsetFetchRequestTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 7), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndexes", kind: Kind::Array(&Kind::Int32), versions: V(0, 7), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 19: OffsetFetchRequestGroup
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(8, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(9, 32767), nullable: V(9, 32767), tag: None, flexible: None },
        Field { name: "MemberEpoch", kind: Kind::Int32, versions: V(9, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(20)), versions: V(8, 32767), nullable: V(8, 32767), tag: None, flexible: None },
    ],
    // 20: OffsetFetchRequestTopics
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(8, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndexes", kind: Kind::Array(&Kind::Int32), versions: V(8, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 21: FindCoordinatorRequest
    &[
        Field { name: "Key", kind: Kind::Str, versions: V(0, 3), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "KeyType", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CoordinatorKeys", kind: Kind::Array(&Kind::Str), versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 22: JoinGroupRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SessionTimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "RebalanceTimeoutMs", kind: Kind::Int32, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(5, 32767), nullable: V(5, 32767), tag: None, flexible: None },
        Field { name: "ProtocolType", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Protocols", kind: Kind::Array(&Kind::Struct(23)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Reason", kind: Kind::Str, versions: V(8, 32767), nullable: V(8, 32767), tag: None, flexible: None },
    ],
    // 23: JoinGroupRequestProtocol
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Metadata", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 24: HeartbeatRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GenerationId", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(3, 32767), nullable: V(3, 32767), tag: None, flexible: None },
    ],
    // 25: LeaveGroupRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 2), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Members", kind: Kind::Array(&Kind::Struct(26)), versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 26: MemberIdentity
    &[
        Field { name: "MemberId", kind: Kind::Str, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(3, 32767), nullable: V(3, 32767), tag: None, flexible: None },
        Field { name: "Reason", kind: Kind::Str, versions: V(5, 32767), nullable: V(5, 32767), tag: None, flexible: None },
    ],
    // 27: SyncGroupRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GenerationId", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(3, 32767), nullable: V(3, 32767), tag: None, flexible: None },
        Field { name: "ProtocolType", kind: Kind::Str, versions: V(5, 32767), nullable: V(5, 32767), tag: None, flexible: None },
        Field { name: "ProtocolName", kind: Kind::Str, versions: V(5, 32767), nullable: V(5, 32767), tag: None, flexible: None },
        Field { name: "Assignments", kind: Kind::Array(&Kind::Struct(28)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 28: SyncGroupRequestAssignment
    &[
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Assignment", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 29: DescribeGroupsRequest
    &[
        Field { name: "Groups", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeAuthorizedOperations", kind: Kind::Bool, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 30: ListGroupsRequest
    &[
        Field { name: "StatesFilter", kind: Kind::Array(&Kind::Str), versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TypesFilter", kind: Kind::Array(&Kind::Str), versions: V(5, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 31: ApiVersionsRequest
    &[
        Field { name: "ClientSoftwareName", kind: Kind::Str, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ClientSoftwareVersion", kind: Kind::Str, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 32: CreateTopicsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(33)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "timeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "validateOnly", kind: Kind::Bool, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 33: CreatableTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "NumPartitions", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ReplicationFactor", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Assignments", kind: Kind::Array(&Kind::Struct(34)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Configs", kind: Kind::Array(&Kind::Struct(35)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 34: CreatableReplicaAssignment
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "BrokerIds", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 35: CreatableTopicConfig
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Value", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 36: DeleteTopicsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(37)), versions: V(6, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicNames", kind: Kind::Array(&Kind::Str), versions: V(0, 5), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 37: DeleteTopicState
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(6, 32767), nullable: V(6, 32767), tag: None, flexible: None },
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(6, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 38: DeleteRecordsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(39)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 39: DeleteRecordsTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(40)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 40: DeleteRecordsPartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Offset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 41: DeleteGroupsRequest
    &[
        Field { name: "GroupsNames", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 42: OffsetDeleteRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(43)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 43: OffsetDeleteRequestTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(44)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 44: OffsetDeleteRequestPartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 45: ConsumerGroupHeartbeatRequest
    &[
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberEpoch", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "InstanceId", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "RackId", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "RebalanceTimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SubscribedTopicNames", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "SubscribedTopicRegex", kind: Kind::Str, versions: V(1, 32767), nullable: V(1, 32767), tag: None, flexible: None },
        Field { name: "ServerAssignor", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "TopicPartitions", kind: Kind::Array(&Kind::Struct(46)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 46: TopicPartitions
    &[
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 47: ConsumerGroupDescribeRequest
    &[
        Field { name: "GroupIds", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeAuthorizedOperations", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 48: InitProducerIdRequest
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "TransactionTimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 49: AddPartitionsToTxnRequest
    &[
        Field { name: "Transactions", kind: Kind::Array(&Kind::Struct(50)), versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "V3AndBelowTransactionalId", kind: Kind::Str, versions: V(0, 3), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "V3AndBelowProducerId", kind: Kind::Int64, versions: V(0, 3), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "V3AndBelowProducerEpoch", kind: Kind::Int16, versions: V(0, 3), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "V3AndBelowTopics", kind: Kind::Array(&Kind::Struct(51)), versions: V(0, 3), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 50: AddPartitionsToTxnTransaction
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "VerifyOnly", kind: Kind::Bool, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(51)), versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 51: AddPartitionsToTxnTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 52: AddOffsetsToTxnRequest
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 53: EndTxnRequest
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Committed", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 54: TxnOffsetCommitRequest
    &[
        Field { name: "TransactionalId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupId", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GenerationId", kind: Kind::Int32, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "MemberId", kind: Kind::Str, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "GroupInstanceId", kind: Kind::Str, versions: V(3, 32767), nullable: V(3, 32767), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(55)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 55: TxnOffsetCommitRequestTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(56)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 56: TxnOffsetCommitRequestPartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedOffset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedLeaderEpoch", kind: Kind::Int32, versions: V(2, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CommittedMetadata", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 57: WriteTxnMarkersRequest
    &[
        Field { name: "Markers", kind: Kind::Array(&Kind::Struct(58)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 58: WritableTxnMarker
    &[
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerEpoch", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TransactionResult", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(59)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CoordinatorEpoch", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 59: WritableTxnMarkerTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndexes", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 60: DescribeProducersRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(61)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 61: TopicRequest
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndexes", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 62: DescribeTransactionsRequest
    &[
        Field { name: "TransactionalIds", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 63: ListTransactionsRequest
    &[
        Field { name: "StateFilters", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ProducerIdFilters", kind: Kind::Array(&Kind::Int64), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "DurationFilter", kind: Kind::Int64, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TransactionalIdPattern", kind: Kind::Str, versions: V(2, 32767), nullable: V(2, 32767), tag: None, flexible: None },
    ],
    // 64: DescribeConfigsRequest
    &[
        Field { name: "Resources", kind: Kind::Array(&Kind::Struct(65)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeSynonyms", kind: Kind::Bool, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeDocumentation", kind: Kind::Bool, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 65: DescribeConfigsResource
    &[
        Field { name: "ResourceType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceName", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ConfigurationKeys", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 66: AlterConfigsRequest
    &[
        Field { name: "Resources", kind: Kind::Array(&Kind::Struct(67)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ValidateOnly", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 67: AlterConfigsResource
    &[
        Field { name: "ResourceType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceName", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Configs", kind: Kind::Array(&Kind::Struct(68)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 68: AlterableConfig
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Value", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 69: IncrementalAlterConfigsRequest
    &[
        Field { name: "Resources", kind: Kind::Array(&Kind::Struct(70)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ValidateOnly", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 70: AlterConfigsResource
    &[
        Field { name: "ResourceType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceName", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Configs", kind: Kind::Array(&Kind::Struct(71)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 71: AlterableConfig
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ConfigOperation", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Value", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 72: CreatePartitionsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(73)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ValidateOnly", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 73: CreatePartitionsTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Count", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Assignments", kind: Kind::Array(&Kind::Struct(74)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 74: CreatePartitionsAssignment
    &[
        Field { name: "BrokerIds", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 75: DescribeClusterRequest
    &[
        Field { name: "IncludeClusterAuthorizedOperations", kind: Kind::Bool, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "EndpointType", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "IncludeFencedBrokers", kind: Kind::Bool, versions: V(2, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 76: DescribeLogDirsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(77)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 77: DescribableLogDirTopic
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 78: DescribeTopicPartitionsRequest
    &[
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(79)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResponsePartitionLimit", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Cursor", kind: Kind::Struct(80), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 79: TopicRequest
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 80: Cursor
    &[
        Field { name: "TopicName", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 81: AlterPartitionReassignmentsRequest
    &[
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "AllowReplicationFactorChange", kind: Kind::Bool, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(82)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 82: ReassignableTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(83)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 83: ReassignablePartition
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Replicas", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 84: ListPartitionReassignmentsRequest
    &[
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(85)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 85: ListPartitionReassignmentsTopics
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PartitionIndexes", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 86: ElectLeadersRequest
    &[
        Field { name: "ElectionType", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicPartitions", kind: Kind::Array(&Kind::Struct(87)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "TimeoutMs", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 87: TopicPartitions
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 88: AlterReplicaLogDirsRequest
    &[
        Field { name: "Dirs", kind: Kind::Array(&Kind::Struct(89)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 89: AlterReplicaLogDir
    &[
        Field { name: "Path", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(90)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 90: AlterReplicaLogDirTopic
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Int32), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 91: DescribeAclsRequest
    &[
        Field { name: "ResourceTypeFilter", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceNameFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "PatternTypeFilter", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PrincipalFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "HostFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "Operation", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PermissionType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 92: CreateAclsRequest
    &[
        Field { name: "Creations", kind: Kind::Array(&Kind::Struct(93)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 93: AclCreation
    &[
        Field { name: "ResourceType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceName", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourcePatternType", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Principal", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Host", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Operation", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PermissionType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 94: DeleteAclsRequest
    &[
        Field { name: "Filters", kind: Kind::Array(&Kind::Struct(95)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 95: DeleteAclsFilter
    &[
        Field { name: "ResourceTypeFilter", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ResourceNameFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "PatternTypeFilter", kind: Kind::Int8, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PrincipalFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "HostFilter", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "Operation", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "PermissionType", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 96: DescribeUserScramCredentialsRequest
    &[
        Field { name: "Users", kind: Kind::Array(&Kind::Struct(97)), versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 97: UserName
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 98: AlterUserScramCredentialsRequest
    &[
        Field { name: "Deletions", kind: Kind::Array(&Kind::Struct(99)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Upsertions", kind: Kind::Array(&Kind::Struct(100)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 99: ScramCredentialDeletion
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Mechanism", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 100: ScramCredentialUpsertion
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Mechanism", kind: Kind::Int8, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Iterations", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Salt", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SaltedPassword", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 101: SaslHandshakeRequest
    &[
        Field { name: "Mechanism", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 102: SaslAuthenticateRequest
    &[
        Field { name: "AuthBytes", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 103: OffsetForLeaderEpochRequest
    &[
        Field { name: "ReplicaId", kind: Kind::Int32, versions: V(3, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(104)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 104: OffsetForLeaderTopic
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(105)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 105: OffsetForLeaderPartition
    &[
        Field { name: "Partition", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "CurrentLeaderEpoch", kind: Kind::Int32, versions: V(2, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LeaderEpoch", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 106: ResponseHeader
    &[
        Field { name: "CorrelationId", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 107: WriteTxnMarkersResponse
    &[
        Field { name: "Markers", kind: Kind::Array(&Kind::Struct(108)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 108: WritableTxnMarkerResult
    &[
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(109)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 109: WritableTxnMarkerTopicResult
    &[
        Field { name: "Name", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(110)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 110: WritableTxnMarkerPartitionResult
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 111: OffsetForLeaderEpochResponse
    &[
        Field { name: "ThrottleTimeMs", kind: Kind::Int32, versions: V(2, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Topics", kind: Kind::Array(&Kind::Struct(112)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 112: OffsetForLeaderTopicResult
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(113)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 113: EpochEndOffset
    &[
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partition", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LeaderEpoch", kind: Kind::Int32, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "EndOffset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 114: FetchResponse
    &[
        Field { name: "ThrottleTimeMs", kind: Kind::Int32, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SessionId", kind: Kind::Int32, versions: V(7, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Responses", kind: Kind::Array(&Kind::Struct(115)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "NodeEndpoints", kind: Kind::Array(&Kind::Struct(121)), versions: V(16, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 0, versions: V(16, 32767) }), flexible: None },
    ],
    // 115: FetchableTopicResponse
    &[
        Field { name: "Topic", kind: Kind::Str, versions: V(0, 12), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "TopicId", kind: Kind::Uuid, versions: V(13, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Partitions", kind: Kind::Array(&Kind::Struct(116)), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 116: PartitionData
    &[
        Field { name: "PartitionIndex", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "HighWatermark", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LastStableOffset", kind: Kind::Int64, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LogStartOffset", kind: Kind::Int64, versions: V(5, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "DivergingEpoch", kind: Kind::Struct(117), versions: V(12, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 0, versions: V(12, 32767) }), flexible: None },
        Field { name: "CurrentLeader", kind: Kind::Struct(118), versions: V(12, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 1, versions: V(12, 32767) }), flexible: None },
        Field { name: "SnapshotId", kind: Kind::Struct(119), versions: V(12, 32767), nullable: V(1, 0), tag: Some(Tagged { tag: 2, versions: V(12, 32767) }), flexible: None },
        Field { name: "AbortedTransactions", kind: Kind::Array(&Kind::Struct(120)), versions: V(4, 32767), nullable: V(4, 32767), tag: None, flexible: None },
        Field { name: "PreferredReadReplica", kind: Kind::Int32, versions: V(11, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Records", kind: Kind::Records, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
    ],
    // 117: EpochEndOffset
    &[
        Field { name: "Epoch", kind: Kind::Int32, versions: V(12, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "EndOffset", kind: Kind::Int64, versions: V(12, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 118: LeaderIdAndEpoch
    &[
        Field { name: "LeaderId", kind: Kind::Int32, versions: V(12, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "LeaderEpoch", kind: Kind::Int32, versions: V(12, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 119: SnapshotId
    &[
        Field { name: "EndOffset", kind: Kind::Int64, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Epoch", kind: Kind::Int32, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 120: AbortedTransaction
    &[
        Field { name: "ProducerId", kind: Kind::Int64, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "FirstOffset", kind: Kind::Int64, versions: V(4, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 121: NodeEndpoint
    &[
        Field { name: "NodeId", kind: Kind::Int32, versions: V(16, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Host", kind: Kind::Str, versions: V(16, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Port", kind: Kind::Int32, versions: V(16, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Rack", kind: Kind::Str, versions: V(16, 32767), nullable: V(16, 32767), tag: None, flexible: None },
    ],
    // 122: SaslHandshakeResponse
    &[
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "Mechanisms", kind: Kind::Array(&Kind::Str), versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
    // 123: SaslAuthenticateResponse
    &[
        Field { name: "ErrorCode", kind: Kind::Int16, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "ErrorMessage", kind: Kind::Str, versions: V(0, 32767), nullable: V(0, 32767), tag: None, flexible: None },
        Field { name: "AuthBytes", kind: Kind::Bytes, versions: V(0, 32767), nullable: V(1, 0), tag: None, flexible: None },
        Field { name: "SessionLifetimeMs", kind: Kind::Int64, versions: V(1, 32767), nullable: V(1, 0), tag: None, flexible: None },
    ],
];
