//! One connection of the HTTP endpoint: plain TCP, or TLS (rustls over the blocking socket,
//! whose read and write timeouts bound the handshake too), with the closing sequence each
//! needs so that the client reads the whole answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};

use crate::security::tls::TlsContext;

/// How the endpoint is protected: TLS, basic authentication, both or neither.
#[derive(Clone, Default)]
pub struct HttpSecurity {
    /// TLS for every connection (`metrics.ssl.*`).
    pub tls: Option<Arc<TlsContext>>,
    /// The user every request must authenticate as (`metrics.basic.auth.*`).
    pub basic: Option<super::http_auth::BasicAuth>,
}

/// A connection of the endpoint.
pub enum HttpConn {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl HttpConn {
    /// Wraps an accepted socket, in TLS when `tls` is given (the handshake runs on first use).
    pub fn open(stream: TcpStream, tls: Option<&TlsContext>) -> Option<HttpConn> {
        match tls {
            None => Some(HttpConn::Plain(stream)),
            Some(ctx) => {
                let conn = ServerConnection::new(ctx.config()).ok()?;
                Some(HttpConn::Tls(Box::new(StreamOwned::new(conn, stream))))
            }
        }
    }

    fn socket(&mut self) -> &mut TcpStream {
        match self {
            HttpConn::Plain(s) => s,
            HttpConn::Tls(t) => &mut t.sock,
        }
    }

    /// Closes our side (with TLS's close_notify first), then reads and drops what the client
    /// still sends (bounded), so that closing with unread input does not reset the connection
    /// before the client has read the answer.
    pub fn finish(&mut self) {
        if let HttpConn::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.flush();
        }
        let s = self.socket();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut sink = [0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match s.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }
}

impl Read for HttpConn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            HttpConn::Plain(s) => s.read(buf),
            HttpConn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for HttpConn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            HttpConn::Plain(s) => s.write(buf),
            HttpConn::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            HttpConn::Plain(s) => s.flush(),
            HttpConn::Tls(t) => t.flush(),
        }
    }
}
