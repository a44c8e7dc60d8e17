//! The client side of SASL for the wire client ([`super::wire`]): the settings it logs in with
//! (librdkafka's and Kafka's property names: `security.protocol`, `sasl.mechanism`,
//! `sasl.username`, `sasl.password`, or Kafka's `sasl.jaas.config`), PLAIN's single message
//! (RFC 4616) and SCRAM-SHA-256/512's client (RFC 5802, RFC 7677), which checks the server's
//! signature too. No I/O here.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::common::{CliError, CliResult};

/// Fewest and most PBKDF2 iterations accepted from a server (Kafka's bounds).
const ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=16384;

/// A SASL mechanism the wire client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN.
    Plain,
    /// SCRAM-SHA-256.
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl Mechanism {
    /// The mechanism of a SASL name (any case).
    pub fn from_name(name: &str) -> CliResult<Mechanism> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Mechanism::Plain),
            "SCRAM-SHA-256" => Ok(Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(Mechanism::ScramSha512),
            other => Err(CliError::usage(format!(
                "sasl.mechanism {other} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            ))),
        }
    }

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha512 => {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha512 => Sha512::digest(data).to_vec(),
            _ => Sha256::digest(data).to_vec(),
        }
    }
}

/// Who to log in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// The login of a SASL `security.protocol` from `props` (later entries win), or `None` when
/// the protocol is not SASL.
pub fn login_from(props: &[(String, String)]) -> CliResult<Option<Login>> {
    let get = |k: &str| props.iter().rev().find(|(pk, _)| pk == k).map(|(_, v)| v);
    let protocol = get("security.protocol").map(|p| p.to_ascii_uppercase());
    match protocol.as_deref() {
        None | Some("PLAINTEXT" | "SSL") => return Ok(None),
        Some("SASL_PLAINTEXT" | "SASL_SSL") => {}
        Some(other) => {
            return Err(CliError::usage(format!(
                "security.protocol {other}: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
            )))
        }
    }
    // librdkafka calls it sasl.mechanisms, Kafka sasl.mechanism; Kafka's default is GSSAPI.
    let mech = get("sasl.mechanism")
        .or_else(|| get("sasl.mechanisms"))
        .ok_or_else(|| CliError::usage("a SASL security.protocol needs sasl.mechanism"))?;
    let mechanism = Mechanism::from_name(mech)?;
    let jaas = get("sasl.jaas.config").map(|j| jaas_credentials(j));
    let username = get("sasl.username")
        .cloned()
        .or_else(|| jaas.as_ref().and_then(|j| j.0.clone()));
    let password = get("sasl.password")
        .cloned()
        .or_else(|| jaas.as_ref().and_then(|j| j.1.clone()));
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(Login {
            mechanism,
            username,
            password,
        })),
        _ => Err(CliError::usage(
            "a SASL security.protocol needs sasl.username and sasl.password (or \
             sasl.jaas.config)",
        )),
    }
}

/// `username="..."` and `password="..."` of a Kafka `sasl.jaas.config` value.
pub fn jaas_credentials(jaas: &str) -> (Option<String>, Option<String>) {
    let field = |name: &str| -> Option<String> {
        let mut rest = jaas;
        while let Some(at) = rest.find(name) {
            let before = rest[..at].chars().last();
            let after = rest[at + name.len()..].trim_start();
            rest = &rest[at + name.len()..];
            if before.is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let Some(v) = after.strip_prefix('=') else {
                continue;
            };
            let v = v.trim_start().strip_prefix('"')?;
            return v.find('"').map(|end| v[..end].to_string());
        }
        None
    };
    (field("username"), field("password"))
}

/// PLAIN's message: no authorization id, the user name, the password.
pub fn plain_token(login: &Login) -> Vec<u8> {
    format!("\0{}\0{}", login.username, login.password).into_bytes()
}

/// One SCRAM exchange, client side.
pub struct ScramClient {
    mechanism: Mechanism,
    password: Vec<u8>,
    nonce: String,
    first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// A new exchange for `login` with client nonce `nonce` (printable, no comma).
    pub fn new(login: &Login, nonce: &str) -> ScramClient {
        let user = login.username.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            mechanism: login.mechanism,
            password: login.password.clone().into_bytes(),
            nonce: nonce.to_string(),
            first_bare: format!("n={user},r={nonce}"),
            server_signature: None,
        }
    }

    /// The client-first-message.
    pub fn first(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// The client-final-message answering `server_first`.
    pub fn final_message(&mut self, server_first: &[u8]) -> CliResult<Vec<u8>> {
        let bad = |what: &str| CliError::failed(format!("SCRAM: bad server-first-message: {what}"));
        let text = std::str::from_utf8(server_first).map_err(|_| bad("not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in text.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(B64.decode(v).map_err(|_| bad("salt"))?),
                Some(("i", v)) => iterations = Some(v.parse::<u32>().map_err(|_| bad("i"))?),
                Some(("e", v)) => return Err(CliError::failed(format!("SCRAM: server error {v}"))),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(bad("r, s or i missing"));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(bad("the nonce does not extend ours"));
        }
        if !ITERATIONS.contains(&iterations) {
            return Err(bad("iterations outside 4096..16384"));
        }
        let m = self.mechanism;
        let salted = salted_password(m, &self.password, &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.first_bare);
        let signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = m.hmac(&salted, b"Server Key");
        self.server_signature = Some(m.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final-message: the server proves it knows the credential too.
    pub fn verify(&self, server_final: &[u8]) -> CliResult<()> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(e) = text.strip_prefix("e=") {
            return Err(CliError::failed(format!("SCRAM: server error {e}")));
        }
        let got = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v.trim()).ok());
        match (&self.server_signature, got) {
            (Some(want), Some(got)) if *want == got => Ok(()),
            _ => Err(CliError::failed(
                "SCRAM: the server's signature is wrong (not the broker holding the credential)",
            )),
        }
    }
}

fn salted_password(m: Mechanism, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let kind = if m == Mechanism::ScramSha512 { 2 } else { 1 };
    super::user::salted_password(kind, password, salt, iterations)
}

#[cfg(test)]
#[path = "sasl_tests.rs"]
mod tests;
