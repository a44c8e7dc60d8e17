//! [`PeerError`]: why a request to another broker got no answer. Every variant is transient
//! from the caller's point of view (the peer may come back, its registration may change); the
//! connection that failed is dropped and the next request opens a new one.

use std::fmt;

/// Why a request to a peer broker got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// The metadata image has no unfenced registration with a usable endpoint for the broker.
    NoEndpoint(i32),
    /// The endpoint's address could not be resolved.
    BadAddress(String),
    /// The connection could not be opened (refused, unreachable, or the connect timeout).
    Connect(String),
    /// No complete answer within the request timeout.
    Timeout,
    /// Reading or writing the connection failed, or the peer closed it.
    Io(String),
    /// The answer's size prefix is negative or above the configured bound.
    TooLarge(i64),
    /// The answer could not be decoded, or answers another request.
    Malformed(String),
    /// The request could not be encoded (a field does not fit the version).
    Encode(String),
    /// More distinct peers than the pool keeps.
    TooManyPeers,
    /// The TLS handshake failed (the peer's certificate, or this broker's TLS settings).
    Tls(String),
    /// The SASL login was refused or the peer failed to prove it knows the credential.
    Authentication(String),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::NoEndpoint(id) => write!(f, "broker {id} has no registered endpoint"),
            PeerError::BadAddress(a) => write!(f, "cannot resolve broker address {a}"),
            PeerError::Connect(e) => write!(f, "cannot connect: {e}"),
            PeerError::Timeout => f.write_str("request timed out"),
            PeerError::Io(e) => write!(f, "connection failed: {e}"),
            PeerError::TooLarge(n) => write!(f, "response size {n} out of bounds"),
            PeerError::Malformed(e) => write!(f, "malformed response: {e}"),
            PeerError::Encode(e) => write!(f, "cannot encode request: {e}"),
            PeerError::TooManyPeers => f.write_str("too many peer brokers"),
            PeerError::Tls(e) => write!(f, "TLS with the peer failed: {e}"),
            PeerError::Authentication(e) => write!(f, "SASL login to the peer failed: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}
