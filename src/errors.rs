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
