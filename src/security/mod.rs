//! Client authentication, the mechanisms only: SASL/SCRAM (RFC 5802/7677) and SASL/PLAIN
//! (RFC 4616) as pure state machines over the bytes a client sends, with typed errors. They
//! hold no connection and do no I/O: the connection layer feeds them SaslAuthenticate payloads
//! (issue 22) and the credential store hands them the salted credentials they check against.
//! Passwords are never kept: a credential is SCRAM's salted `StoredKey`/`ServerKey`, and PLAIN
//! logins are checked against the same SCRAM credentials.
//!
//! The client side, for this broker logging in to other brokers: [`scram_client`], and the
//! credentials it reads from Kafka's `sasl.jaas.config` ([`jaas`]).
//!
//! Authorization: [`acl`], Kafka's ACL model and `StandardAuthorizer` decision as pure code.

pub mod acl;
pub mod credentials;
pub mod jaas;
pub mod plain;
pub mod principal;
pub mod sasl;
pub mod scram;
pub mod scram_client;
mod scram_msg;
pub mod tls;
