//! Bounded request decoding: a validating pass over each request frame, driven by Kafka's
//! message schemas, that runs before kafka-protocol decodes it.
//!
//! kafka-protocol sizes vectors and buffers from the counts and lengths on the wire before it
//! reads the elements (`Vec::with_capacity(count)`, `vec![0; len]`), so one frame claiming an
//! array of 2^31 elements makes it allocate hundreds of gigabytes, and an allocation failure
//! aborts the process. [`check_request`] walks the header and body of the request with the layout
//! of its API and version ([`schema`], generated from Kafka's JSON schemas by
//! `tools/gen_request_schema.py`) and refuses the frame when any array count (times the smallest
//! encoded size of an element), string or bytes length, compact length, tagged-field count or
//! tagged-field size does not fit in the bytes that remain. A frame that passes can make the
//! decoder allocate at most a small multiple of its own size.
//!
//! A refused frame closes its connection, as Kafka does with a request it cannot parse.

#[rustfmt::skip]
mod schema;
pub mod corpus;
pub mod spec;
mod walk;

use std::fmt;

pub use schema::{HEADER, MESSAGES, RESPONSES, RESPONSE_HEADER};
use spec::Message;
use walk::{walk_struct, Reader};

/// Why a request frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What was wrong.
    pub reason: &'static str,
    /// Offset in the frame (after the size prefix) where it was found.
    pub offset: usize,
}

impl Invalid {
    fn new(reason: &'static str, offset: usize) -> Invalid {
        Invalid { reason, offset }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl std::error::Error for Invalid {}

/// The layout of API `api_key`, if Runnel advertises it.
pub fn message(api_key: i16) -> Option<&'static Message> {
    MESSAGES.iter().find(|m| m.api_key == api_key)
}

/// The request header version of `message` at `version`: 2 in flexible versions, else 1.
pub fn header_version(message: &Message, version: i16) -> i16 {
    if message.flexible.has(version) {
        2
    } else {
        1
    }
}

/// Checks a request frame (without its size prefix): header and body of its API and version.
/// On success returns how many bytes the header and body take (trailing bytes are ignored, as
/// by the decoder).
pub fn check_request(frame: &[u8]) -> Result<usize, Invalid> {
    if frame.len() < 4 {
        return Err(Invalid::new("frame shorter than a request header", 0));
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let message = message(api_key).ok_or(Invalid::new("API without a request layout", 0))?;
    if !message.valid.has(version) {
        return Err(Invalid::new("version without a request layout", 2));
    }
    let mut r = Reader::new(frame);
    let hv = header_version(message, version);
    walk_struct(&mut r, HEADER.root, hv, HEADER.flexible.has(hv))?;
    walk_struct(&mut r, message.root, version, message.flexible.has(version))?;
    Ok(r.pos())
}

/// Checks an answer from another broker (without its size prefix) to a request of API
/// `api_key` at `version`: the response header and body walked with their layouts
/// ([`RESPONSES`], the APIs the inter-broker client sends). On success returns how many bytes
/// they take.
pub fn check_response(api_key: i16, version: i16, frame: &[u8]) -> Result<usize, Invalid> {
    let message = RESPONSES
        .iter()
        .find(|m| m.api_key == api_key)
        .ok_or(Invalid::new("API without a response layout", 0))?;
    if !message.valid.has(version) {
        return Err(Invalid::new("version without a response layout", 0));
    }
    let hv = if message.flexible.has(version) { 1 } else { 0 };
    let mut r = Reader::new(frame);
    walk_struct(
        &mut r,
        RESPONSE_HEADER.root,
        hv,
        RESPONSE_HEADER.flexible.has(hv),
    )?;
    walk_struct(&mut r, message.root, version, message.flexible.has(version))?;
    Ok(r.pos())
}

/// [`check_response`] in the shape the inter-broker client takes
/// ([`crate::interbroker::ResponseCheck`]).
pub fn check_peer_response(api_key: i16, version: i16, frame: &[u8]) -> Result<(), String> {
    check_response(api_key, version, frame)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod tests;
