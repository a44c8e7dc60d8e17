//! One client connection: reads request frames, runs them concurrently, writes responses in
//! request order.
//!
//! The read loop spawns a task per request and queues its handle; the write loop awaits the
//! handles in order, so pipelined requests (clients keep up to five or more in flight) are
//! processed in parallel but answered in sequence. A malformed frame or request closes the
//! connection after the responses before it are written. Connection and request-reading limits
//! are applied here and in [`super::frame`].
//!
//! On a SASL listener the login comes first ([`super::sasl`]); after it, SaslHandshake and
//! SaslAuthenticate frames are re-authentication (KIP-368, [`super::reauth`]): they are
//! answered in the read loop and their answers queued in request order behind the requests
//! still in flight, and a request after the session expired closes the connection.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_lite::io::BufReader;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::TcpStream;
use glommio::task::JoinHandle;

use super::admission::{Admission, Refusal};
use super::dispatch::{self, Outcome, Parsed, Reply};
use super::frame::{idle_watch, read_frame, Activity, FrameError, FrameLimits};
use super::read_budget::ReadBudget;
use super::reauth::{Closing, Session, Verdict};
use super::stream::ClientStream;
use crate::config::listeners::Listener;
use crate::security::principal::KafkaPrincipal;
use crate::services::Core;

/// Requests of one connection processed at the same time before reading pauses.
const MAX_IN_FLIGHT: usize = 64;
/// Chunks smaller than this are coalesced into one write.
const COALESCE: usize = 16 * 1024;
/// Longest TLS handshake (and no longer than `runnel.request.read.timeout.ms`): a client that
/// does not finish it holds a connection slot no longer than this.
const TLS_HANDSHAKE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Read or write half of a stream shared by the two loops of a connection.
///
/// glommio keeps separate read and write sources per socket, so the halves never contend; the
/// `RefCell` is only borrowed inside a single poll.
struct Half(Rc<RefCell<ClientStream>>);

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

