//! A minimal HTTP/1.1 responder for `/metrics`, `/health` and `/ready`.
//!
//! It runs on plain std threads, outside the executors: one accept thread and one short-lived
//! thread per connection (at most [`MAX_CONNECTIONS`] at once; more are answered 503). Every
//! connection serves one request and is closed. Requests are bounded in size and time, and
//! anything that is not a well-formed `GET`/`HEAD` gets a 4xx answer; nothing a client sends
//! can stop the listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::expose;
use super::registry::Registry;

/// Connections served at the same time.
pub const MAX_CONNECTIONS: usize = 16;
/// Largest request head accepted (request line and headers).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Time a client has to send its request, and to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` and serves it on a background thread; returns the bound address (useful with
/// port 0). On failure the error is returned and nothing is started.
pub fn spawn(addr: SocketAddr, reg: Arc<Registry>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("runnel-metrics".into())
        .spawn(move || accept_loop(listener, reg))?;
    Ok(local)
}

fn accept_loop(listener: TcpListener, reg: Arc<Registry>) {
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
            let mut s = stream;
            let _ = respond(&mut s, 503, "text/plain", b"too many connections\n", false);
            continue;
        }
        let (reg, slot) = (reg.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("runnel-metrics-conn".into())
            .spawn(move || {
                let mut s = stream;
                serve(&mut s, &reg);
                slot.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads the request head: up to the blank line, at most [`MAX_REQUEST_BYTES`].
fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
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

fn serve(s: &mut TcpStream, reg: &Registry) {
    let Some(head) = read_head(s) else {
        return; // closed or timed out before a whole request: nothing to answer
    };
    if head.is_empty() {
        let _ = respond(s, 431, "text/plain", b"request too large\n", false);
        linger(s);
        return;
    }
    let (code, ctype, body, head_only) = match route(&head) {
        Route::Malformed => (400, "text/plain", b"bad request\n".to_vec(), false),
        Route::BadMethod => (405, "text/plain", b"only GET and HEAD\n".to_vec(), false),
        Route::Get(path, head_only) => {
            let (code, ctype, body) = answer(&path, reg);
            (code, ctype, body, head_only)
        }
    };
    let _ = respond(s, code, ctype, &body, head_only);
    linger(s);
}

/// Closes our side, then reads and drops what the client still sends (bounded), so that closing
/// with unread input does not reset the connection before the client has read the answer.
fn linger(s: &mut TcpStream) {
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

fn respond(
    s: &mut TcpStream,
    code: u16,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if !head_only {
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
