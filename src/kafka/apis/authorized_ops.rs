//! Authorized-operation bitfields (KIP-430) for Metadata, DescribeCluster, DescribeGroups,
//! ConsumerGroupDescribe and DescribeTopicPartitions.
//!
//! A client that asks (`include_*_authorized_operations`) gets a bit per ACL operation it may
//! perform on the resource (bit `1 << code`, codes as Kafka's `AclOperation`). Runnel has no
//! authorizer yet, and Kafka without an authorizer answers every operation the resource type
//! supports; so does this module until ACLs exist. A client that does not ask gets Kafka's
//! "not requested" value, `i32::MIN`.

/// Kafka's value for "authorized operations not requested".
pub const NOT_REQUESTED: i32 = i32::MIN;

/// ACL operation codes (Kafka's `AclOperation`).
mod op {
    pub const READ: u8 = 3;
    pub const WRITE: u8 = 4;
    pub const CREATE: u8 = 5;
    pub const DELETE: u8 = 6;
    pub const ALTER: u8 = 7;
    pub const DESCRIBE: u8 = 8;
    pub const CLUSTER_ACTION: u8 = 9;
    pub const DESCRIBE_CONFIGS: u8 = 10;
    pub const ALTER_CONFIGS: u8 = 11;
    pub const IDEMPOTENT_WRITE: u8 = 12;
}

/// Operations a topic supports.
const TOPIC: &[u8] = &[
    op::READ,
    op::WRITE,
    op::CREATE,
    op::DESCRIBE,
    op::DELETE,
    op::ALTER,
    op::DESCRIBE_CONFIGS,
    op::ALTER_CONFIGS,
];
/// Operations a consumer group supports.
const GROUP: &[u8] = &[op::READ, op::DESCRIBE, op::DELETE];
/// Operations the cluster supports.
const CLUSTER: &[u8] = &[
    op::CREATE,
    op::CLUSTER_ACTION,
    op::DESCRIBE_CONFIGS,
    op::ALTER_CONFIGS,
    op::IDEMPOTENT_WRITE,
    op::ALTER,
    op::DESCRIBE,
];

fn bits(ops: &[u8]) -> i32 {
    ops.iter().fold(0, |acc, &o| acc | (1 << o))
}

fn answer(include: bool, ops: &[u8]) -> i32 {
    if include {
        bits(ops)
    } else {
        NOT_REQUESTED
    }
}

/// The topic bitfield, or [`NOT_REQUESTED`].
pub fn topic(include: bool) -> i32 {
    answer(include, TOPIC)
}

/// The consumer-group bitfield, or [`NOT_REQUESTED`].
pub fn group(include: bool) -> i32 {
    answer(include, GROUP)
}

/// The cluster bitfield, or [`NOT_REQUESTED`].
pub fn cluster(include: bool) -> i32 {
    answer(include, CLUSTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfields_match_kafkas_supported_operations() {
        // READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
        assert_eq!(topic(true), 0b1101_1111_1000);
        // READ, DELETE, DESCRIBE
        assert_eq!(group(true), (1 << 3) | (1 << 6) | (1 << 8));
        // CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
        assert_eq!(cluster(true), 0b1_1111_1010_0000);
        assert_eq!(topic(false), NOT_REQUESTED);
    }
}
