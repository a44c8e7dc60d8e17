//! The authorizer: Kafka's `StandardAuthorizer` decision over an index of ACL bindings.
//!
//! A request is allowed when the principal is a super user, or when an ALLOW binding matches
//! it and no DENY binding does (DENY wins). A binding matches a resource of type `T` named `n`
//! when it is of type `T` and literal `n`, literal `*`, or prefixed with a prefix of `n`; it
//! matches the request when its principal is the request's or `User:*`, its host the client's
//! or `*`, and its operation the one asked, `ALL`, or (ALLOW bindings only, as on Kafka) an
//! operation that implies it: READ, WRITE, DELETE and ALTER imply DESCRIBE, ALTER_CONFIGS
//! implies DESCRIBE_CONFIGS. A resource that no binding of any principal matches is allowed
//! only with `allow.everyone.if.no.acl.found`.
//!
//! The index keeps the bindings by resource type, then by name, literal and prefixed apart,
//! with the lengths of the prefixes in use: a check looks up the literal name, the wildcard
//! and one name per prefix length, never scanning the bindings of other resources.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::model::{AclBinding, Operation, PatternType, Permission, ResourceType, WILDCARD};

/// The wildcard principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// The authorizer's settings from the broker configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// Principals allowed everything (`super.users`, `Type:name` each).
    pub super_users: HashSet<String>,
    /// Whether a resource without any matching binding is open to everyone
    /// (`allow.everyone.if.no.acl.found`).
    pub allow_if_no_acl: bool,
}

impl AuthorizerSettings {
    /// Parses `super.users` (`User:a;User:b`; blanks around entries ignored): the principals,
    /// or the first entry that is not `Type:name`.
    pub fn parse_super_users(s: &str) -> Result<HashSet<String>, String> {
        let mut out = HashSet::new();
        for entry in s.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let p = crate::security::principal::KafkaPrincipal::parse(entry)
                .ok_or_else(|| format!("{entry:?} is not a principal (Type:name)"))?;
            out.insert(p.to_string());
        }
        Ok(out)
    }
}

/// One binding's who and what, kept under its resource.
#[derive(Debug, Clone)]
struct Entry {
    principal: String,
    host: String,
    operation: Operation,
    permission: Permission,
}

/// Bindings of one resource type.
#[derive(Debug, Default)]
struct TypeIndex {
    literal: HashMap<String, Vec<Entry>>,
    prefixed: HashMap<String, Vec<Entry>>,
    /// Byte lengths of the prefixes in `prefixed`.
    prefix_lens: BTreeSet<usize>,
}

/// An allow/deny decision with the settings it was made under (see the module comment).
#[derive(Debug, Default)]
pub struct Authorizer {
    settings: AuthorizerSettings,
    by_type: HashMap<ResourceType, TypeIndex>,
    count: usize,
}

/// What the bindings of one resource say for one request.
#[derive(Default)]
struct Found {
    any_binding: bool,
    allow: bool,
    deny: bool,
}

/// Whether an ALLOW of `granted` covers `asked` (Kafka's implications).
fn implies(granted: Operation, asked: Operation) -> bool {
    granted == asked
        || granted == Operation::All
        || (asked == Operation::Describe
            && matches!(
                granted,
                Operation::Read | Operation::Write | Operation::Delete | Operation::Alter
            ))
        || (asked == Operation::DescribeConfigs && granted == Operation::AlterConfigs)
}

