//! SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka brokers serve them: the
//! salted credential a broker stores for a user, and the server side of one authentication
//! exchange (client-first, server-first, client-final, server-final) as a state machine.
//!
//! As on Kafka, passwords are UTF-8 bytes (no SASLprep), channel binding is not supported, an
//! authorization id must equal the user name, and the iteration count is between 4096 and
//! 16384. Unlike Kafka, an unknown user is not told apart from a wrong password: the exchange
//! goes on with a made-up credential and fails at the proof, so a client cannot probe which
//! users exist.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::scram_msg::{self, encode};

/// Fewest PBKDF2 iterations accepted for a credential (Kafka's minimum).
pub const MIN_ITERATIONS: u32 = 4096;
/// Most PBKDF2 iterations accepted for a credential (Kafka's maximum).
pub const MAX_ITERATIONS: u32 = 16384;
/// Bytes of salt in a credential made here.
const SALT_LEN: usize = 32;
/// Random bytes behind a server nonce.
const NONCE_LEN: usize = 24;

/// A SCRAM mechanism: the hash behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl Mechanism {
    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism of a SASL name, if it is SCRAM.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            "SCRAM-SHA-512" => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    /// The mechanism of Kafka's number in the SCRAM credential APIs (1, 2).
    pub fn from_kafka_type(t: i8) -> Option<Mechanism> {
        match t {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    /// Kafka's number for the mechanism in the SCRAM credential APIs.
    pub fn kafka_type(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }

    pub(super) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Mechanism::Sha512 => {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    pub(super) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
            Mechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// SCRAM's `Hi`: PBKDF2 with this mechanism's HMAC.
    pub(super) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Mechanism::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// Why an exchange failed. Every variant is answered `SASL_AUTHENTICATION_FAILED` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// A message that does not follow RFC 5802.
    Malformed(&'static str),
    /// A message over the size bound.
    TooLong,
    /// The client asked for channel binding (`p=`), which is not supported.
    ChannelBindingUnsupported,
    /// An authorization id other than the user name.
    AuthzidMismatch,
    /// An extension the server does not serve (e.g. delegation tokens, `tokenauth`).
    UnsupportedExtension(String),
    /// The final message's nonce or channel binding differs from the first one's.
    Mismatch,
    /// Unknown user or wrong password (deliberately one answer).
    InvalidCredentials,
    /// An iteration count outside 4096..=16384.
    IterationsOutOfRange,
    /// A message out of turn (after the end, or a final one first).
    OutOfOrder,
}

impl std::fmt::Display for ScramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramError::Malformed(what) => write!(f, "malformed SCRAM message: {what}"),
            ScramError::TooLong => write!(f, "SCRAM message too long"),
            ScramError::ChannelBindingUnsupported => write!(f, "channel binding not supported"),
            ScramError::AuthzidMismatch => {
                write!(f, "authorization id differs from the user name")
            }
            ScramError::UnsupportedExtension(e) => write!(f, "unsupported SCRAM extension {e}"),
            ScramError::Mismatch => write!(f, "nonce or channel binding changed"),
            ScramError::InvalidCredentials => write!(f, "invalid user credentials"),
            ScramError::IterationsOutOfRange => write!(
                f,
                "iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"
            ),
            ScramError::OutOfOrder => write!(f, "SCRAM message out of order"),
        }
    }
}

impl std::error::Error for ScramError {}

