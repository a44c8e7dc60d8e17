//! The TLS handshake of one accepted connection, bounded in time, and the principal it
//! authenticates: the client certificate's subject when one was presented (and verified),
//! mapped by `ssl.principal.mapping.rules`, else `User:ANONYMOUS`.

use std::time::Duration;

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;

use super::TlsContext;
use crate::security::principal::KafkaPrincipal;

/// A connection after its handshake.
pub struct Accepted<IO> {
    /// The encrypted stream.
    pub stream: TlsStream<IO>,
    /// Who the client certificate says the client is (`User:ANONYMOUS` without one).
    pub principal: KafkaPrincipal,
}

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// It took longer than allowed.
    Timeout,
    /// The peer sent something that is not TLS, failed verification, or went away.
    Failed(std::io::Error),
    /// The client certificate was verified but its subject does not parse.
    BadSubject,
    /// No rule of `ssl.principal.mapping.rules` applies to the certificate's subject.
    NoMappingRule(String),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Timeout => f.write_str("TLS handshake timed out"),
            HandshakeError::Failed(e) => write!(f, "TLS handshake failed: {e}"),
            HandshakeError::BadSubject => f.write_str("client certificate subject does not parse"),
            HandshakeError::NoMappingRule(dn) => {
                write!(f, "no ssl.principal.mapping.rules rule applies to {dn}")
            }
        }
    }
}

/// Runs the server side of a TLS handshake on `io` with `ctx`'s current configuration, for at
/// most `limit`.
pub async fn accept<IO>(
    ctx: &TlsContext,
    io: IO,
    limit: Duration,
) -> Result<Accepted<IO>, HandshakeError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let acceptor = TlsAcceptor::from(ctx.config());
    let handshake = async { acceptor.accept(io).await.map_err(HandshakeError::Failed) };
    let deadline = async {
        glommio::timer::sleep(limit).await;
        Err(HandshakeError::Timeout)
    };
    let stream = futures_lite::future::or(handshake, deadline).await?;
    let principal = match stream.get_ref().1.peer_certificates() {
        Some([leaf, ..]) => {
            let dn = super::principal::subject(leaf).ok_or(HandshakeError::BadSubject)?;
            let name = ctx
                .settings()
                .principal_mapping
                .map(&dn)
                .ok_or(HandshakeError::NoMappingRule(dn))?;
            KafkaPrincipal::user(&name)
        }
        _ => KafkaPrincipal::anonymous(),
    };
    Ok(Accepted { stream, principal })
}
