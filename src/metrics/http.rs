//! A minimal HTTP/1.1 responder for `/metrics`, `/health` and `/ready`, over plain TCP or TLS
//! and optionally behind basic authentication ([`HttpSecurity`]).
//!
//! It runs on plain std threads, outside the executors: one accept thread and one short-lived
//! thread per connection (at most [`MAX_CONNECTIONS`] at once; more are answered 503). Every
//! connection serves one request and is closed. Requests are bounded in size and time, and
//! anything that is not a well-formed `GET`/`HEAD` gets a 4xx answer; nothing a client sends
//! can stop the listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::expose;
use super::http_conn::HttpConn;
pub use super::http_conn::HttpSecurity;
use super::registry::Registry;

/// Connections served at the same time.
pub const MAX_CONNECTIONS: usize = 16;
/// Largest request head accepted (request line and headers).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Time a client has to send its request, and to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` and serves it on a background thread; returns the bound address (useful with
/// port 0). On failure the error is returned and nothing is started.
pub fn spawn(
    addr: SocketAddr,
    reg: Arc<Registry>,
    security: HttpSecurity,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("runnel-metrics".into())
        .spawn(move || accept_loop(listener, reg, security))?;
    Ok(local)
}

fn accept_loop(listener: TcpListener, reg: Arc<Registry>, security: HttpSecurity) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(stream) = conn else {
            // EMFILE and the like: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            // Over TLS a plaintext answer would be noise: the connection is just closed.
            if security.tls.is_none() {
                let mut s = HttpConn::Plain(stream);
                let _ = respond(&mut s, 503, b"too many connections\n", Answer::plain());
            }
            continue;
        }
        let (reg, slot, security) = (reg.clone(), active.clone(), security.clone());
        let spawned = std::thread::Builder::new()
            .name("runnel-metrics-conn".into())
            .spawn(move || {
                if let Some(mut conn) = HttpConn::open(stream, security.tls.as_deref()) {
                    serve(&mut conn, &reg, security.basic.as_ref());
                }
                slot.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads the request head: up to the blank line, at most [`MAX_REQUEST_BYTES`].
fn read_head(s: &mut HttpConn) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Some(buf);
        }
        if buf.len() > MAX_REQUEST_BYTES {
            return Some(Vec::new()); // answered 431 below
        }
    }
}

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// GET or HEAD of a path (query string removed); `true` for HEAD.
    Get(String, bool),
    /// Another method.
    BadMethod,
    /// Not an HTTP request line.
    Malformed,
}

/// Parses the request line at the start of `head`.
pub fn route(head: &[u8]) -> Route {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Route::Malformed;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::Malformed;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Route::Malformed;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    match method {
        "GET" => Route::Get(path, false),
        "HEAD" => Route::Get(path, true),
        _ => Route::BadMethod,
    }
}

fn serve(s: &mut HttpConn, reg: &Registry, basic: Option<&super::http_auth::BasicAuth>) {
    let Some(head) = read_head(s) else {
        return; // closed, timed out or a failed TLS handshake: nothing to answer
    };
    if head.is_empty() {
        let _ = respond(s, 431, b"request too large\n", Answer::plain());
        s.finish();
        return;
    }
    let route = route(&head);
    let denied = basic.is_some_and(|b| !b.admits(&head)) && route != Route::Malformed;
    let (code, body, how) = match route {
        Route::Malformed => (400, b"bad request\n".to_vec(), Answer::plain()),
        _ if denied => (
            401,
            b"authentication required\n".to_vec(),
            Answer::challenge(),
        ),
        Route::BadMethod => (405, b"only GET and HEAD\n".to_vec(), Answer::plain()),
        Route::Get(path, head_only) => {
            let (code, ctype, body) = answer(&path, reg);
            (
                code,
                body,
                Answer {
                    ctype,
                    head_only,
                    challenge: false,
                },
            )
        }
    };
    let _ = respond(s, code, &body, how);
    s.finish();
}

/// How an answer is sent.
struct Answer {
    ctype: &'static str,
    head_only: bool,
    /// Ask for basic authentication (`WWW-Authenticate`).
    challenge: bool,
}

impl Answer {
    fn plain() -> Answer {
        Answer {
            ctype: "text/plain",
            head_only: false,
            challenge: false,
        }
    }

    fn challenge() -> Answer {
        Answer {
            challenge: true,
            ..Answer::plain()
        }
    }
}

/// Status, content type and body for `path`.
pub fn answer(path: &str, reg: &Registry) -> (u16, &'static str, Vec<u8>) {
    match path {
        "/metrics" => (200, expose::CONTENT_TYPE, expose::render(reg).into_bytes()),
        "/health" => match reg.health() {
            Ok(()) => (200, "text/plain", b"ok\n".to_vec()),
            Err(why) => (
                503,
                "text/plain",
                format!("unhealthy: {why}\n").into_bytes(),
            ),
        },
        "/ready" => {
            if reg.is_ready() {
                (200, "text/plain", b"ready\n".to_vec())
            } else {
                (503, "text/plain", b"not ready\n".to_vec())
            }
        }
        _ => (404, "text/plain", b"not found\n".to_vec()),
    }
}

fn respond(s: &mut HttpConn, code: u16, body: &[u8], how: Answer) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let challenge = if how.challenge {
        "WWW-Authenticate: Basic realm=\"runnel\", charset=\"UTF-8\"\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         {challenge}Connection: close\r\n\r\n",
        how.ctype,
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if !how.head_only {
        s.write_all(body)?;
    }
    s.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Route::Get("/metrics".into(), false)
        );
        assert_eq!(
            route(b"HEAD /ready HTTP/1.0\r\n\r\n"),
            Route::Get("/ready".into(), true)
        );
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        assert_eq!(route(b"\x00\xff\xfe garbage\r\n\r\n"), Route::Malformed);
        assert_eq!(route(b"GET metrics HTTP/1.1\r\n\r\n"), Route::Malformed);
        assert_eq!(route(b"GET / HTTP/1.1 extra\r\n\r\n"), Route::Malformed);
        assert_eq!(route(b""), Route::Malformed);
    }

    #[test]
    fn answers() {
        let reg = Registry::new(1, Arc::new(AtomicBool::new(false)));
        assert_eq!(answer("/ready", &reg).0, 503);
        reg.core_listening();
        assert_eq!(
            answer("/ready", &reg).0,
            503,
            "not registered with the quorum yet"
        );
        reg.set_registered(true);
        assert_eq!(answer("/ready", &reg).0, 200);
        assert_eq!(answer("/health", &reg).0, 200);
        assert_eq!(answer("/nope", &reg).0, 404);
        let (code, ctype, body) = answer("/metrics", &reg);
        assert_eq!((code, ctype), (200, expose::CONTENT_TYPE));
        assert!(String::from_utf8(body).unwrap().contains("runnel_ready 1"));
    }
}
