//! SASL authentication of a connection on a `SASL_PLAINTEXT` listener, before any other request
//! is served (Kafka's `SaslServerAuthenticator`):
//!
//! 1. ApiVersions, any number of times (bounded), answered as usual.
//! 2. SaslHandshake (v0 or v1) naming one of the listener's mechanisms; another mechanism is
//!    answered UNSUPPORTED_SASL_MECHANISM with the enabled list, then the connection closes.
//! 3. The mechanism's tokens: in SaslAuthenticate requests after a v1 handshake, or raw
//!    (a 4-byte size and the token, both ways, no Kafka header) after a v0 handshake.
//!
//! Success makes the connection's principal `User:<name>`; SaslAuthenticate's answer then
//! carries the listener's `connections.max.reauth.ms` as `session_lifetime_ms` (0: off), and
//! [`super::reauth`] takes over the session. A failed exchange is answered
//! SASL_AUTHENTICATION_FAILED (SaslAuthenticate) and the connection closes; after a v0
//! handshake it just closes. Any other request before authentication closes the connection,
//! as on Kafka. Everything is bounded: [`AUTH_TIMEOUT`] for the whole exchange from accept,
//! [`MAX_FRAMES`] frames, [`MAX_TOKEN`] bytes a frame. Credentials are read from this core's
//! copy of the metadata image.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::io::BufReader;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::dispatch::{self, Outcome, Parsed, Reply};
use super::frame::{read_frame, Activity, FrameError, FrameLimits, MIN_REQUEST};
use crate::config::listeners::Listener;
use crate::errors::KafkaError;
use crate::security::credentials;
use crate::security::principal::KafkaPrincipal;
use crate::security::sasl::{SaslExchange, Step};
use crate::services::Core;

/// Time a connection has from accept to finish authenticating.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most frames read before authentication completes (ApiVersions retries included).
pub const MAX_FRAMES: usize = 16;
/// Largest frame read before authentication (Kafka's `sasl.server.max.receive.size`).
pub const MAX_TOKEN: usize = 512 * 1024;

/// Where the exchange stands.
enum Phase {
    /// Waiting for SaslHandshake (ApiVersions allowed).
    Handshake,
    /// A mechanism was chosen; tokens come in SaslAuthenticate requests (`raw == false`) or
    /// as raw frames after a v0 handshake.
    Tokens {
        exchange: SaslExchange,
        raw: bool,
        mechanism: String,
    },
}

/// A successful login.
pub struct Login {
    /// `User:<user>`.
    pub principal: KafkaPrincipal,
    /// The user name.
    pub user: String,
    /// The SASL mechanism it logged in with.
    pub mechanism: String,
}

