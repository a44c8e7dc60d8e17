//! The inter-broker Kafka client: typed Kafka requests from one core of this broker to another
//! broker's client listener, as Kafka's brokers talk to each other (WriteTxnMarkers from the
//! transaction coordinator today; follower fetches later).
//!
//! Each core has its own [`Peers`]: at most one connection per peer broker, opened on first use
//! to the endpoint the metadata image registers for the peer, reopened after an error, with
//! connect and request timeouts and a bounded response size. Requests to one peer take turns
//! on its connection; nothing here grows beyond one entry per broker of the cluster.
//!
//! - [`error`]: why a request got no answer ([`PeerError`]).
//! - [`frame`]: request framing and response decoding with kafka-protocol.
//! - [`connection`]: one connection (TCP or TLS) and its request/response round trip.
//! - [`security`]: how connections are secured (TLS, SASL credentials); [`login`]: the SASL
//!   login of a new connection.
//! - [`peers`]: the per-core pool of connections, by broker id.

pub mod connection;
pub mod error;
pub mod frame;
pub mod login;
pub mod peers;
pub mod security;

pub use error::PeerError;
pub use peers::{Peers, ResponseCheck, Settings};
pub use security::{LoginMechanism, PeerSecurity, SaslLogin};
