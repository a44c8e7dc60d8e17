//! KIP-368 re-authentication of a connection that has logged in on a SASL listener, as Kafka's
//! `SaslServerAuthenticator` and `KafkaChannel` do it, as a state machine without I/O (the
//! connection loop, [`super::connection`], reads the frames and writes the answers in request
//! order).
//!
//! With `connections.max.reauth.ms` (per listener) a login starts a session of that length;
//! SaslAuthenticate v1+ tells the client (`session_lifetime_ms`). A request other than
//! SaslHandshake/SaslAuthenticate that comes after the session expired closes the connection
//! unanswered ([`Session::expired`]). Before that, the client may log in again on the same
//! connection: SaslHandshake v1 naming the same mechanism, then that mechanism's
//! SaslAuthenticate tokens. Success restarts the session; another principal or mechanism, a
//! wrong password, or a credential deleted meanwhile is answered SASL_AUTHENTICATION_FAILED and
//! the connection closes. Other requests of a live session go on being served meanwhile.
//!
//! Bounds: a re-authentication must finish within [`super::sasl::AUTH_TIMEOUT`] of its
//! handshake ([`Session::pending_deadline`]); it starts at most once a second (a quicker
//! handshake is answered ILLEGAL_SASL_STATE, as on Kafka); its tokens are at most two (the
//! mechanisms end after that) of at most [`super::sasl::MAX_TOKEN`] bytes (checked by the
//! connection). With re-authentication off, SaslHandshake and SaslAuthenticate after login are
//! answered ILLEGAL_SASL_STATE, as before.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;

use super::sasl::AUTH_TIMEOUT;
use crate::errors::KafkaError;
use crate::security::sasl::{SaslExchange, Step};
use crate::security::scram::{Mechanism, ScramCredential};

/// Fewest time between the starts of two re-authentications (Kafka's
/// `MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS`).
pub const MIN_REAUTH_INTERVAL: Duration = Duration::from_secs(1);

/// The `session_lifetime_ms` a SaslAuthenticate response carries for `lifetime`.
pub fn lifetime_ms(lifetime: Option<Duration>) -> i64 {
    lifetime.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What the connection does with a SASL request after login.
#[derive(Debug)]
pub enum Verdict {
    /// Write this answer and go on serving.
    Answer(ResponseKind),
    /// Re-authenticated: write this answer (its session lifetime) and go on serving.
    Reauthenticated(ResponseKind),
    /// Re-authentication failed: write this answer, then close the connection.
    Failed(ResponseKind, String),
    /// Close the connection without answering.
    Close(Closing),
}

/// Why a connection closes unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// A request came after the session expired.
    Expired,
    /// The re-authentication was not done within its deadline (a failed re-authentication).
    Overdue,
}

/// A re-authentication in progress.
struct Pending {
    /// The exchange, or why it will fail (another mechanism than the login's).
    exchange: Result<SaslExchange, String>,
    /// When it must be done.
    deadline: Instant,
}

/// The SASL session of one connection after its login.
pub struct Session {
    user: String,
    mechanism: String,
    lifetime: Option<Duration>,
    expires: Option<Instant>,
    last_start: Option<Instant>,
    pending: Option<Pending>,
}

impl Session {
    /// The session of `user`, logged in with `mechanism` at `now`; `lifetime` is the
    /// listener's `connections.max.reauth.ms` (`None`: it never expires).
    pub fn new(user: &str, mechanism: &str, lifetime: Option<Duration>, now: Instant) -> Session {
        Session {
            user: user.to_string(),
            mechanism: mechanism.to_string(),
            lifetime,
            expires: lifetime.and_then(|l| now.checked_add(l)),
            last_start: None,
            pending: None,
        }
    }

