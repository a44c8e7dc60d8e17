//! The authorizer against every rule of Kafka's `StandardAuthorizer` (see the module comment).

use super::*;
use crate::security::acl::model::{validate, AclFilter};

use Operation::{
    All, Alter, AlterConfigs, ClusterAction, Create, Delete, Describe, DescribeConfigs,
    IdempotentWrite, Read, Write,
};
use ResourceType::{Cluster, DelegationToken, Group, Topic};

fn b(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    host: &str,
    op: Operation,
    perm: Permission,
) -> AclBinding {
    AclBinding {
        resource_type: rt,
        resource_name: name.into(),
        pattern_type: pt,
        principal: principal.into(),
        host: host.into(),
        operation: op,
        permission: perm,
    }
}

fn allow(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    op: Operation,
) -> AclBinding {
    b(rt, name, pt, principal, "*", op, Permission::Allow)
}

fn deny(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    op: Operation,
) -> AclBinding {
    b(rt, name, pt, principal, "*", op, Permission::Deny)
}

fn authz(bindings: &[AclBinding]) -> Authorizer {
    Authorizer::new(AuthorizerSettings::default(), bindings)
}

const ALICE: &str = "User:alice";
const BOB: &str = "User:bob";
const H: &str = "10.0.0.1";

#[test]
fn literal_binding_matches_its_name_only() {
    let a = authz(&[allow(Topic, "orders", PatternType::Literal, ALICE, Read)]);
    assert!(a.authorize(ALICE, H, Read, Topic, "orders"));
    assert!(!a.authorize(ALICE, H, Read, Topic, "orders2"));
    assert!(!a.authorize(ALICE, H, Read, Topic, "order"));
    assert!(!a.authorize(ALICE, H, Write, Topic, "orders"));
    assert!(!a.authorize(BOB, H, Read, Topic, "orders"));
    // Another resource type of the same name is another resource.
    assert!(!a.authorize(ALICE, H, Read, Group, "orders"));
}

#[test]
fn wildcard_name_matches_every_resource_of_its_type() {
    let a = authz(&[allow(Topic, "*", PatternType::Literal, ALICE, Write)]);
    assert!(a.authorize(ALICE, H, Write, Topic, "anything"));
    assert!(a.authorize(ALICE, H, Write, Topic, "*"));
    assert!(!a.authorize(ALICE, H, Write, Group, "anything"));
    // A prefixed `*` is a prefix like any other, not a wildcard.
    let p = authz(&[allow(Topic, "*", PatternType::Prefixed, ALICE, Write)]);
    assert!(!p.authorize(ALICE, H, Write, Topic, "anything"));
    assert!(p.authorize(ALICE, H, Write, Topic, "*x"));
}

#[test]
fn prefixed_binding_matches_names_that_start_with_it() {
    let a = authz(&[
        allow(Topic, "fin-", PatternType::Prefixed, ALICE, Read),
        allow(Topic, "f", PatternType::Prefixed, BOB, Read),
    ]);
    assert!(a.authorize(ALICE, H, Read, Topic, "fin-ledger"));
    assert!(a.authorize(ALICE, H, Read, Topic, "fin-"));
    assert!(!a.authorize(ALICE, H, Read, Topic, "fin"));
    assert!(!a.authorize(ALICE, H, Read, Topic, "xfin-ledger"));
    assert!(a.authorize(BOB, H, Read, Topic, "fin-ledger"));
    assert!(a.authorize(BOB, H, Read, Topic, "f"));
    // Multi-byte names: a prefix that ends inside a character never matches.
    let u = authz(&[allow(Topic, "é", PatternType::Prefixed, ALICE, Read)]);
    assert!(u.authorize(ALICE, H, Read, Topic, "été"));
    assert!(!u.authorize(ALICE, H, Read, Topic, "e"));
}

