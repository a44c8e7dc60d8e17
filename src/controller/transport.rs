//! How the controllers' connections are carried: [`Transport::Plaintext`] (TCP as it is), or
//! [`Transport::Tls`]: the controller listener serves TLS with client certificates required,
//! and every client of the quorum (peers, forwarded calls, brokers without a controller)
//! connects with TLS, presenting its own certificate and checking the controller's.
//!
//! The rustls configurations are built by the broker from Kafka's `ssl.*` keys of the
//! controller listener and handed here; this crate only runs the handshakes. Each has a
//! deadline, and a connection that fails one (plaintext on the TLS port, garbage, a certificate
//! no CA of the truststore signed, a principal the authorization check refuses) is closed.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the TLS handshake of an accepted connection may take.
pub const ACCEPT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the TLS handshake of an outgoing connection may take.
pub const CONNECT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server configuration for the next accepted connection (the broker's may reload
/// rotated key files behind it).
pub type ServerConfigSource = Arc<dyn Fn() -> Arc<ServerConfig> + Send + Sync>;

/// Decides whether a client whose certificate (the end-entity one, already verified against
/// the truststore) is this may use the controller listener; `Err` says why not.
pub type Authorize = Arc<dyn Fn(&CertificateDer<'_>) -> Result<(), String> + Send + Sync>;

/// The TLS side of a [`Transport`].
pub struct TlsTransport {
    /// The listener's configuration; it must require client certificates. `None` on a node
    /// that only connects (a broker without a controller).
    pub server: Option<ServerConfigSource>,
    /// The configuration of outgoing connections: the truststore that controllers'
    /// certificates are checked against, and this node's own certificate.
    pub client: Arc<ClientConfig>,
    /// The host name each controller address was written with (`controller.quorum.voters`),
    /// checked against its certificate; an address not here is checked as an IP address.
    pub server_names: BTreeMap<SocketAddr, String>,
    /// The check of an accepted client's certificate; `None`: any certificate the truststore
    /// accepts is in.
    pub authorize: Option<Authorize>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("serves", &self.server.is_some())
            .field("server_names", &self.server_names)
            .field("authorizes", &self.authorize.is_some())
            .finish()
    }
}

/// How controller connections are carried (see the module comment).
#[derive(Debug, Clone, Default)]
pub enum Transport {
    /// Plain TCP: anyone who reaches the port is in.
    #[default]
    Plaintext,
    /// TLS with client certificates required.
    Tls(Arc<TlsTransport>),
}

/// A byte stream of either kind.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// One connection, plaintext or TLS.
pub type Stream = Box<dyn Io>;

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

fn refused(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

impl Transport {
    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Connects to the controller at `addr` (and shakes hands over TLS), within the deadlines.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<Stream> {
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out("connect")),
        };
        tcp.set_nodelay(true)?;
        let tls = match self {
            Transport::Plaintext => return Ok(Box::new(tcp)),
            Transport::Tls(tls) => tls,
        };
        let name = match tls.server_names.get(&addr) {
            Some(host) => ServerName::try_from(host.clone()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{host:?} is not a host name for TLS: {e}"),
                )
            })?,
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let connector = TlsConnector::from(tls.client.clone());
        match tokio::time::timeout(CONNECT_HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
            Ok(r) => Ok(Box::new(r?)),
            Err(_) => Err(timed_out("TLS handshake")),
        }
    }

    /// Takes an accepted connection: as it is on a plaintext listener; after a TLS handshake
    /// (within [`ACCEPT_HANDSHAKE_TIMEOUT`]) with a verified client certificate that the
    /// authorization check lets in, on a TLS one.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<Stream> {
        tcp.set_nodelay(true)?;
        let tls = match self {
            Transport::Plaintext => return Ok(Box::new(tcp)),
            Transport::Tls(tls) => tls,
        };
        let Some(server) = &tls.server else {
            return Err(refused("this node serves no controller listener".into()));
        };
        let acceptor = TlsAcceptor::from(server());
        let stream =
            match tokio::time::timeout(ACCEPT_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(r) => {
                    r.map_err(|e| io::Error::new(e.kind(), format!("TLS handshake failed: {e}")))?
                }
                Err(_) => return Err(timed_out("TLS handshake")),
            };
        let Some(cert) = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
        else {
            // The server configuration requires one; a configuration that does not is a bug
            // of the caller, and still no way in.
            return Err(refused("no client certificate".into()));
        };
        if let Some(authorize) = &tls.authorize {
            authorize(cert).map_err(refused)?;
        }
        Ok(Box::new(stream))
    }
}
