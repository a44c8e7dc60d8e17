//! One connection's SASL exchange after its handshake chose a mechanism: PLAIN or SCRAM, fed
//! the client's tokens one at a time, answering the server's tokens and, at the end, the
//! authenticated user name. No I/O: the connection layer (src/kafka/sasl.rs) reads the tokens
//! (SaslAuthenticate requests, or raw size-prefixed tokens after a v0 handshake) and looks up
//! credentials in its core's copy of the metadata image.

use super::plain;
use super::scram::{self, Mechanism, ScramCredential, ScramServer};

/// Why an exchange failed; every variant is SASL_AUTHENTICATION_FAILED on the wire, with
/// [`SaslError::message`] as Kafka words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// Wrong user or password, or a malformed PLAIN message.
    Plain,
    /// A SCRAM exchange failed (bad proof, malformed message, out of order).
    Scram(Mechanism),
    /// A token after the exchange completed.
    Finished,
}

impl SaslError {
    /// The message clients are given (Kafka's wording).
    pub fn message(&self) -> String {
        match self {
            SaslError::Plain => "Authentication failed: Invalid username or password".into(),
            SaslError::Scram(m) => format!(
                "Authentication failed during authentication due to invalid credentials with \
                 SASL mechanism {}",
                m.name()
            ),
            SaslError::Finished => "Authentication failed: unexpected SASL token".into(),
        }
    }

    /// The message of a failed re-authentication (KIP-368), in Kafka's words.
    pub fn reauth_message(&self) -> String {
        self.message()
            .replace("during authentication", "during re-authentication")
    }
}

/// What one client token leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this token and wait for the next one.
    Continue(Vec<u8>),
    /// Authenticated as `user`; send `token` (possibly empty) as the last answer.
    Done {
        /// The authenticated user name (the principal is `User:<user>`).
        user: String,
        /// The server's last token.
        token: Vec<u8>,
    },
}

enum State {
    Plain,
    Scram(Box<ScramServer>, Mechanism, bool),
    Finished,
}

/// The server side of one SASL exchange.
pub struct SaslExchange {
    state: State,
}

impl SaslExchange {
    /// An exchange of mechanism `name` (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`), if Runnel
    /// has it.
    pub fn new(name: &str) -> Option<SaslExchange> {
        let state = match name {
            "PLAIN" => State::Plain,
            other => {
                let m = Mechanism::from_name(other)?;
                State::Scram(Box::new(ScramServer::new(m)), m, false)
            }
        };
        Some(SaslExchange { state })
    }

    /// Takes the client's next token. `lookup(user, mechanism)` gives a stored credential;
    /// PLAIN checks the password against the user's SCRAM-SHA-512 credential, else its
    /// SCRAM-SHA-256 one.
    pub fn step(
        &mut self,
        token: &[u8],
        lookup: impl Fn(&str, Mechanism) -> Option<ScramCredential>,
    ) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Finished => Err(SaslError::Finished),
            State::Plain => {
                let login = plain::parse(token).map_err(|_| SaslError::Plain)?;
                let (credential, known) = plain_credential(login.username, lookup);
                // The password is checked even for an unknown user (against a decoy), so the
                // answer takes as long as a wrong password's and does not tell who exists.
                let matches = credential.matches_password(login.password);
                if !(matches && known) {
                    return Err(SaslError::Plain);
                }
                Ok(Step::Done {
                    user: login.username.to_string(),
                    token: Vec::new(),
                })
            }
            State::Scram(mut server, m, false) => {
                let first = server
                    .client_first(token, |user| lookup(user, m))
                    .map_err(|_| SaslError::Scram(m))?;
                self.state = State::Scram(server, m, true);
                Ok(Step::Continue(first))
            }
            State::Scram(mut server, m, true) => {
                let (user, last) = server
                    .client_final(token)
                    .map_err(|_| SaslError::Scram(m))?;
                Ok(Step::Done { user, token: last })
            }
        }
    }
}

