//! Authorized-operation bitfields (KIP-430) for Metadata, DescribeCluster, DescribeGroups,
//! ConsumerGroupDescribe and DescribeTopicPartitions.
//!
//! A client that asks (`include_*_authorized_operations`) gets a bit per ACL operation it may
//! perform on the resource (bit `1 << code`, codes as Kafka's `AclOperation`), each operation
//! the resource type supports checked with the request's [`Authz`]; without an authorizer that
//! is every operation, as on Kafka. A client that does not ask gets Kafka's "not requested"
//! value, `i32::MIN`.

use super::authz::Authz;
use crate::security::acl::model::CLUSTER_NAME;
use crate::security::acl::{Operation, ResourceType};

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

fn answer(authz: &Authz, include: bool, ops: &[u8], rt: ResourceType, name: &str) -> i32 {
    if !include {
        return NOT_REQUESTED;
    }
    let ops: Vec<Operation> = ops
        .iter()
        .filter_map(|&o| Operation::from_code(o as i8))
        .collect();
    authz.operations(rt, name, &ops)
}

/// The bitfield of topic `name`, or [`NOT_REQUESTED`].
pub fn topic(authz: &Authz, include: bool, name: &str) -> i32 {
    answer(authz, include, TOPIC, ResourceType::Topic, name)
}

/// The bitfield of consumer group `id`, or [`NOT_REQUESTED`].
pub fn group(authz: &Authz, include: bool, id: &str) -> i32 {
    answer(authz, include, GROUP, ResourceType::Group, id)
}

/// The cluster bitfield, or [`NOT_REQUESTED`].
pub fn cluster(authz: &Authz, include: bool) -> i32 {
    answer(authz, include, CLUSTER, ResourceType::Cluster, CLUSTER_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfields_match_kafkas_supported_operations() {
        // Without an authorizer, every operation the resource type supports.
        let open = Authz::open();
        // READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
        assert_eq!(topic(&open, true, "t"), 0b1101_1111_1000);
        // READ, DELETE, DESCRIBE
        assert_eq!(group(&open, true, "g"), (1 << 3) | (1 << 6) | (1 << 8));
        // CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
        assert_eq!(cluster(&open, true), 0b1_1111_1010_0000);
        assert_eq!(topic(&open, false, "t"), NOT_REQUESTED);
    }

    #[test]
    fn bitfields_follow_the_acls() {
        use crate::security::acl::{
            AclBinding, Authorizer, AuthorizerSettings, PatternType, Permission,
        };
        let read = AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: "t".into(),
            pattern_type: PatternType::Literal,
            principal: "User:ANONYMOUS".into(),
            host: "*".into(),
            operation: Operation::Read,
            permission: Permission::Allow,
        };
        let a = Authorizer::new(AuthorizerSettings::default(), &[read]);
        let authz = Authz::with(std::rc::Rc::new(a), "User:ANONYMOUS", "127.0.0.1");
        // READ and the DESCRIBE it implies.
        assert_eq!(topic(&authz, true, "t"), (1 << 3) | (1 << 8));
        assert_eq!(topic(&authz, true, "u"), 0);
        assert_eq!(cluster(&authz, true), 0);
    }
}
