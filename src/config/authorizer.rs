//! The authorizer keys: `authorizer.class.name` switches ACLs on (Kafka's
//! `org.apache.kafka.metadata.authorizer.StandardAuthorizer`, or the short form
//! `StandardAuthorizer`), `super.users` and `allow.everyone.if.no.acl.found` tune it. Without
//! an authorizer every request is allowed, as on Kafka.

use anyhow::{bail, Result};

use crate::security::acl::AuthorizerSettings;

/// Kafka's class name of the KRaft authorizer.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
/// The short form accepted for it.
pub const SHORT_FORM: &str = "StandardAuthorizer";

/// The authorizer's settings, or `None` when `class` is empty (no authorizer).
pub fn settings(
    class: &str,
    super_users: &str,
    allow_if_no_acl: bool,
) -> Result<Option<AuthorizerSettings>> {
    match class.trim() {
        "" => return Ok(None),
        STANDARD_AUTHORIZER | SHORT_FORM => {}
        other => bail!(
            "authorizer.class.name {other:?} is not supported: use {STANDARD_AUTHORIZER:?} \
             (or {SHORT_FORM:?}), or leave it empty for no authorizer"
        ),
    }
    let super_users = AuthorizerSettings::parse_super_users(super_users)
        .map_err(|e| anyhow::anyhow!("super.users: {e}"))?;
    Ok(Some(AuthorizerSettings {
        super_users,
        allow_if_no_acl,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_and_super_users() {
        assert_eq!(settings("", "User:a", true).unwrap(), None);
        let s = settings(STANDARD_AUTHORIZER, "User:admin;User:other", false)
            .unwrap()
            .unwrap();
        assert!(s.super_users.contains("User:admin") && s.super_users.contains("User:other"));
        assert!(!s.allow_if_no_acl);
        assert!(
            settings(SHORT_FORM, "", true)
                .unwrap()
                .unwrap()
                .allow_if_no_acl
        );
        assert!(settings("kafka.security.authorizer.AclAuthorizer", "", false).is_err());
        assert!(settings(SHORT_FORM, "admin", false).is_err());
    }
}
