//! SASL/PLAIN (RFC 4616): the client's single message `authzid NUL authcid NUL passwd`, parsed
//! with bounds. As on Kafka, an authorization id must be empty or equal the user name. The
//! password is checked against the user's SCRAM credential
//! ([`super::scram::ScramCredential::matches_password`]), so a broker stores no password in
//! clear for PLAIN either; PLAIN sends the password itself, so it belongs on TLS listeners.

/// Longest field RFC 4616 allows (bytes of UTF-8).
const MAX_FIELD: usize = 255;

/// Why a PLAIN message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainError {
    /// Not three NUL-separated UTF-8 fields of 1-255 bytes (the authzid may be empty).
    Malformed(&'static str),
    /// An authorization id other than the user name.
    AuthzidMismatch,
}

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlainError::Malformed(what) => write!(f, "malformed PLAIN message: {what}"),
            PlainError::AuthzidMismatch => {
                write!(f, "authorization id differs from the user name")
            }
        }
    }
}

impl std::error::Error for PlainError {}

/// A parsed PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainLogin<'a> {
    /// The user name (authcid).
    pub username: &'a str,
    /// The password as sent.
    pub password: &'a [u8],
}

fn text(b: &[u8]) -> Result<&str, PlainError> {
    std::str::from_utf8(b).map_err(|_| PlainError::Malformed("not UTF-8"))
}

/// Parses a PLAIN message.
pub fn parse(msg: &[u8]) -> Result<PlainLogin<'_>, PlainError> {
    if msg.len() > 3 * MAX_FIELD + 2 {
        return Err(PlainError::Malformed("too long"));
    }
    let mut fields = msg.splitn(3, |b| *b == 0);
    let (Some(authzid), Some(authcid), Some(password)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(PlainError::Malformed("not three fields"));
    };
    if password.contains(&0) {
        return Err(PlainError::Malformed("NUL in the password"));
    }
    let authzid = text(authzid)?;
    let username = text(authcid)?;
    text(password)?;
    if username.is_empty() || password.is_empty() {
        return Err(PlainError::Malformed("empty user name or password"));
    }
    if [authzid.len(), username.len(), password.len()]
        .iter()
        .any(|l| *l > MAX_FIELD)
    {
        return Err(PlainError::Malformed("field over 255 bytes"));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(PlainError::AuthzidMismatch);
    }
    Ok(PlainLogin { username, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_4616_messages() {
        assert_eq!(
            parse(b"\0tim\0tanstaaftanstaaf"),
            Ok(PlainLogin {
                username: "tim",
                password: b"tanstaaftanstaaf"
            })
        );
        assert_eq!(parse(b"tim\0tim\0pw").unwrap().username, "tim");
        assert_eq!(
            parse(b"Ursel\0Kurt\0xipj3plmq"),
            Err(PlainError::AuthzidMismatch)
        );
    }

    #[test]
    fn refuses_malformed_messages() {
        let long = [b"\0u\0".as_slice(), &[b'p'; 256]].concat();
        for bad in [
            b"".as_slice(),
            b"\0user",
            b"\0\0pw",
            b"\0user\0",
            b"\0user\0p\0w",
            b"\0us\xffer\0pw",
            &long,
        ] {
            assert!(
                matches!(parse(bad), Err(PlainError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
