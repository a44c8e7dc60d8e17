//! The client side of SASL/SCRAM (RFC 5802/7677), for this broker logging in to another one
//! over a SASL inter-broker listener: client-first, then the client-final built from the
//! server-first, then the server's signature checked. The peer is untrusted: its messages are
//! bounded, its iteration count must be Kafka's (4096 to 16384, so a lying peer cannot make
//! this broker hash for minutes), its nonce must extend ours, and a wrong server signature
//! (a peer that does not know the credential) fails the login.

use subtle::ConstantTimeEq;

use super::scram::{random_bytes, Mechanism, ScramError, MAX_ITERATIONS, MIN_ITERATIONS};
use super::scram_msg::{decode, encode, escape_name, MAX_MESSAGE};

/// Where a client exchange stands.
enum State {
    /// `client_first` was sent; waiting for the server-first message.
    First { bare: String },
    /// The client-final was sent; waiting for the server's signature.
    Final { server_signature: Vec<u8> },
    /// Finished (either way): nothing more is accepted.
    Done,
}

/// One client exchange (see the module comment).
pub struct ScramClient {
    mechanism: Mechanism,
    password: Vec<u8>,
    nonce: String,
    state: State,
}

impl ScramClient {
    /// Starts an exchange for `username`; returns it with the client-first message.
    pub fn start(mechanism: Mechanism, username: &str, password: &str) -> (ScramClient, Vec<u8>) {
        Self::with_nonce(mechanism, username, password, encode(&random_bytes::<24>()))
    }

    fn with_nonce(
        mechanism: Mechanism,
        username: &str,
        password: &str,
        nonce: String,
    ) -> (ScramClient, Vec<u8>) {
        let bare = format!("n={},r={nonce}", escape_name(username));
        let first = format!("n,,{bare}").into_bytes();
        let client = ScramClient {
            mechanism,
            password: password.as_bytes().to_vec(),
            nonce,
            state: State::First { bare },
        };
        (client, first)
    }

    /// Takes the server-first message; returns the client-final message.
    pub fn server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let State::First { bare } = std::mem::replace(&mut self.state, State::Done) else {
            return Err(ScramError::OutOfOrder);
        };
        let text = bounded(msg)?;
        let mut parts = text.split(',');
        let nonce = attr(parts.next(), 'r')?;
        let salt = decode(attr(parts.next(), 's')?)?;
        let iterations: u32 = attr(parts.next(), 'i')?
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::IterationsOutOfRange);
        }
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::Mismatch);
        }
        if salt.is_empty() {
            return Err(ScramError::Malformed("empty salt"));
        }
        let m = self.mechanism;
        let salted = m.salted_password(&self.password, &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        // "biws" is base64 of the GS2 header "n,," (no channel binding).
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{bare},{text},{without_proof}");
        let signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = m.hmac(&salted, b"Server Key");
        self.state = State::Final {
            server_signature: m.hmac(&server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", encode(&proof)).into_bytes())
    }

    /// Takes the server-final message: `Ok` when the server proved it knows the credential.
    pub fn server_final(&mut self, msg: &[u8]) -> Result<(), ScramError> {
        let State::Final { server_signature } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(ScramError::OutOfOrder);
        };
        let text = bounded(msg)?;
        if text.starts_with("e=") {
            return Err(ScramError::InvalidCredentials);
        }
        let sent = decode(attr(text.split(',').next(), 'v')?)?;
        if bool::from(sent.ct_eq(&server_signature)) {
            Ok(())
        } else {
            Err(ScramError::InvalidCredentials)
        }
    }
}

fn bounded(msg: &[u8]) -> Result<&str, ScramError> {
    if msg.len() > MAX_MESSAGE {
        return Err(ScramError::TooLong);
    }
    std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))
}

fn attr(part: Option<&str>, letter: char) -> Result<&str, ScramError> {
    let part = part.ok_or(ScramError::Malformed("missing attribute"))?;
    let mut chars = part.chars();
    if chars.next() == Some(letter) && chars.next() == Some('=') {
        Ok(&part[2..])
    } else {
        Err(ScramError::Malformed("unexpected attribute"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram::{ScramCredential, ScramServer};

    /// The client against this broker's own server side: both directions of proof agree.
    fn login(mechanism: Mechanism, stored_pw: &str, client_pw: &str) -> Result<(), ScramError> {
        let credential = ScramCredential::generate(mechanism, stored_pw.as_bytes(), 4096).unwrap();
        let mut server = ScramServer::new(mechanism);
        let (mut client, first) = ScramClient::start(mechanism, "broker,1=", client_pw);
        let server_first = server
            .client_first(&first, |user| {
                assert_eq!(user, "broker,1=");
                Some(credential.clone())
            })
            .unwrap();
        let fin = client.server_first(&server_first)?;
        let (_, server_final) = server.client_final(&fin)?;
        client.server_final(&server_final)
    }

    #[test]
    fn logs_in_to_the_broker_side_with_either_hash() {
        for m in [Mechanism::Sha256, Mechanism::Sha512] {
            login(m, "s3cret", "s3cret").unwrap();
            assert_eq!(
                login(m, "s3cret", "wrong"),
                Err(ScramError::InvalidCredentials)
            );
        }
    }

    /// RFC 7677's SCRAM-SHA-256 example, client side.
    #[test]
    fn rfc7677_example() {
        let (mut c, first) = ScramClient::with_nonce(
            Mechanism::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c
            .server_first(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn a_lying_server_is_refused() {
        let start = || ScramClient::with_nonce(Mechanism::Sha256, "u", "p", "abc".into()).0;
        // Iterations outside Kafka's bounds (a peer making this broker hash for minutes).
        assert_eq!(
            start().server_first(b"r=abcdef,s=c2FsdA==,i=100000000"),
            Err(ScramError::IterationsOutOfRange)
        );
        assert_eq!(
            start().server_first(b"r=abcdef,s=c2FsdA==,i=1"),
            Err(ScramError::IterationsOutOfRange)
        );
        // A nonce that does not extend ours, or adds nothing.
        assert_eq!(
            start().server_first(b"r=xyz123,s=c2FsdA==,i=4096"),
            Err(ScramError::Mismatch)
        );
        assert_eq!(
            start().server_first(b"r=abc,s=c2FsdA==,i=4096"),
            Err(ScramError::Mismatch)
        );
        // Garbage, oversized, out of order, a forged signature, a server error.
        assert!(start().server_first(b"\xff\xfe").is_err());
        assert!(start().server_first(&[b'r'; 5000]).is_err());
        assert!(start().server_first(b"s=c2FsdA==").is_err());
        assert_eq!(start().server_final(b"v=AAAA"), Err(ScramError::OutOfOrder));
        let mut c = start();
        c.server_first(b"r=abcdef,s=c2FsdA==,i=4096").unwrap();
        assert_eq!(
            c.server_final(b"v=AAAA"),
            Err(ScramError::InvalidCredentials)
        );
        let mut c = start();
        c.server_first(b"r=abcdef,s=c2FsdA==,i=4096").unwrap();
        assert_eq!(
            c.server_final(b"e=invalid-proof"),
            Err(ScramError::InvalidCredentials)
        );
    }
}