#[test]
fn wildcard_principal_and_host() {
    let a = authz(&[
        allow(Topic, "t", PatternType::Literal, "User:*", Read),
        b(
            Topic,
            "h",
            PatternType::Literal,
            ALICE,
            "10.0.0.1",
            Read,
            Permission::Allow,
        ),
    ]);
    assert!(a.authorize(ALICE, H, Read, Topic, "t"));
    assert!(a.authorize("User:ANONYMOUS", "127.0.0.1", Read, Topic, "t"));
    assert!(a.authorize(ALICE, "10.0.0.1", Read, Topic, "h"));
    assert!(!a.authorize(ALICE, "10.0.0.2", Read, Topic, "h"));
    // As on Kafka, `User:*` is added to every request's principals, whatever their type.
    assert!(a.authorize("Group:x", H, Read, Topic, "t"));
    assert!(!a.authorize("Group:x", H, Read, Topic, "h"));
}

#[test]
fn all_covers_every_operation() {
    let a = authz(&[allow(Group, "g", PatternType::Literal, ALICE, All)]);
    for op in [Read, Describe, Delete] {
        assert!(a.authorize(ALICE, H, op, Group, "g"), "{op:?}");
    }
    let d = authz(&[
        allow(Topic, "t", PatternType::Literal, ALICE, All),
        deny(Topic, "t", PatternType::Literal, ALICE, All),
    ]);
    assert!(!d.authorize(ALICE, H, Read, Topic, "t"));
}

#[test]
fn describe_is_implied_by_read_write_delete_alter() {
    for op in [Read, Write, Delete, Alter] {
        let a = authz(&[allow(Topic, "t", PatternType::Literal, ALICE, op)]);
        assert!(a.authorize(ALICE, H, Describe, Topic, "t"), "{op:?}");
    }
    for op in [
        Create,
        AlterConfigs,
        DescribeConfigs,
        ClusterAction,
        IdempotentWrite,
    ] {
        let a = authz(&[allow(Topic, "t", PatternType::Literal, ALICE, op)]);
        assert!(!a.authorize(ALICE, H, Describe, Topic, "t"), "{op:?}");
    }
    let a = authz(&[allow(Topic, "t", PatternType::Literal, ALICE, AlterConfigs)]);
    assert!(a.authorize(ALICE, H, DescribeConfigs, Topic, "t"));
    // Implication goes one way.
    let d = authz(&[allow(Topic, "t", PatternType::Literal, ALICE, Describe)]);
    assert!(!d.authorize(ALICE, H, Read, Topic, "t"));
}

#[test]
fn implication_applies_to_allow_only() {
    // A DENY of READ does not deny DESCRIBE (Kafka's rule).
    let a = authz(&[
        allow(Topic, "t", PatternType::Literal, ALICE, Describe),
        deny(Topic, "t", PatternType::Literal, ALICE, Read),
    ]);
    assert!(a.authorize(ALICE, H, Describe, Topic, "t"));
    assert!(!a.authorize(ALICE, H, Read, Topic, "t"));
}

#[test]
fn deny_wins_over_allow_from_any_pattern() {
    let a = authz(&[
        allow(Topic, "*", PatternType::Literal, "User:*", Write),
        deny(Topic, "secret-", PatternType::Prefixed, ALICE, Write),
        deny(Topic, "t", PatternType::Literal, "User:*", Write),
        b(
            Topic,
            "u",
            PatternType::Literal,
            BOB,
            "10.0.0.9",
            Write,
            Permission::Deny,
        ),
    ]);
    assert!(a.authorize(ALICE, H, Write, Topic, "public"));
    assert!(!a.authorize(ALICE, H, Write, Topic, "secret-plans"));
    assert!(a.authorize(BOB, H, Write, Topic, "secret-plans"));
    assert!(!a.authorize(BOB, H, Write, Topic, "t"));
    assert!(a.authorize(BOB, H, Write, Topic, "u"));
    assert!(!a.authorize(BOB, "10.0.0.9", Write, Topic, "u"));
    // A wildcard DENY beats a literal ALLOW.
    let w = authz(&[
        allow(Topic, "t", PatternType::Literal, ALICE, Read),
        deny(Topic, "*", PatternType::Literal, "User:*", Read),
    ]);
    assert!(!w.authorize(ALICE, H, Read, Topic, "t"));
}