/// The credential a PLAIN password of `user` is checked against: the user's SCRAM-SHA-512
/// credential, else its SCRAM-SHA-256 one, else (`known == false`) a decoy that costs the same
/// key derivation and never succeeds.
fn plain_credential(
    user: &str,
    lookup: impl Fn(&str, Mechanism) -> Option<ScramCredential>,
) -> (ScramCredential, bool) {
    match lookup(user, Mechanism::Sha512).or_else(|| lookup(user, Mechanism::Sha256)) {
        Some(c) => (c, true),
        None => (scram::decoy(Mechanism::Sha512, user), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(m: Mechanism) -> ScramCredential {
        ScramCredential::derive(m, b"s3cret", b"salty-salt", 4096).unwrap()
    }

    #[test]
    fn plain_checks_the_password_against_a_scram_credential() {
        let lookup =
            |u: &str, m: Mechanism| (u == "alice" && m == Mechanism::Sha256).then(|| creds(m));
        let mut ok = SaslExchange::new("PLAIN").unwrap();
        assert_eq!(
            ok.step(b"\0alice\0s3cret", lookup).unwrap(),
            Step::Done {
                user: "alice".into(),
                token: vec![]
            }
        );
        assert_eq!(
            ok.step(b"\0alice\0s3cret", lookup),
            Err(SaslError::Finished)
        );
        for bad in [
            &b"\0alice\0wrong"[..],
            b"\0bob\0s3cret",
            b"garbage",
            b"other\0alice\0s3cret",
        ] {
            let mut x = SaslExchange::new("PLAIN").unwrap();
            assert_eq!(x.step(bad, lookup), Err(SaslError::Plain), "{bad:?}");
        }
        assert!(SaslExchange::new("GSSAPI").is_none());
    }

    #[test]
    fn plain_checks_an_unknown_user_against_a_decoy_like_a_known_one() {
        let lookup =
            |u: &str, m: Mechanism| (u == "alice" && m == Mechanism::Sha512).then(|| creds(m));
        let (known, ok) = plain_credential("alice", lookup);
        assert!(ok);
        assert_eq!(known, creds(Mechanism::Sha512));
        // An unknown user gets a credential of the same mechanism and iteration count as a
        // stored SCRAM-SHA-512 one (the same PBKDF2 work for its password), stable per name,
        // marked unknown so that even a matching password could not log in.
        let (decoy, ok) = plain_credential("mallory", lookup);
        assert!(!ok);
        assert_eq!(decoy.mechanism, Mechanism::Sha512);
        assert_eq!(decoy.iterations, crate::security::scram::MIN_ITERATIONS);
        assert_eq!(decoy.stored_key.len(), known.stored_key.len());
        assert_eq!(plain_credential("mallory", lookup).0, decoy);
        assert_ne!(plain_credential("trudy", lookup).0.salt, decoy.salt);
        assert!(!decoy.matches_password(b"s3cret"));
        let mut x = SaslExchange::new("PLAIN").unwrap();
        assert_eq!(x.step(b"\0mallory\0s3cret", lookup), Err(SaslError::Plain));
    }

    #[test]
    fn scram_runs_two_steps_and_fails_on_a_bad_proof() {
        let lookup = |u: &str, m: Mechanism| (u == "alice").then(|| creds(m));
        let mut x = SaslExchange::new("SCRAM-SHA-512").unwrap();
        let first = x.step(b"n,,n=alice,r=abcdefgh", lookup).unwrap();
        let Step::Continue(server_first) = first else {
            panic!("{first:?}")
        };
        let text = String::from_utf8(server_first).unwrap();
        assert!(text.starts_with("r=abcdefgh"), "{text}");
        let nonce = text.split(',').next().unwrap();
        let bad = format!("c=biws,{nonce},p=AAAA");
        assert_eq!(
            x.step(bad.as_bytes(), lookup),
            Err(SaslError::Scram(Mechanism::Sha512))
        );
        assert!(SaslError::Scram(Mechanism::Sha512)
            .message()
            .contains("SCRAM-SHA-512"));
    }
}