/// Serves a connection accepted on `listener` until the peer closes it, sends something
/// malformed, or breaks a limit (`max.connections`, `max.connections.per.ip`,
/// `connections.max.idle.ms`, the partial-frame timeout, a frame over the core's request-byte
/// budget `budget`). On a SASL listener the client authenticates first ([`super::sasl`]).
///
/// On a TLS listener the handshake comes first (bounded by [`TLS_HANDSHAKE_LIMIT`]), before
/// the SASL exchange, so that everything after reads and writes the decrypted stream; a
/// client certificate names the principal of an `SSL` listener's connection.
pub async fn serve(
    core: Rc<Core>,
    budget: Rc<ReadBudget>,
    stream: TcpStream,
    listener: Rc<Listener>,
) {
    let peer = stream.peer_addr().ok();
    let config = core.view.config();
    let limits = &config.limits;
    let _ticket = match Admission::global().admit(
        peer.map(|p| p.ip()),
        limits.max_connections,
        limits.max_connections_per_ip,
    ) {
        Ok(t) => t,
        Err(refusal) => {
            crate::metrics::hooks::connection_rejected(refusal == Refusal::MaxConnectionsPerIp);
            tracing::debug!(?peer, reason = refusal.label(), "connection refused");
            return;
        }
    };
    let _open = crate::metrics::hooks::ConnectionGuard::open();
    let _ = stream.set_nodelay(true);
    let (stream, tls_principal) = match &listener.tls {
        None => (ClientStream::Plain(stream), None),
        Some(tls) => {
            let limit = TLS_HANDSHAKE_LIMIT.min(limits.request_read_timeout);
            match crate::security::tls::accept(&tls.0, stream, limit).await {
                Ok(a) => {
                    crate::metrics::hooks::tls_handshake_completed();
                    (ClientStream::Tls(Box::new(a.stream)), Some(a.principal))
                }
                Err(e) => {
                    crate::metrics::hooks::tls_handshake_failed();
                    if matches!(e, crate::security::tls::HandshakeError::NoMappingRule(_)) {
                        // A certificate of a trusted CA that the rules cannot name: the
                        // operator's to see (Kafka logs failed authentications too).
                        tracing::info!(?peer, listener = %listener.name, error = %e,
                            "client certificate refused; closing connection");
                    } else {
                        tracing::debug!(?peer, listener = %listener.name, error = %e,
                            "TLS handshake failed; closing connection");
                    }
                    return;
                }
            }
        }
    };
    let stream = Rc::new(RefCell::new(stream));
    let activity = Activity::new();
    let mut reader = BufReader::with_capacity(64 * 1024, Half(stream.clone()));
    let frame_limits = FrameLimits {
        min: super::frame::MIN_REQUEST,
        max: config.socket_request_max_bytes,
        read_timeout: limits.request_read_timeout,
        budget,
    };
    // PLAINTEXT clients act as `User:ANONYMOUS`, as on Kafka; SASL clients as who they proved
    // to be, and nothing else is served before that.
    let mut session = None;
    let principal = if listener.protocol.is_sasl() {
        let mut w = Half(stream.clone());
        let who = super::sasl::authenticate(
            &core,
            &listener,
            &mut reader,
            &mut w,
            &frame_limits,
            &activity,
        )
        .await;
        match who {
            Some(login) => {
                session = Some(Session::new(
                    &login.user,
                    &login.mechanism,
                    listener.max_reauth,
                    Instant::now(),
                ));
                Rc::new(login.principal)
            }
            None => {
                shutdown(&stream);
                return;
            }
        }
    } else {
        Rc::new(tls_principal.unwrap_or_else(KafkaPrincipal::anonymous))
    };
    let (tx, rx) = local_channel::new_bounded::<JoinHandle<Outcome>>(MAX_IN_FLIGHT);
    let writer = glommio::spawn_local(write_loop(stream.clone(), rx, activity.clone()));
    let watch = limits.connections_max_idle.map(|idle| {
        let s = stream.clone();
        glommio::spawn_local(idle_watch(activity.clone(), idle, move || shutdown(&s)))
    });
    loop {
        let read = read_frame(&mut reader, &frame_limits, &activity);
        let got = match session.as_ref().and_then(Session::pending_deadline) {
            None => read.await.map_err(Some),
            Some(deadline) => {
                let timer = async {
                    glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
                    Err(None)
                };
                futures_lite::future::or(timer, async { read.await.map_err(Some) }).await
            }
        };
        match got {
            Err(None) => {
                crate::metrics::hooks::sasl_reauthenticated(false);
                tracing::debug!(
                    ?peer,
                    "SASL re-authentication not complete in time; closing connection"
                );
                break;
            }
            Ok(frame) => {
                if let Some(s) = session.as_mut() {
                    match after_login(s, &core, &listener, &frame.data) {
                        AfterLogin::Serve => {}
                        AfterLogin::Close => break,
                        AfterLogin::Answer(out, go_on) => {
                            let task = glommio::spawn_local(async move { out }).detach();
                            activity.in_flight.set(activity.in_flight.get() + 1);
                            if tx.send(task).await.is_err() || !go_on {
                                break;
                            }
                            continue;
                        }
                    }
                }
                let s = core.clone();
                let who = principal.clone();
                let on = listener.clone();
                let task = glommio::spawn_local(async move {
                    let out = dispatch::handle_frame(s, frame.data, peer, who, on).await;
                    drop(frame.reservation);
                    out
                })
                .detach();
                activity.in_flight.set(activity.in_flight.get() + 1);
                if tx.send(task).await.is_err() {
                    break;
                }
            }
            Err(Some(FrameError::Closed)) => break,
            Err(Some(FrameError::BadSize(n))) => {
                tracing::debug!(?peer, size = n, "invalid frame size; closing connection");
                break;
            }
            Err(Some(FrameError::OverBudget(n))) => {
                tracing::debug!(
                    ?peer,
                    size = n,
                    "frame larger than queued.max.request.bytes; closing connection"
                );
                break;
            }
            Err(Some(FrameError::Idle)) => {
                crate::metrics::hooks::connection_timed_out(false);
                tracing::debug!(
                    ?peer,
                    "idle for connections.max.idle.ms; closing connection"
                );
                break;
            }
            Err(Some(FrameError::Timeout)) => {
                crate::metrics::hooks::connection_timed_out(true);
                tracing::debug!(?peer, "request frame not complete within runnel.request.read.timeout.ms; closing connection");
                break;
            }
            Err(Some(FrameError::Io(e))) => {
                tracing::debug!(?peer, error = %e, "connection read ended");
                break;
            }
        }
    }
    drop(tx);
    writer.await;
    if let Some(w) = watch {
        w.cancel().await;
    }
    shutdown(&stream);
}

