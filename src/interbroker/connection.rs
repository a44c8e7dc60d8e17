//! One connection to a peer broker: opened with a connect timeout, used for one request at a
//! time (write the frame, read the size-prefixed answer), every round trip under a deadline and
//! every answer under a size bound. A connection that failed in any way is not used again (the
//! pool drops it), so a late answer can never be taken for the next request's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::future::or;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::error::PeerError;

/// An open connection to a peer broker.
pub struct Connection {
    stream: TcpStream,
    /// The address it was opened to (the pool reopens when the peer's endpoint changes).
    pub addr: SocketAddr,
}

impl Connection {
    /// Opens a connection to `addr`, giving up after `timeout`.
    pub async fn open(addr: SocketAddr, timeout: Duration) -> Result<Connection, PeerError> {
        let stream = TcpStream::connect_timeout(addr, timeout)
            .await
            .map_err(|e| PeerError::Connect(e.to_string()))?;
        // Requests are small and answered one at a time: send each at once.
        let _ = stream.set_nodelay(true);
        Ok(Connection { stream, addr })
    }

    /// Writes `frame` (size-prefixed) and reads the answer's body (without its size prefix),
    /// refusing answers above `max_response` bytes; the whole round trip within `timeout`.
    pub async fn round_trip(
        &mut self,
        frame: &[u8],
        max_response: usize,
        timeout: Duration,
    ) -> Result<Bytes, PeerError> {
        let deadline = Instant::now() + timeout;
        let timer = async {
            glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
            Err(PeerError::Timeout)
        };
        // The timer is polled first: once it fires the pending I/O is not polled again (glommio
        // keeps a waker reference for every extra poll of a pending read).
        or(timer, self.exchange(frame, max_response)).await
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
