//! Parsing and building the text messages of SCRAM (RFC 5802 section 7): attribute lists of
//! `letter=value` separated by commas, `saslname` escaping of user names, base64 values. Every
//! input is bounded and untrusted; nothing here panics on any byte string.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::scram::ScramError;

/// Longest SCRAM message accepted from a client. Real messages are well under 300 bytes; the
/// bound keeps a hostile client from making the server parse or hash megabytes.
pub const MAX_MESSAGE: usize = 4096;

/// The parts of a client-first-message.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// The GS2 header as sent (`n,,` or `y,,` or with `a=authzid`), echoed in the final message.
    pub gs2_header: String,
    /// The authorization id, if the client named one.
    pub authzid: Option<String>,
    /// The user name, unescaped.
    pub username: String,
    /// The client's nonce.
    pub nonce: String,
    /// The message after the GS2 header, part of the AuthMessage.
    pub bare: String,
    /// Extensions after the nonce (`key=value`), e.g. Kafka's `tokenauth=true`.
    pub extensions: Vec<(String, String)>,
}

/// The parts of a client-final-message.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFinal {
    /// The decoded channel binding (`c=`): the GS2 header for clients without channel binding.
    pub channel_binding: Vec<u8>,
    /// The combined nonce (`r=`).
    pub nonce: String,
    /// The message without its proof, part of the AuthMessage.
    pub without_proof: String,
    /// The decoded client proof (`p=`).
    pub proof: Vec<u8>,
}

fn text(msg: &[u8]) -> Result<&str, ScramError> {
    if msg.len() > MAX_MESSAGE {
        return Err(ScramError::TooLong);
    }
    std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))
}

/// Splits `attr=value`, checking the attribute letter.
fn attr(part: &str, letter: char) -> Result<&str, ScramError> {
    let mut chars = part.chars();
    if chars.next() == Some(letter) && chars.next() == Some('=') {
        Ok(&part[2..])
    } else {
        Err(ScramError::Malformed("unexpected attribute"))
    }
}

/// Decodes a `saslname`: `=2C` is a comma, `=3D` an equals sign, any other `=` is an error.
pub fn unescape_name(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::Malformed("empty user name"));
    }
    Ok(out)
}

/// Encodes a user name as a `saslname` (what a client sends).
pub fn escape_name(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// A nonce must be printable ASCII without commas (RFC 5802 `printable`).
fn check_nonce(n: &str) -> Result<(), ScramError> {
    if n.is_empty() || !n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
        return Err(ScramError::Malformed("bad nonce"));
    }
    Ok(())
}

/// Parses a client-first-message.
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, ScramError> {
    let s = text(msg)?;
    let mut parts = s.splitn(3, ',');
    let cbind = parts.next().unwrap_or_default();
    let authz = parts.next().ok_or(ScramError::Malformed("no GS2 header"))?;
    let bare = parts.next().ok_or(ScramError::Malformed("no GS2 header"))?;
    match cbind {
        "n" | "y" => {}
        c if c.starts_with("p=") => return Err(ScramError::ChannelBindingUnsupported),
        _ => return Err(ScramError::Malformed("bad channel binding flag")),
    }
    let authzid = if authz.is_empty() {
        None
    } else {
        Some(unescape_name(attr(authz, 'a')?)?)
    };
    let mut fields = bare.split(',');
    let first = fields.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(ScramError::Malformed("mandatory extension not supported"));
    }
    let username = unescape_name(attr(first, 'n')?)?;
    let nonce = attr(fields.next().unwrap_or_default(), 'r')?.to_string();
    check_nonce(&nonce)?;
    let mut extensions = Vec::new();
    for f in fields {
        let (k, v) = f
            .split_once('=')
            .ok_or(ScramError::Malformed("bad extension"))?;
        if k.is_empty() {
            return Err(ScramError::Malformed("bad extension"));
        }
        extensions.push((k.to_string(), v.to_string()));
    }
    Ok(ClientFirst {
        gs2_header: format!("{cbind},{authz},"),
        authzid,
        username,
        nonce,
        bare: bare.to_string(),
        extensions,
    })
}

/// Parses a client-final-message.
pub fn parse_client_final(msg: &[u8]) -> Result<ClientFinal, ScramError> {
    let s = text(msg)?;
    let (without_proof, proof) = s
        .rsplit_once(",p=")
        .ok_or(ScramError::Malformed("no proof"))?;
    let mut fields = without_proof.split(',');
    let c = attr(fields.next().unwrap_or_default(), 'c')?;
    let nonce = attr(fields.next().unwrap_or_default(), 'r')?.to_string();
    check_nonce(&nonce)?;
    // Extensions may follow the nonce; none is acted upon, so they are only part of the
    // AuthMessage the proof covers.
    Ok(ClientFinal {
        channel_binding: decode(c)?,
        nonce,
        without_proof: without_proof.to_string(),
        proof: decode(proof)?,
    })
}

/// Base64 (standard alphabet, padded), as SCRAM uses it.
pub fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes base64, bounded by the message bound.
pub fn decode(s: &str) -> Result<Vec<u8>, ScramError> {
    B64.decode(s)
        .map_err(|_| ScramError::Malformed("bad base64"))
}