impl Authorizer {
    /// An authorizer over `bindings` (invalid ones, which the controller never admits, are
    /// skipped).
    pub fn new<'a>(
        settings: AuthorizerSettings,
        bindings: impl IntoIterator<Item = &'a AclBinding>,
    ) -> Authorizer {
        let mut by_type: HashMap<ResourceType, TypeIndex> = HashMap::new();
        let mut count = 0;
        for b in bindings {
            if super::model::validate(b).is_err() {
                continue;
            }
            let t = by_type.entry(b.resource_type).or_default();
            let entry = Entry {
                principal: b.principal.clone(),
                host: b.host.clone(),
                operation: b.operation,
                permission: b.permission,
            };
            let map = if b.pattern_type == PatternType::Prefixed {
                t.prefix_lens.insert(b.resource_name.len());
                &mut t.prefixed
            } else {
                &mut t.literal
            };
            map.entry(b.resource_name.clone()).or_default().push(entry);
            count += 1;
        }
        Authorizer {
            settings,
            by_type,
            count,
        }
    }

    /// How many bindings the index holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the index holds no binding.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `principal` (`Type:name`) is a super user.
    pub fn is_super_user(&self, principal: &str) -> bool {
        self.settings.super_users.contains(principal)
    }

    /// Calls `visit` with each entry list that applies to resource `name` of type `rt` (the
    /// literal name, the wildcard, the prefixes), until it returns `false`; allocates nothing.
    fn each_applicable(
        &self,
        rt: ResourceType,
        name: &str,
        mut visit: impl FnMut(&[Entry]) -> bool,
    ) {
        let Some(t) = self.by_type.get(&rt) else {
            return;
        };
        if let Some(v) = t.literal.get(name) {
            if !visit(v) {
                return;
            }
        }
        if name != WILDCARD {
            if let Some(v) = t.literal.get(WILDCARD) {
                if !visit(v) {
                    return;
                }
            }
        }
        for &len in t.prefix_lens.range(..=name.len()) {
            if !name.is_char_boundary(len) {
                continue;
            }
            if let Some(v) = t.prefixed.get(&name[..len]) {
                if !visit(v) {
                    return;
                }
            }
        }
    }

    fn entry_applies(e: &Entry, principal: &str, host: &str) -> bool {
        (e.principal == principal || e.principal == WILDCARD_PRINCIPAL)
            && (e.host == WILDCARD || e.host == host)
    }

    /// Whether `principal` (`Type:name`) from `host` (an IP address, without Kafka's leading
    /// `/`) may perform `op` on resource `name` of type `rt`.
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        op: Operation,
        rt: ResourceType,
        name: &str,
    ) -> bool {
        if self.is_super_user(principal) {
            return true;
        }
        let mut found = Found::default();
        self.each_applicable(rt, name, |entries| {
            found.any_binding |= !entries.is_empty();
            for e in entries {
                if !Self::entry_applies(e, principal, host) {
                    continue;
                }
                match e.permission {
                    Permission::Deny if e.operation == op || e.operation == Operation::All => {
                        found.deny = true;
                    }
                    Permission::Allow if implies(e.operation, op) => found.allow = true,
                    _ => {}
                }
            }
            // A DENY decides at once.
            !found.deny
        });
        if found.deny {
            return false;
        }
        if found.allow {
            return true;
        }
        !found.any_binding && self.settings.allow_if_no_acl
    }

    /// Whether `principal` from `host` may perform `op` on at least one resource of type `rt`
    /// (Kafka's `authorizeByResourceType`, which InitProducerId uses for idempotent producers
    /// with WRITE on some topic): an ALLOW binding for it that no DENY binding covers (a DENY
    /// of the same literal name, or of a prefix of its name, or of `*`). With no binding of the
    /// type at all, `allow.everyone.if.no.acl.found` decides.
    pub fn authorize_any(
        &self,
        principal: &str,
        host: &str,
        op: Operation,
        rt: ResourceType,
    ) -> bool {
        if self.is_super_user(principal) {
            return true;
        }
        let Some(t) = self.by_type.get(&rt) else {
            return self.settings.allow_if_no_acl;
        };
        let denies = |e: &Entry| {
            Self::entry_applies(e, principal, host)
                && e.permission == Permission::Deny
                && (e.operation == op || e.operation == Operation::All)
        };
        let allows = |e: &Entry| {
            Self::entry_applies(e, principal, host)
                && e.permission == Permission::Allow
                && implies(e.operation, op)
        };
        let denied_prefix = |name: &str| {
            t.prefixed
                .iter()
                .any(|(p, es)| name.starts_with(p.as_str()) && es.iter().any(denies))
        };
        if t.literal
            .get(WILDCARD)
            .is_some_and(|es| es.iter().any(denies))
        {
            return false;
        }
        let literal_ok = t.literal.iter().any(|(name, es)| {
            es.iter().any(allows) && !es.iter().any(denies) && !denied_prefix(name)
        });
        literal_ok
            || t.prefixed
                .iter()
                .any(|(name, es)| es.iter().any(allows) && !denied_prefix(name))
    }
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
