//! The principal a connection acts as (Kafka's `KafkaPrincipal`): a type and a name, written
//! `Type:name` (`User:alice`). A connection starts as `User:ANONYMOUS`, which is what a client of
//! a `PLAINTEXT` listener stays, as on Kafka; authentication (SASL, a TLS client certificate)
//! replaces it once, before any other request is served.

use std::fmt;

/// The principal type of users, the only one Kafka's built-in authenticators produce.
pub const USER_TYPE: &str = "User";
/// The name of the unauthenticated principal.
pub const ANONYMOUS_NAME: &str = "ANONYMOUS";

/// Who a connection acts as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    /// The principal type (`User`).
    pub principal_type: String,
    /// The name within the type.
    pub name: String,
}

impl KafkaPrincipal {
    /// `User:ANONYMOUS`, the principal of an unauthenticated connection.
    pub fn anonymous() -> KafkaPrincipal {
        KafkaPrincipal::user(ANONYMOUS_NAME)
    }

    /// `User:name`.
    pub fn user(name: &str) -> KafkaPrincipal {
        KafkaPrincipal {
            principal_type: USER_TYPE.to_string(),
            name: name.to_string(),
        }
    }

    /// Whether this is `User:ANONYMOUS`.
    pub fn is_anonymous(&self) -> bool {
        self.principal_type == USER_TYPE && self.name == ANONYMOUS_NAME
    }

    /// Parses `Type:name` as Kafka does (split at the first `:`; both parts non-empty).
    pub fn parse(s: &str) -> Option<KafkaPrincipal> {
        let (t, n) = s.split_once(':')?;
        if t.is_empty() || n.is_empty() {
            return None;
        }
        Some(KafkaPrincipal {
            principal_type: t.to_string(),
            name: n.to_string(),
        })
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_kafka_form() {
        let p = KafkaPrincipal::parse("User:alice").unwrap();
        assert_eq!(p, KafkaPrincipal::user("alice"));
        assert_eq!(p.to_string(), "User:alice");
        // Only the first colon splits: names may hold colons (certificate subjects do not, but
        // Kafka allows it).
        let q = KafkaPrincipal::parse("User:a:b").unwrap();
        assert_eq!(q.name, "a:b");
        assert!(KafkaPrincipal::parse("alice").is_none());
        assert!(KafkaPrincipal::parse(":alice").is_none());
        assert!(KafkaPrincipal::parse("User:").is_none());
        assert!(KafkaPrincipal::anonymous().is_anonymous());
        assert!(!p.is_anonymous());
    }
}