#[test]
fn super_users_are_allowed_everything() {
    let settings = AuthorizerSettings {
        super_users: AuthorizerSettings::parse_super_users(" User:admin ; User:ops;").unwrap(),
        allow_if_no_acl: false,
    };
    let a = Authorizer::new(
        settings,
        &[deny(Topic, "*", PatternType::Literal, "User:*", All)],
    );
    assert!(a.authorize("User:admin", H, Write, Topic, "t"));
    assert!(a.authorize("User:ops", H, ClusterAction, Cluster, "kafka-cluster"));
    assert!(!a.authorize(ALICE, H, Write, Topic, "t"));
    assert!(AuthorizerSettings::parse_super_users("admin").is_err());
    assert!(AuthorizerSettings::parse_super_users("")
        .unwrap()
        .is_empty());
}

#[test]
fn no_binding_means_denied_unless_allow_everyone() {
    let bindings = [allow(Topic, "t", PatternType::Literal, BOB, Read)];
    let strict = authz(&bindings);
    assert!(!strict.authorize(ALICE, H, Read, Topic, "other"));
    let open = Authorizer::new(
        AuthorizerSettings {
            allow_if_no_acl: true,
            ..Default::default()
        },
        &bindings,
    );
    // No binding at all for `other`: open. A binding of someone else for `t`: closed.
    assert!(open.authorize(ALICE, H, Read, Topic, "other"));
    assert!(!open.authorize(ALICE, H, Read, Topic, "t"));
    assert!(open.authorize(BOB, H, Read, Topic, "t"));
}

#[test]
fn authorize_any_of_a_resource_type() {
    let a = authz(&[
        allow(Topic, "a", PatternType::Literal, ALICE, Write),
        allow(Topic, "p-", PatternType::Prefixed, BOB, Write),
        deny(Topic, "p-", PatternType::Prefixed, "User:carol", Write),
        allow(Topic, "p-x", PatternType::Literal, "User:carol", Write),
    ]);
    assert!(a.authorize_any(ALICE, H, Write, Topic));
    assert!(a.authorize_any(BOB, H, Write, Topic));
    assert!(!a.authorize_any("User:carol", H, Write, Topic));
    assert!(!a.authorize_any("User:dave", H, Write, Topic));
    assert!(!a.authorize_any(ALICE, H, Write, Group));
    let w = authz(&[
        allow(Topic, "a", PatternType::Literal, ALICE, Write),
        deny(Topic, "*", PatternType::Literal, ALICE, Write),
    ]);
    assert!(!w.authorize_any(ALICE, H, Write, Topic));
}

