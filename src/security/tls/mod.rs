//! TLS for Kafka listeners with rustls (no OpenSSL): Kafka's `ssl.*` settings
//! ([`settings`]), the PEM key material they name turned into a rustls server configuration
//! ([`material`]), a shared context that reloads changed files without a restart
//! ([`context`]), the handshake of one accepted connection with a bound on its time
//! ([`accept`]), the principal of a client certificate ([`principal`], mapped by
//! `ssl.principal.mapping.rules`: [`mapping`]), and the client side
//! for connections to other brokers ([`client`]).
//!
//! The listener layer decides which listeners speak TLS (`SSL`, `SASL_SSL`); this module only
//! turns bytes on a socket into a TLS stream and a principal.

pub mod accept;
pub mod client;
pub mod context;
pub mod mapping;
pub mod material;
pub mod principal;
pub mod settings;
pub mod stream;

#[cfg(test)]
mod tests;

pub use accept::{accept, Accepted, HandshakeError};
pub use client::client_config;
pub use context::TlsContext;
pub use settings::{ClientAuth, TlsSettings};

/// Why TLS settings cannot be used; each names the setting or file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfigError(pub String);

impl std::fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsConfigError {}

fn bad(msg: impl Into<String>) -> TlsConfigError {
    TlsConfigError(msg.into())
}