    /// Whether the session has expired at `now` (then only SASL requests may follow).
    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now > e)
    }

    /// When the re-authentication in progress must be done, if one is.
    pub fn pending_deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// A SaslHandshake of `version` naming `mechanism`; `enabled` is the listener's list.
    pub fn handshake(
        &mut self,
        mechanism: &str,
        version: i16,
        enabled: &[String],
        now: Instant,
    ) -> Verdict {
        let mut resp = SaslHandshakeResponse::default();
        resp.mechanisms = enabled
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        let illegal = |mut r: SaslHandshakeResponse| {
            r.error_code = KafkaError::IllegalSaslState.code();
            ResponseKind::SaslHandshake(r)
        };
        if self.lifetime.is_none() {
            return Verdict::Answer(illegal(resp));
        }
        if self.pending.is_some() {
            self.pending = None;
            return Verdict::Failed(
                illegal(resp),
                "SaslHandshake during re-authentication".into(),
            );
        }
        if self
            .last_start
            .is_some_and(|t| now.saturating_duration_since(t) < MIN_REAUTH_INTERVAL)
        {
            // Kafka serves it as an ordinary request: refused, or the session is over.
            if self.expired(now) {
                return Verdict::Close(Closing::Expired);
            }
            return Verdict::Answer(illegal(resp));
        }
        if version < 1 {
            return Verdict::Failed(
                illegal(resp),
                "re-authentication needs SaslHandshake v1 or later".into(),
            );
        }
        if !enabled.iter().any(|m| m == mechanism) {
            resp.error_code = KafkaError::UnsupportedSaslMechanism.code();
            return Verdict::Failed(
                ResponseKind::SaslHandshake(resp),
                format!("SASL mechanism {mechanism} is not enabled"),
            );
        }
        let exchange = if mechanism == self.mechanism {
            SaslExchange::new(mechanism).ok_or_else(|| format!("no mechanism {mechanism}"))
        } else {
            // As on Kafka: the handshake succeeds, the first token fails.
            Err(format!(
                "SASL mechanism '{mechanism}' requested by client is not supported for \
                 re-authentication of mechanism '{}'",
                self.mechanism
            ))
        };
        self.last_start = Some(now);
        self.pending = Some(Pending {
            exchange,
            deadline: now + AUTH_TIMEOUT,
        });
        Verdict::Answer(ResponseKind::SaslHandshake(resp))
    }

    /// A SaslAuthenticate carrying `token`; `lookup` gives stored credentials (as they are
    /// now: a credential deleted since the login fails).
    pub fn authenticate(
        &mut self,
        token: &[u8],
        now: Instant,
        lookup: impl Fn(&str, Mechanism) -> Option<ScramCredential>,
    ) -> Verdict {
        let Some(pending) = self.pending.as_mut() else {
            if self.expired(now) {
                return Verdict::Close(Closing::Expired);
            }
            return Verdict::Answer(super::apis::api_versions::sasl_out_of_place(
                kafka_protocol::messages::ApiKey::SaslAuthenticate,
            ));
        };
        if now > pending.deadline {
            self.pending = None;
            return Verdict::Close(Closing::Overdue);
        }
        let step = match &mut pending.exchange {
            Err(why) => Err(why.clone()),
            Ok(exchange) => exchange.step(token, lookup).map_err(|e| e.reauth_message()),
        };
        let mut resp = SaslAuthenticateResponse::default();
        match step {
            Ok(Step::Continue(t)) => {
                resp.auth_bytes = Bytes::from(t);
                Verdict::Answer(ResponseKind::SaslAuthenticate(resp))
            }
            Ok(Step::Done { user, token }) if user == self.user => {
                self.pending = None;
                self.expires = self.lifetime.and_then(|l| now.checked_add(l));
                resp.auth_bytes = Bytes::from(token);
                resp.session_lifetime_ms = lifetime_ms(self.lifetime);
                Verdict::Reauthenticated(ResponseKind::SaslAuthenticate(resp))
            }
            Ok(Step::Done { user, .. }) => {
                self.pending = None;
                let why = format!(
                    "Cannot change principals during re-authentication from User.{}: User.{user}",
                    self.user
                );
                fail(resp, why)
            }
            Err(why) => {
                self.pending = None;
                fail(resp, why)
            }
        }
    }
}

fn fail(mut resp: SaslAuthenticateResponse, why: String) -> Verdict {
    resp.error_code = KafkaError::SaslAuthenticationFailed.code();
    resp.error_message = Some(StrBytes::from_string(why.clone()));
    Verdict::Failed(ResponseKind::SaslAuthenticate(resp), why)
}

#[cfg(test)]
#[path = "reauth_tests.rs"]
mod tests;