#[test]
fn lookups_do_not_scan_other_resources() {
    // 100,000 bindings on other topics: a check touches only the lists of its own name and
    // prefixes, so a million checks stay fast even in a debug build.
    let mut many: Vec<AclBinding> = (0..100_000)
        .map(|i| {
            allow(
                Topic,
                &format!("topic-{i}"),
                PatternType::Literal,
                ALICE,
                Read,
            )
        })
        .collect();
    many.push(allow(Topic, "pre-", PatternType::Prefixed, ALICE, Read));
    let a = authz(&many);
    assert_eq!(a.len(), 100_001);
    let start = std::time::Instant::now();
    for i in 0..100_000 {
        assert!(a.authorize(ALICE, H, Read, Topic, &format!("topic-{i}")));
        assert!(a.authorize(ALICE, H, Describe, Topic, "pre-x"));
        assert!(!a.authorize(BOB, H, Read, Topic, "topic-1"));
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn invalid_bindings_are_refused() {
    let ok = allow(Topic, "t", PatternType::Literal, ALICE, Read);
    assert!(validate(&ok).is_ok());
    let cases = [
        AclBinding {
            resource_type: ResourceType::Any,
            ..ok.clone()
        },
        AclBinding {
            pattern_type: PatternType::Match,
            ..ok.clone()
        },
        AclBinding {
            pattern_type: PatternType::Any,
            ..ok.clone()
        },
        AclBinding {
            operation: Operation::Any,
            ..ok.clone()
        },
        AclBinding {
            permission: Permission::Any,
            ..ok.clone()
        },
        AclBinding {
            resource_name: String::new(),
            ..ok.clone()
        },
        AclBinding {
            principal: "alice".into(),
            ..ok.clone()
        },
        AclBinding {
            host: String::new(),
            ..ok.clone()
        },
        AclBinding {
            resource_type: Cluster,
            resource_name: "c".into(),
            ..ok.clone()
        },
    ];
    for c in &cases {
        assert!(validate(c).is_err(), "{c:?}");
    }
    assert!(validate(&AclBinding {
        resource_type: Cluster,
        resource_name: "kafka-cluster".into(),
        ..ok
    })
    .is_ok());
    // Invalid bindings never reach the index.
    assert!(authz(&cases).is_empty());
}

#[test]
fn filters_match_as_kafka_does() {
    let lit = allow(Topic, "orders", PatternType::Literal, ALICE, Read);
    let wild = allow(Topic, "*", PatternType::Literal, BOB, Write);
    let pre = deny(Topic, "ord", PatternType::Prefixed, ALICE, Read);
    let grp = allow(Group, "orders", PatternType::Literal, ALICE, Read);
    let all = [&lit, &wild, &pre, &grp];
    let any = AclFilter {
        resource_type: ResourceType::Any,
        resource_name: None,
        pattern_type: PatternType::Any,
        principal: None,
        host: None,
        operation: Operation::Any,
        permission: Permission::Any,
    };
    let count = |f: &AclFilter| all.iter().filter(|b| f.matches(b)).count();
    assert_eq!(count(&any), 4);
    let topic_orders_match = AclFilter {
        resource_type: Topic,
        resource_name: Some("orders".into()),
        pattern_type: PatternType::Match,
        ..any.clone()
    };
    assert_eq!(count(&topic_orders_match), 3);
    let literal_orders = AclFilter {
        pattern_type: PatternType::Literal,
        ..topic_orders_match.clone()
    };
    assert_eq!(count(&literal_orders), 1);
    let any_orders = AclFilter {
        resource_type: ResourceType::Any,
        resource_name: Some("orders".into()),
        ..any.clone()
    };
    assert_eq!(count(&any_orders), 2);
    let prefixed = AclFilter {
        pattern_type: PatternType::Prefixed,
        ..any.clone()
    };
    assert_eq!(count(&prefixed), 1);
    let by_who = AclFilter {
        principal: Some(BOB.into()),
        operation: Write,
        permission: Permission::Allow,
        host: Some("*".into()),
        ..any.clone()
    };
    assert_eq!(count(&by_who), 1);
    let deny_only = AclFilter {
        permission: Permission::Deny,
        ..any
    };
    assert_eq!(count(&deny_only), 1);
}

#[test]
fn codes_are_kafkas() {
    assert_eq!(ResourceType::TransactionalId.code(), 5);
    assert_eq!(ResourceType::from_code(6), Some(DelegationToken));
    assert_eq!(ResourceType::from_code(0), None);
    assert_eq!(PatternType::Prefixed.code(), 4);
    assert_eq!(Operation::IdempotentWrite.code(), 12);
    assert_eq!(Operation::from_code(15), None);
    assert_eq!(Permission::Allow.code(), 3);
}