/// Runs the exchange; the login on success, `None` when the connection must close.
pub async fn authenticate<R, W>(
    core: &Rc<Core>,
    listener: &Listener,
    reader: &mut BufReader<R>,
    writer: &mut W,
    limits: &FrameLimits,
    activity: &Activity,
) -> Option<Login>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let deadline = Instant::now() + AUTH_TIMEOUT;
    let mut phase = Phase::Handshake;
    for _ in 0..MAX_FRAMES {
        let raw = matches!(phase, Phase::Tokens { raw: true, .. });
        let frame_limits = FrameLimits {
            min: if raw { 1 } else { MIN_REQUEST },
            max: limits.max.min(MAX_TOKEN),
            read_timeout: limits.read_timeout,
            budget: limits.budget.clone(),
        };
        let timer = async {
            glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
            Err(FrameError::Timeout)
        };
        let frame = match futures_lite::future::or(
            timer,
            read_frame(reader, &frame_limits, activity),
        )
        .await
        {
            Ok(f) => f,
            Err(e) => {
                crate::metrics::hooks::sasl_failed();
                tracing::debug!(listener = %listener.name, error = ?e, "SASL: no authentication; closing connection");
                return None;
            }
        };
        let data = frame.data.clone();
        if raw {
            let Phase::Tokens {
                exchange,
                mechanism,
                ..
            } = &mut phase
            else {
                return None;
            };
            let step = exchange.step(&data, |u, m| lookup(core, u, m));
            match raw_step(writer, step).await {
                RawOutcome::Continue => continue,
                RawOutcome::Done(user) => {
                    return Some(authenticated(listener, user, std::mem::take(mechanism)));
                }
                RawOutcome::Close => return None,
            }
        }
        let correlation_id = i32::from_be_bytes([data[4], data[5], data[6], data[7]]);
        let (key, version, request) = match dispatch::parse(data) {
            Parsed::Request {
                key,
                version,
                request,
                ..
            } => (key, version, request),
            Parsed::ApiVersionsFallback => {
                let body = super::apis::api_versions::unsupported_version_response();
                send(writer, ApiKey::ApiVersions, 0, correlation_id, body).await?;
                continue;
            }
            Parsed::LegacyProduce(_) | Parsed::Close => return None,
        };
        match (request, &mut phase) {
            (RequestKind::ApiVersions(_), Phase::Handshake) => {
                let body = super::apis::api_versions::response();
                send(writer, key, version, correlation_id, body).await?;
            }
            (RequestKind::SaslHandshake(r), Phase::Handshake) => {
                let mechanism = r.mechanism.to_string();
                let enabled = listener.sasl_mechanisms.contains(&mechanism);
                let mut resp = SaslHandshakeResponse::default();
                resp.mechanisms = listener
                    .sasl_mechanisms
                    .iter()
                    .map(|m| StrBytes::from_string(m.clone()))
                    .collect();
                let exchange = enabled.then(|| SaslExchange::new(&mechanism)).flatten();
                if exchange.is_none() {
                    resp.error_code = KafkaError::UnsupportedSaslMechanism.code();
                }
                let body = ResponseKind::SaslHandshake(resp);
                send(writer, key, version, correlation_id, body).await?;
                let Some(exchange) = exchange else {
                    crate::metrics::hooks::sasl_failed();
                    tracing::debug!(listener = %listener.name, %mechanism, "SASL: mechanism not enabled; closing connection");
                    return None;
                };
                phase = Phase::Tokens {
                    exchange,
                    raw: version == 0,
                    mechanism,
                };
            }
            (
                RequestKind::SaslAuthenticate(r),
                Phase::Tokens {
                    exchange,
                    mechanism,
                    ..
                },
            ) => {
                let step = exchange.step(&r.auth_bytes, |u, m| lookup(core, u, m));
                let mut resp = SaslAuthenticateResponse::default();
                let done = match step {
                    Ok(Step::Continue(token)) => {
                        resp.auth_bytes = Bytes::from(token);
                        None
                    }
                    Ok(Step::Done { user, token }) => {
                        resp.auth_bytes = Bytes::from(token);
                        resp.session_lifetime_ms = super::reauth::lifetime_ms(listener.max_reauth);
                        Some(Ok(user))
                    }
                    Err(e) => {
                        resp.error_code = KafkaError::SaslAuthenticationFailed.code();
                        resp.error_message = Some(StrBytes::from_string(e.message()));
                        Some(Err(e))
                    }
                };
                let body = ResponseKind::SaslAuthenticate(resp);
                send(writer, key, version, correlation_id, body).await?;
                match done {
                    None => {}
                    Some(Ok(user)) => {
                        return Some(authenticated(listener, user, std::mem::take(mechanism)))
                    }
                    Some(Err(e)) => {
                        crate::metrics::hooks::sasl_failed();
                        tracing::debug!(listener = %listener.name, error = ?e, "SASL: authentication failed; closing connection");
                        return None;
                    }
                }
            }
            (_, _) => {
                crate::metrics::hooks::sasl_failed();
                tracing::debug!(listener = %listener.name, request = ?key, "SASL: request out of place before authentication; closing connection");
                return None;
            }
        }
    }
    crate::metrics::hooks::sasl_failed();
    tracing::debug!(listener = %listener.name, "SASL: too many frames before authentication; closing connection");
    None
}

enum RawOutcome {
    Continue,
    Done(String),
    Close,
}

/// Answers a raw token (after a v0 handshake): the server's token size-prefixed; a failure
/// just closes.
async fn raw_step<W: AsyncWrite + Unpin>(
    writer: &mut W,
    step: Result<Step, crate::security::sasl::SaslError>,
) -> RawOutcome {
    let (token, user) = match step {
        Ok(Step::Continue(t)) => (t, None),
        Ok(Step::Done { user, token }) => (token, Some(user)),
        Err(e) => {
            crate::metrics::hooks::sasl_failed();
            tracing::debug!(error = ?e, "SASL (v0 framing): authentication failed; closing connection");
            return RawOutcome::Close;
        }
    };
    let mut out = Vec::with_capacity(token.len() + 4);
    out.extend_from_slice(&(token.len() as i32).to_be_bytes());
    out.extend_from_slice(&token);
    if writer.write_all(&out).await.is_err() {
        return RawOutcome::Close;
    }
    match user {
        None => RawOutcome::Continue,
        Some(u) => RawOutcome::Done(u),
    }
}

fn authenticated(listener: &Listener, user: String, mechanism: String) -> Login {
    crate::metrics::hooks::sasl_succeeded();
    tracing::debug!(listener = %listener.name, %user, %mechanism, "SASL: authenticated");
    Login {
        principal: KafkaPrincipal::user(&user),
        user,
        mechanism,
    }
}

/// The stored credential of `user` for mechanism `m`, from this core's image.
pub fn lookup(
    core: &Core,
    user: &str,
    m: crate::security::scram::Mechanism,
) -> Option<crate::security::scram::ScramCredential> {
    credentials::lookup(&core.cluster.state().image, user, m)
}

/// Encodes and writes one response; `None` when the connection is gone.
async fn send<W: AsyncWrite + Unpin>(
    writer: &mut W,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: ResponseKind,
) -> Option<()> {
    match dispatch::encode(key, version, correlation_id, Reply::from(body)) {
        Outcome::Respond(chunks) => {
            for c in chunks {
                writer.write_all(&c).await.ok()?;
            }
            writer.flush().await.ok()
        }
        _ => None,
    }
}
