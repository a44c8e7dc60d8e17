//! Request framing: a 4-byte big-endian size followed by that many bytes.

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt};

/// Why a connection stops reading.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    Closed,
    /// Negative, tiny or oversized frame size: the connection is closed.
    BadSize(i32),
    /// I/O error or EOF inside a frame.
    Io(std::io::Error),
}

/// Smallest valid request: api key, version, correlation id, client id length.
pub const MIN_REQUEST: usize = 10;

/// Reads one frame of at most `max` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Bytes, FrameError> {
    let mut size = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut size[got..]).await {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let n = i32::from_be_bytes(size);
    if n < MIN_REQUEST as i32 || n as usize > max {
        return Err(FrameError::BadSize(n));
    }
    let n = n as usize;
    // Grow as data arrives, so a huge claimed size costs nothing until it is really sent.
    let mut buf = BytesMut::zeroed(n.min(1 << 20));
    let mut filled = 0;
    while filled < n {
        if filled == buf.len() {
            let grow = (buf.len() * 2).min(n);
            buf.resize(grow, 0);
        }
        match r.read(&mut buf[filled..]).await {
            Ok(0) => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(k) => filled += k,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(buf.freeze())
}
