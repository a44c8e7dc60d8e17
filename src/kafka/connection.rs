//! One client connection: reads request frames, runs them concurrently, writes responses in
//! request order.
//!
//! The read loop spawns a task per request and queues its handle; the write loop awaits the
//! handles in order, so pipelined requests (clients keep up to five or more in flight) are
//! processed in parallel but answered in sequence. A malformed frame or request closes the
//! connection after the responses before it are written.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_lite::io::BufReader;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::TcpStream;
use glommio::task::JoinHandle;

use super::dispatch::{self, Outcome};
use super::frame::{read_frame, FrameError};
use crate::shard::Shard;

/// Requests of one connection processed at the same time before reading pauses.
const MAX_IN_FLIGHT: usize = 64;
/// Chunks smaller than this are coalesced into one write.
const COALESCE: usize = 16 * 1024;

/// Read or write half of a stream shared by the two loops of a connection.
///
/// glommio keeps separate read and write sources per socket, so the halves never contend; the
/// `RefCell` is only borrowed inside a single poll.
struct Half(Rc<RefCell<TcpStream>>);

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}

/// Serves a connection until the peer closes it or sends something malformed.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    let _open = crate::metrics::hooks::ConnectionGuard::open();
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let stream = Rc::new(RefCell::new(stream));
    let (tx, rx) = local_channel::new_bounded::<JoinHandle<Outcome>>(MAX_IN_FLIGHT);
    let writer = glommio::spawn_local(write_loop(stream.clone(), rx));
    let mut reader = BufReader::with_capacity(64 * 1024, Half(stream.clone()));
    let max = shard.config.socket_request_max_bytes;
    loop {
        match read_frame(&mut reader, max).await {
            Ok(frame) => {
                let task = glommio::spawn_local(dispatch::handle_frame(shard.clone(), frame, peer))
                    .detach();
                if tx.send(task).await.is_err() {
                    break;
                }
            }
            Err(FrameError::Closed) => break,
            Err(FrameError::BadSize(n)) => {
                tracing::debug!(?peer, size = n, "invalid frame size; closing connection");
                break;
            }
            Err(FrameError::Io(e)) => {
                tracing::debug!(?peer, error = %e, "connection read ended");
                break;
            }
        }
    }
    drop(tx);
    writer.await;
    shutdown(&stream);
}

/// Shuts the socket down both ways, waking whichever loop is blocked on it.
fn shutdown(stream: &Rc<RefCell<TcpStream>>) {
    use std::os::unix::io::AsRawFd;
    let fd = stream.borrow().as_raw_fd();
    // SAFETY: `fd` is the connection's open socket, owned by `stream`, which is alive here.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

async fn write_loop(
    stream: Rc<RefCell<TcpStream>>,
    rx: local_channel::LocalReceiver<JoinHandle<Outcome>>,
) {
    let mut w = Half(stream.clone());
    while let Some(task) = rx.recv().await {
        match task.await {
            Some(Outcome::Respond(chunks)) => {
                if write_chunks(&mut w, chunks).await.is_err() {
                    break;
                }
            }
            Some(Outcome::NoResponse) => {}
            Some(Outcome::Close) | None => break,
        }
    }
    // Make the read loop stop too (it may be blocked reading).
    shutdown(&stream);
}

async fn write_chunks(w: &mut Half, chunks: Vec<Bytes>) -> std::io::Result<()> {
    let mut small = BytesMut::new();
    for c in chunks {
        if c.len() < COALESCE {
            small.extend_from_slice(&c);
            continue;
        }
        if !small.is_empty() {
            w.write_all(&small).await?;
            small.clear();
        }
        w.write_all(&c).await?;
    }
    if !small.is_empty() {
        w.write_all(&small).await?;
    }
    Ok(())
}
