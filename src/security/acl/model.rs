//! The ACL model, as Kafka's `org.apache.kafka.common.acl` and `resource` packages define it:
//! resource types, pattern types, operations and permissions with their wire codes, an ACL
//! binding (a resource pattern and an access-control entry) and the filters DescribeAcls and
//! DeleteAcls match bindings with.

use crate::security::principal::KafkaPrincipal;

/// The wildcard resource name and host (`*`), and the wildcard principal's name (`User:*`).
pub const WILDCARD: &str = "*";
/// The only name of the cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

macro_rules! coded {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $c:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v),* }
        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$v),*];
            /// The wire code (Kafka's).
            pub const fn code(self) -> i8 { match self { $($name::$v => $c),* } }
            /// The value of a wire code, `None` for codes Kafka does not define.
            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($c => Some($name::$v),)* _ => None }
            }
        }
    };
}

coded!(
    /// What an ACL protects (Kafka's `ResourceType`; `Any` only in filters).
    ResourceType {
        /// Any resource type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster (named `kafka-cluster`).
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user (SCRAM credentials, delegation tokens of other users).
        User = 7,
    }
);

coded!(
    /// How an ACL's resource name matches (Kafka's `PatternType`; `Any` and `Match` only in
    /// filters).
    PatternType {
        /// Any pattern type (filters only).
        Any = 1,
        /// Every binding that would affect the named resource (filters only).
        Match = 2,
        /// The name exactly, or every resource when the name is `*`.
        Literal = 3,
        /// Every resource whose name starts with the name.
        Prefixed = 4,
    }
);

coded!(
    /// What an ACL allows or denies (Kafka's `AclOperation`; `Any` only in filters).
    Operation {
        /// Any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe (implied by an ALLOW of read, write, delete or alter).
        Describe = 8,
        /// Cluster actions (inter-broker requests).
        ClusterAction = 9,
        /// Describe configs (implied by an ALLOW of alter configs).
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent produce.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
    }
);

coded!(
    /// Whether an ACL allows or denies (Kafka's `AclPermissionType`; `Any` only in filters).
    Permission {
        /// Any permission (filters only).
        Any = 1,
        /// Deny: wins over every allow.
        Deny = 2,
        /// Allow.
        Allow = 3,
    }
);

/// One ACL: who (principal, host) may or may not do what (operation) on which resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// The resource type (never `Any`).
    pub resource_type: ResourceType,
    /// The resource name or prefix (never empty; `*` with `Literal` is every resource).
    pub resource_name: String,
    /// `Literal` or `Prefixed`.
    pub pattern_type: PatternType,
    /// `Type:name`, `User:*` for every user.
    pub principal: String,
    /// A client host address, `*` for every host.
    pub host: String,
    /// The operation (never `Any`).
    pub operation: Operation,
    /// `Allow` or `Deny`.
    pub permission: Permission,
}

/// Why a binding cannot be created (Kafka's INVALID_REQUEST messages).
pub fn validate(b: &AclBinding) -> Result<(), String> {
    if b.resource_type == ResourceType::Any {
        return Err("Invalid resourceType ANY".into());
    }
    if !matches!(b.pattern_type, PatternType::Literal | PatternType::Prefixed) {
        return Err(format!("Invalid patternType {:?}", b.pattern_type));
    }
    if b.operation == Operation::Any {
        return Err("Invalid operation ANY".into());
    }
    if b.permission == Permission::Any {
        return Err("Invalid permissionType ANY".into());
    }
    if b.resource_name.is_empty() {
        return Err("Invalid empty resource name".into());
    }
    if b.resource_type == ResourceType::Cluster && b.resource_name != CLUSTER_NAME {
        return Err(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    if KafkaPrincipal::parse(&b.principal).is_none() {
        return Err(format!("Invalid principal {:?}", b.principal));
    }
    if b.host.is_empty() {
        return Err("Invalid empty host".into());
    }
    Ok(())
}

/// A filter over bindings (DescribeAcls, DeleteAcls): `None` and the `Any` values match
/// everything; `PatternType::Match` with a name matches the bindings that would apply to a
/// resource of that name (literal, the `*` wildcard and prefixes of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// The resource type, or `Any`.
    pub resource_type: ResourceType,
    /// The resource name, or `None` for any.
    pub resource_name: Option<String>,
    /// `Any`, `Match`, `Literal` or `Prefixed`.
    pub pattern_type: PatternType,
    /// The principal, or `None` for any.
    pub principal: Option<String>,
    /// The host, or `None` for any.
    pub host: Option<String>,
    /// The operation, or `Any`.
    pub operation: Operation,
    /// The permission, or `Any`.
    pub permission: Permission,
}

impl AclFilter {
    /// Whether `b` passes the filter (Kafka's `AclBindingFilter.matches`).
    pub fn matches(&self, b: &AclBinding) -> bool {
        let rt = self.resource_type == ResourceType::Any || self.resource_type == b.resource_type;
        rt && self.pattern_matches(b)
            && self.principal.as_ref().is_none_or(|p| *p == b.principal)
            && self.host.as_ref().is_none_or(|h| *h == b.host)
            && (self.operation == Operation::Any || self.operation == b.operation)
            && (self.permission == Permission::Any || self.permission == b.permission)
    }

    fn pattern_matches(&self, b: &AclBinding) -> bool {
        match self.pattern_type {
            PatternType::Any => self
                .resource_name
                .as_ref()
                .is_none_or(|n| *n == b.resource_name),
            PatternType::Match => match &self.resource_name {
                None => true,
                Some(n) => match b.pattern_type {
                    PatternType::Literal => b.resource_name == *n || b.resource_name == WILDCARD,
                    PatternType::Prefixed => n.starts_with(&b.resource_name),
                    _ => false,
                },
            },
            exact => {
                exact == b.pattern_type
                    && self
                        .resource_name
                        .as_ref()
                        .is_none_or(|n| *n == b.resource_name)
            }
        }
    }
}
