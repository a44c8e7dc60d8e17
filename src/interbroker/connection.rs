//! One connection to a peer broker: opened with a connect timeout, secured as the inter-broker
//! listener asks (TLS, then a SASL login: [`super::security`], [`super::login`]), then used for
//! one request at a time (write the frame, read the size-prefixed answer), every round trip
//! under a deadline and every answer under a size bound. A connection that failed in any way
//! is not used again (the pool drops it), so a late answer can never be taken for the next
//! request's. A SASL session with a lifetime (KIP-368) is not used past it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::future::or;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::client::TlsStream;
use glommio::net::TcpStream;
use kafka_protocol::protocol::Request;
use rustls_pki_types::ServerName;

use super::error::PeerError;
use super::frame::{decode_response, encode_request};
use super::peers::Settings;
use crate::security::tls::stream::MaybeTls;

/// An open connection to a peer broker.
pub struct Connection {
    stream: PeerStream,
    /// The address it was opened to (the pool reopens when the peer's endpoint changes).
    pub addr: SocketAddr,
    next_correlation: i32,
    /// When the SASL session ends (KIP-368): the pool opens a new connection before then.
    pub(super) renew_at: Option<Instant>,
}

impl Connection {
    /// Opens a connection to `host` at `addr` and secures it as `settings.security` asks; the
    /// TCP connect and the TLS handshake each within the connect timeout, each login step
    /// within the request timeout.
    pub async fn open(
        addr: SocketAddr,
        host: &str,
        settings: &Settings,
    ) -> Result<Connection, PeerError> {
        let tcp = TcpStream::connect_timeout(addr, settings.connect_timeout)
            .await
            .map_err(|e| PeerError::Connect(e.to_string()))?;
        // Requests are small and answered one at a time: send each at once.
        let _ = tcp.set_nodelay(true);
        let stream = match &settings.security.tls {
            None => MaybeTls::Plain(tcp),
            Some(ctx) => {
                let config = ctx
                    .client_config()
                    .map_err(|e| PeerError::Tls(e.to_string()))?;
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| PeerError::Tls(format!("server name {host:?}: {e}")))?;
                let handshake = futures_rustls::TlsConnector::from(config).connect(name, tcp);
                let tls = deadline(settings.connect_timeout, async {
                    handshake.await.map_err(|e| PeerError::Tls(e.to_string()))
                })
                .await?;
                MaybeTls::Tls(Box::new(tls))
            }
        };
        let mut conn = Connection {
            stream,
            addr,
            next_correlation: 1,
            renew_at: None,
        };
        if let Some(login) = &settings.security.sasl {
            let lifetime = super::login::login(&mut conn, login, settings).await?;
            // Kafka's clients re-authenticate at 85-95% of the lifetime; a new connection is
            // this client's re-authentication.
            conn.renew_at = lifetime.map(|l| Instant::now() + l.mul_f64(0.85));
        }
        Ok(conn)
    }

    /// Whether the SASL session is too close to its end for another request.
    pub fn session_ending(&self) -> bool {
        self.renew_at.is_some_and(|t| Instant::now() >= t)
    }

    /// Sends `req` at `version` and decodes its answer, checked by `settings.check_response`
    /// before decoding.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        client_id: &str,
        settings: &Settings,
    ) -> Result<R::Response, PeerError> {
        let correlation = self.next_correlation;
        self.next_correlation = correlation.wrapping_add(1) & i32::MAX;
        let frame = encode_request(req, version, correlation, client_id)?;
        let body = self
            .round_trip(&frame, settings.max_response, settings.request_timeout)
            .await?;
        (settings.check_response)(R::KEY, version, &body)
            .map_err(|e| PeerError::Malformed(format!("answer does not fit its layout: {e}")))?;
        crate::panic_exit::catching(|| decode_response::<R>(body, version, correlation))
            .unwrap_or_else(|| Err(PeerError::Malformed("decoder panicked".into())))
    }

    /// Writes `frame` (size-prefixed) and reads the answer's body (without its size prefix),
    /// refusing answers above `max_response` bytes; the whole round trip within `timeout`.
    pub async fn round_trip(
        &mut self,
        frame: &[u8],
        max_response: usize,
        timeout: Duration,
    ) -> Result<Bytes, PeerError> {
        deadline(timeout, self.exchange(frame, max_response)).await
    }

    async fn exchange(&mut self, frame: &[u8], max_response: usize) -> Result<Bytes, PeerError> {
        let io = |e: std::io::Error| PeerError::Io(e.to_string());
        self.stream.write_all(frame).await.map_err(io)?;
        self.stream.flush().await.map_err(io)?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).await.map_err(io)?;
        let size = i32::from_be_bytes(size);
        let len = usize::try_from(size)
            .ok()
            .filter(|n| *n >= 4 && *n <= max_response)
            .ok_or(PeerError::TooLarge(size as i64))?;
        let mut body = BytesMut::zeroed(len);
        self.stream.read_exact(&mut body).await.map_err(io)?;
        Ok(body.freeze())
    }
}

/// `work`, or [`PeerError::Timeout`] after `timeout`. The timer is polled first: once it fires
/// the pending I/O is not polled again (glommio keeps a waker reference for every extra poll
/// of a pending read).
async fn deadline<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, PeerError>>,
) -> Result<T, PeerError> {
    let end = Instant::now() + timeout;
    let timer = async {
        glommio::timer::sleep(end.saturating_duration_since(Instant::now())).await;
        Err(PeerError::Timeout)
    };
    or(timer, work).await
}

/// The bytes of a peer connection: plain TCP or TLS over it.
type PeerStream = MaybeTls<TlsStream<TcpStream>>;