/// What the read loop does with a frame of an authenticated SASL connection.
enum AfterLogin {
    /// An ordinary request of a live session: dispatch it.
    Serve,
    /// A re-authentication frame's answer; go on reading if the flag says so.
    Answer(Outcome, bool),
    /// Close without answering.
    Close,
}

/// Re-authentication frames and the session's expiry ([`super::reauth`]).
fn after_login(s: &mut Session, core: &Core, listener: &Listener, data: &Bytes) -> AfterLogin {
    use kafka_protocol::messages::{ApiKey, RequestKind};
    let now = Instant::now();
    let key = ApiKey::try_from(i16::from_be_bytes([data[0], data[1]]));
    if !matches!(key, Ok(ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)) {
        if s.expired(now) {
            crate::metrics::hooks::sasl_session_expired();
            tracing::debug!(listener = %listener.name, "SASL session expired (connections.max.reauth.ms) without re-authentication; closing connection");
            return AfterLogin::Close;
        }
        return AfterLogin::Serve;
    }
    if data.len() > super::sasl::MAX_TOKEN {
        tracing::debug!(listener = %listener.name, size = data.len(), "SASL frame over its size bound after login; closing connection");
        return AfterLogin::Close;
    }
    let correlation_id = i32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let Parsed::Request {
        key,
        version,
        request,
        ..
    } = dispatch::parse(data.clone())
    else {
        return AfterLogin::Close;
    };
    let verdict = match request {
        RequestKind::SaslHandshake(r) => {
            s.handshake(&r.mechanism, version, &listener.sasl_mechanisms, now)
        }
        RequestKind::SaslAuthenticate(r) => {
            s.authenticate(&r.auth_bytes, now, |u, m| super::sasl::lookup(core, u, m))
        }
        _ => return AfterLogin::Close,
    };
    let (body, go_on) = match verdict {
        Verdict::Answer(body) => (body, true),
        Verdict::Reauthenticated(body) => {
            crate::metrics::hooks::sasl_reauthenticated(true);
            tracing::debug!(listener = %listener.name, "SASL: re-authenticated");
            (body, true)
        }
        Verdict::Failed(body, why) => {
            crate::metrics::hooks::sasl_reauthenticated(false);
            tracing::debug!(listener = %listener.name, %why, "SASL re-authentication failed; closing connection");
            (body, false)
        }
        Verdict::Close(why) => {
            match why {
                Closing::Expired => crate::metrics::hooks::sasl_session_expired(),
                Closing::Overdue => crate::metrics::hooks::sasl_reauthenticated(false),
            }
            tracing::debug!(listener = %listener.name, ?why, "SASL session over; closing connection");
            return AfterLogin::Close;
        }
    };
    AfterLogin::Answer(
        dispatch::encode(key, version, correlation_id, Reply::from(body)),
        go_on,
    )
}

/// Shuts the socket down both ways, waking whichever loop is blocked on it.
fn shutdown(stream: &Rc<RefCell<ClientStream>>) {
    let fd = super::stream::raw_fd(&stream.borrow());
    // SAFETY: `fd` is the connection's open socket, owned by `stream`, which is alive here.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

async fn write_loop(
    stream: Rc<RefCell<ClientStream>>,
    rx: local_channel::LocalReceiver<JoinHandle<Outcome>>,
    activity: Rc<Activity>,
) {
    let mut w = Half(stream.clone());
    while let Some(task) = rx.recv().await {
        let outcome = task.await;
        let done = match outcome {
            Some(Outcome::Respond(chunks)) => write_chunks(&mut w, chunks).await.is_err(),
            Some(Outcome::NoResponse) => false,
            Some(Outcome::Close) | None => true,
        };
        activity
            .in_flight
            .set(activity.in_flight.get().saturating_sub(1));
        activity.touch();
        if done {
            break;
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
    // TLS may hold encrypted records back until flushed (a no-op on plain TCP).
    w.flush().await
}
