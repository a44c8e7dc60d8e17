//! How this broker authenticates to other brokers: TLS when the inter-broker listener is `SSL`
//! or `SASL_SSL` (the listener's own key material, see
//! [`crate::security::tls::TlsContext::client_config`]), then a SASL login when it is
//! `SASL_PLAINTEXT` or `SASL_SSL` (`sasl.mechanism.inter.broker.protocol` with the credentials
//! of the listener's `sasl.jaas.config`), as Kafka's brokers do. The configuration layer builds
//! a [`PeerSecurity`]; [`super::connection`] applies it to every connection it opens.

use std::sync::Arc;

use crate::security::scram::Mechanism;
use crate::security::tls::TlsContext;

/// What a new connection to a peer does before its first request.
#[derive(Clone, Default)]
pub struct PeerSecurity {
    /// TLS with this context's client side (`None`: plain TCP).
    pub tls: Option<Arc<TlsContext>>,
    /// A SASL login after connecting (`None`: none).
    pub sasl: Option<SaslLogin>,
}

impl std::fmt::Debug for PeerSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSecurity")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// A SASL mechanism this broker can log in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMechanism {
    /// PLAIN (RFC 4616): the password itself, so only over TLS in production.
    Plain,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    Scram(Mechanism),
}

impl LoginMechanism {
    /// The mechanism by its SASL name (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn from_name(name: &str) -> Option<LoginMechanism> {
        match name {
            "PLAIN" => Some(LoginMechanism::Plain),
            other => Mechanism::from_name(other).map(LoginMechanism::Scram),
        }
    }

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            LoginMechanism::Plain => "PLAIN",
            LoginMechanism::Scram(m) => m.name(),
        }
    }
}

/// The credentials a broker logs in to its peers with.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslLogin {
    /// The mechanism.
    pub mechanism: LoginMechanism,
    /// The user name (the peers see `User:<username>`).
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslLogin")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}