/// What a broker stores for one user and mechanism: never the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    /// The hash behind it.
    pub mechanism: Mechanism,
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(ClientKey)`: checks a client's proof.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server's final message.
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// The credential of `password` with `salt` and `iterations` (Kafka's bounds apply).
    pub fn derive(
        mechanism: Mechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, ScramError> {
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::IterationsOutOfRange);
        }
        Ok(Self::derive_unchecked(
            mechanism, password, salt, iterations,
        ))
    }

    fn derive_unchecked(
        mechanism: Mechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> ScramCredential {
        let salted = mechanism.salted_password(password, salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(&salted, b"Server Key"),
        }
    }

    /// The credential of an already salted password (`Hi(password, salt, iterations)`), as
    /// AlterUserScramCredentials carries it: the keys are derived here, the salted password
    /// is not kept.
    pub fn from_salted_password(
        mechanism: Mechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> ScramCredential {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
        }
    }

    /// `Hi(password, salt, iterations)` of `mechanism`: what a client sends in
    /// AlterUserScramCredentials.
    pub fn salt_password(
        mechanism: Mechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Vec<u8> {
        mechanism.salted_password(password, salt, iterations)
    }

    /// A credential of `password` with a fresh random salt.
    pub fn generate(
        mechanism: Mechanism,
        password: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, ScramError> {
        Self::derive(mechanism, password, &random_bytes::<SALT_LEN>(), iterations)
    }

    /// Whether `password` is this credential's (PLAIN logins are checked this way).
    pub fn matches_password(&self, password: &[u8]) -> bool {
        let other = Self::derive_unchecked(self.mechanism, password, &self.salt, self.iterations);
        bool::from(other.stored_key.ct_eq(&self.stored_key))
    }
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random generator");
    b
}

/// A credential for a user that does not exist, stable per user name within this process, so
/// that an unknown user looks like a known one until the proof fails (SCRAM), and costs the
/// same key derivation as a wrong password (PLAIN, [`super::sasl`]).
pub(super) fn decoy(mechanism: Mechanism, username: &str) -> ScramCredential {
    static SECRET: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let secret = SECRET.get_or_init(random_bytes::<32>);
    let salt = mechanism.hmac(secret, username.as_bytes());
    ScramCredential {
        mechanism,
        salt: salt[..SALT_LEN.min(salt.len())].to_vec(),
        iterations: MIN_ITERATIONS,
        stored_key: mechanism.hmac(secret, b"stored"),
        server_key: mechanism.hmac(secret, b"server"),
    }
}

/// Where an exchange stands.
enum State {
    AwaitFirst,
    AwaitFinal {
        credential: ScramCredential,
        known: bool,
        username: String,
        gs2_header: String,
        nonce: String,
        /// The client's part of `nonce` (for librdkafka's repeated-nonce form).
        client_nonce_len: usize,
        auth_prefix: String,
    },
    Done,
}

/// The server side of one SCRAM exchange.
pub struct ScramServer {
    mechanism: Mechanism,
    state: State,
}

impl ScramServer {
    /// A new exchange for `mechanism`.
    pub fn new(mechanism: Mechanism) -> ScramServer {
        ScramServer {
            mechanism,
            state: State::AwaitFirst,
        }
    }

    /// Takes the client-first-message; `lookup` gives the stored credential of a user name.
    /// Returns the server-first-message.
    pub fn client_first(
        &mut self,
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>, ScramError> {
        let nonce: String = encode(&random_bytes::<NONCE_LEN>());
        self.client_first_with_nonce(msg, lookup, &nonce)
    }

    fn client_first_with_nonce(
        &mut self,
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
        server_nonce: &str,
    ) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, State::AwaitFirst) {
            self.state = State::Done;
            return Err(ScramError::OutOfOrder);
        }
        self.state = State::Done;
        let first = scram_msg::parse_client_first(msg)?;
        if first.authzid.as_ref().is_some_and(|a| *a != first.username) {
            return Err(ScramError::AuthzidMismatch);
        }
        if let Some((k, _)) = first.extensions.first() {
            return Err(ScramError::UnsupportedExtension(k.clone()));
        }
        let (credential, known) = match lookup(&first.username) {
            Some(c) if c.mechanism == self.mechanism => (c, true),
            _ => (decoy(self.mechanism, &first.username), false),
        };
        let client_nonce_len = first.nonce.len();
        let nonce = format!("{}{}", first.nonce, server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            encode(&credential.salt),
            credential.iterations
        );
        let auth_prefix = format!("{},{server_first},", first.bare);
        self.state = State::AwaitFinal {
            credential,
            known,
            username: first.username,
            gs2_header: first.gs2_header,
            nonce,
            client_nonce_len,
            auth_prefix,
        };
        Ok(server_first.into_bytes())
    }

    /// Takes the client-final-message. Returns the authenticated user name and the
    /// server-final-message.
    pub fn client_final(&mut self, msg: &[u8]) -> Result<(String, Vec<u8>), ScramError> {
        let State::AwaitFinal {
            credential,
            known,
            username,
            gs2_header,
            nonce,
            client_nonce_len,
            auth_prefix,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(ScramError::OutOfOrder);
        };
        let fin = scram_msg::parse_client_final(msg)?;
        // librdkafka before 2.6.1 sends its own nonce twice (`r=<client><client><server>`,
        // librdkafka#4895; Kafka 3.8.1-3.9 accepted it, Kafka 4 does not). That form is
        // accepted too, so kcat and other clients on older librdkafka can log in: the server's
        // nonce must still end it, and the proof covers the message as sent.
        let librdkafka_form = fin.nonce.len() == client_nonce_len + nonce.len()
            && fin.nonce.starts_with(&nonce[..client_nonce_len])
            && fin.nonce.ends_with(&nonce);
        if !(fin.nonce == nonce || librdkafka_form) || fin.channel_binding != gs2_header.as_bytes()
        {
            return Err(ScramError::Mismatch);
        }
        let auth_message = format!("{auth_prefix}{}", fin.without_proof);
        let m = self.mechanism;
        let signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        if fin.proof.len() != signature.len() {
            return Err(ScramError::InvalidCredentials);
        }
        let client_key: Vec<u8> = fin
            .proof
            .iter()
            .zip(&signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let ok = bool::from(m.hash(&client_key).ct_eq(&credential.stored_key));
        if !(ok && known) {
            return Err(ScramError::InvalidCredentials);
        }
        let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
        Ok((
            username,
            format!("v={}", encode(&server_signature)).into_bytes(),
        ))
    }
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
