//! A client connection's byte stream: plain TCP, or TLS over it (`SSL` and `SASL_SSL`
//! listeners). Everything above reads and writes decrypted bytes; the socket's descriptor stays
//! reachable so that either loop of the connection can shut it down.

use std::os::unix::io::{AsRawFd, RawFd};

use futures_rustls::server::TlsStream;
use glommio::net::TcpStream;

use crate::security::tls::stream::MaybeTls;

/// The stream of one client connection: `Plain` on `PLAINTEXT` and `SASL_PLAINTEXT` listeners,
/// `Tls` on `SSL` and `SASL_SSL` ones after the handshake.
pub type ClientStream = MaybeTls<TlsStream<TcpStream>>;

/// The socket's descriptor of a client connection.
pub fn raw_fd(stream: &ClientStream) -> RawFd {
    match stream {
        MaybeTls::Plain(s) => s.as_raw_fd(),
        MaybeTls::Tls(t) => t.get_ref().0.as_raw_fd(),
    }
}
