//! The SASL login of a new peer connection, Kafka's way: SaslHandshake v1 naming the mechanism,
//! then SaslAuthenticate v2 rounds carrying the mechanism's messages (one for PLAIN; client-first
//! and client-final for SCRAM, the server's signature checked at the end). A refusal is
//! [`PeerError::Authentication`] with the peer's message; the session lifetime the peer
//! answers (KIP-368) is returned so that the connection is renewed before it ends.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::connection::Connection;
use super::error::PeerError;
use super::peers::Settings;
use super::security::{LoginMechanism, SaslLogin};
use crate::security::scram_client::ScramClient;

/// Client id of login requests (the pool's own is not needed for them).
const CLIENT_ID: &str = "runnel-broker-login";

/// Logs in on `conn`; `Ok(Some(lifetime))` when the peer limits the session.
pub async fn login(
    conn: &mut Connection,
    login: &SaslLogin,
    settings: &Settings,
) -> Result<Option<Duration>, PeerError> {
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_static_str(login.mechanism.name());
    let answer = conn.call(&hs, 1, CLIENT_ID, settings).await?;
    if answer.error_code != 0 {
        let offered: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(PeerError::Authentication(format!(
            "the peer does not offer {} (error {}; it offers {offered:?})",
            login.mechanism.name(),
            answer.error_code
        )));
    }
    match login.mechanism {
        LoginMechanism::Plain => {
            let mut msg = Vec::with_capacity(2 + login.username.len() + login.password.len());
            msg.push(0);
            msg.extend_from_slice(login.username.as_bytes());
            msg.push(0);
            msg.extend_from_slice(login.password.as_bytes());
            let (_, lifetime) = authenticate(conn, msg, settings).await?;
            Ok(lifetime)
        }
        LoginMechanism::Scram(m) => {
            let (mut client, first) = ScramClient::start(m, &login.username, &login.password);
            let (server_first, _) = authenticate(conn, first, settings).await?;
            let fin = client
                .server_first(&server_first)
                .map_err(|e| PeerError::Authentication(format!("server-first: {e}")))?;
            let (server_final, lifetime) = authenticate(conn, fin, settings).await?;
            client
                .server_final(&server_final)
                .map_err(|e| PeerError::Authentication(format!("server-final: {e}")))?;
            Ok(lifetime)
        }
    }
}

/// One SaslAuthenticate round: the peer's bytes and the session lifetime it names.
async fn authenticate(
    conn: &mut Connection,
    bytes: Vec<u8>,
    settings: &Settings,
) -> Result<(Bytes, Option<Duration>), PeerError> {
    let mut req = SaslAuthenticateRequest::default();
    req.auth_bytes = Bytes::from(bytes);
    let answer = conn.call(&req, 2, CLIENT_ID, settings).await?;
    if answer.error_code != 0 {
        let why = answer
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        return Err(PeerError::Authentication(format!(
            "error {}: {why}",
            answer.error_code
        )));
    }
    let lifetime = u64::try_from(answer.session_lifetime_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    Ok((answer.auth_bytes, lifetime))
}
