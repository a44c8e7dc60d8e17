//! Request framing: a 4-byte big-endian size followed by that many bytes, read under the
//! connection limits.
//!
//! - Between frames, a connection with no traffic and no request in flight for
//!   `connections.max.idle.ms` is closed by [`idle_watch`] ([`FrameError::Idle`]).
//! - Once the first byte of a frame has arrived, the whole frame must arrive within
//!   `runnel.request.read.timeout.ms` ([`FrameError::Timeout`]), including any wait for the
//!   core's request-byte budget.
//! - A frame reserves its announced size from the core's `queued.max.request.bytes` budget
//!   before its body is read, and its buffer grows only as data arrives.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::future::or;
use futures_lite::{AsyncRead, AsyncReadExt};

use super::read_budget::{ReadBudget, Reservation};

/// Why a connection stops reading.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    Closed,
    /// Negative, tiny or oversized frame size: the connection is closed.
    BadSize(i32),
    /// The frame is larger than the core's whole request-byte budget.
    OverBudget(usize),
    /// No traffic and no request in flight for `connections.max.idle.ms`.
    Idle,
    /// A frame started but was not complete within `runnel.request.read.timeout.ms`.
    Timeout,
    /// I/O error or EOF inside a frame.
    Io(std::io::Error),
}

/// Smallest valid request: api key, version, correlation id, client id length.
pub const MIN_REQUEST: usize = 10;

/// The limits one connection reads under.
#[derive(Clone)]
pub struct FrameLimits {
    /// Smallest frame accepted: [`MIN_REQUEST`] for requests, less for the raw SASL tokens
    /// that follow a v0 SaslHandshake.
    pub min: usize,
    /// Largest frame accepted (`socket.request.max.bytes`).
    pub max: usize,
    /// Time a started frame has to arrive whole.
    pub read_timeout: Duration,
    /// The core's request-byte budget.
    pub budget: Rc<ReadBudget>,
}

/// What a connection has been doing, shared by its read and write loops.
pub struct Activity {
    /// Last time a frame was read or a response written.
    pub last: Cell<Instant>,
    /// Requests read whose responses are not written yet.
    pub in_flight: Cell<usize>,
    /// A frame has started arriving and is not complete yet.
    pub reading: Cell<bool>,
    /// The idle watch closed the connection.
    pub idle_closed: Cell<bool>,
}

impl Activity {
    /// A connection that has just been accepted.
    pub fn new() -> Rc<Activity> {
        Rc::new(Activity {
            last: Cell::new(Instant::now()),
            in_flight: Cell::new(0),
            reading: Cell::new(false),
            idle_closed: Cell::new(false),
        })
    }

    /// Notes traffic now.
    pub fn touch(&self) {
        self.last.set(Instant::now());
    }
}

/// A request frame and its share of the core's budget (give it back when the request is done).
pub struct Frame {
    /// The frame without its size prefix.
    pub data: Bytes,
    /// The bytes reserved for it.
    pub reservation: Reservation,
}

/// Reads one frame under `limits`.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &FrameLimits,
    activity: &Activity,
) -> Result<Frame, FrameError> {
    let mut size = [0u8; 4];
    let got = wait_first_bytes(r, &mut size, activity).await?;
    let deadline = Instant::now() + limits.read_timeout;
    let rest = read_rest(r, size, got, limits);
    let timer = async {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        Err(FrameError::Timeout)
    };
    // The timer is polled first: once it fires, the pending read is not polled again (glommio
    // keeps a waker reference for every extra poll of a pending read).
    let frame = or(timer, rest).await?;
    activity.reading.set(false);
    activity.touch();
    Ok(frame)
}

/// Waits for the first bytes of a frame. Idle connections are closed by [`idle_watch`], which
/// shuts the socket down: the read then ends. A pending read is never polled again on a timer
/// (glommio would keep a waker reference per extra poll).
async fn wait_first_bytes<R: AsyncRead + Unpin>(
    r: &mut R,
    size: &mut [u8; 4],
    activity: &Activity,
) -> Result<usize, FrameError> {
    let got = r.read(&mut size[..]).await;
    if activity.idle_closed.get() {
        return Err(FrameError::Idle);
    }
    match got {
        Ok(0) => Err(FrameError::Closed),
        Ok(n) => {
            activity.reading.set(true);
            Ok(n)
        }
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Closes the connection (calling `close`) once it has had no traffic, no request in flight and
/// no frame in progress for `idle`. Runs as its own task, cancelled when the connection ends.
pub async fn idle_watch(activity: Rc<Activity>, idle: Duration, close: impl Fn()) {
    loop {
        let due = activity.last.get() + idle;
        let now = Instant::now();
        if now < due {
            glommio::timer::sleep(due - now).await;
            continue;
        }
        if activity.in_flight.get() > 0 || activity.reading.get() {
            activity.touch();
            continue;
        }
        activity.idle_closed.set(true);
        close();
        return;
    }
}

/// Reads the rest of the size prefix, reserves the frame's bytes and reads its body.
async fn read_rest<R: AsyncRead + Unpin>(
    r: &mut R,
    mut size: [u8; 4],
    mut got: usize,
    limits: &FrameLimits,
) -> Result<Frame, FrameError> {
    while got < 4 {
        match r.read(&mut size[got..]).await {
            Ok(0) => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let n = i32::from_be_bytes(size);
    if n < limits.min as i32 || n as usize > limits.max {
        return Err(FrameError::BadSize(n));
    }
    let n = n as usize;
    if !limits.budget.fits(n) {
        return Err(FrameError::OverBudget(n));
    }
    let reservation = match limits.budget.try_reserve(n) {
        Some(r) => r,
        None => limits.budget.reserve(n).await,
    };
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
    Ok(Frame {
        data: buf.freeze(),
        reservation,
    })
}
