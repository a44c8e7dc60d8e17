//! Who may read the HTTP endpoint: HTTP basic authentication against one configured user whose
//! password is kept only as its SHA-256 (`metrics.basic.auth.user`,
//! `metrics.basic.auth.password.sha256`), compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The one user the endpoint accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    user: String,
    password_sha256: [u8; 32],
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// From the user name and the password's SHA-256 in hex (64 digits).
    pub fn new(user: &str, password_sha256_hex: &str) -> Result<BasicAuth, String> {
        if user.is_empty() || user.contains(':') {
            return Err("metrics.basic.auth.user must be non-empty without ':'".into());
        }
        let hex = password_sha256_hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                "metrics.basic.auth.password.sha256 must be the password's SHA-256 in hex (64 \
                 digits: printf %s 'PASSWORD' | sha256sum)"
                    .into(),
            );
        }
        let mut digest = [0u8; 32];
        for (i, d) in digest.iter_mut().enumerate() {
            *d = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(BasicAuth {
            user: user.to_string(),
            password_sha256: digest,
        })
    }

    /// Whether the request head `head` carries this user's credentials
    /// (`Authorization: Basic base64(user:password)`).
    pub fn admits(&self, head: &[u8]) -> bool {
        let Some(token) = basic_token(head) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let digest: [u8; 32] = Sha256::digest(password).into();
        let user_ok = user.ct_eq(self.user.as_bytes());
        let password_ok = digest.ct_eq(&self.password_sha256);
        (user_ok & password_ok).into()
    }
}

/// The credentials of the `Authorization: Basic` header of a request head.
fn basic_token(head: &[u8]) -> Option<&[u8]> {
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(b"authorization") {
            continue;
        }
        let value = line[colon + 1..].trim_ascii();
        let (scheme, rest) = value.split_at(value.iter().position(|&b| b == b' ')?);
        if scheme.eq_ignore_ascii_case(b"basic") {
            return Some(rest.trim_ascii());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(auth: &str) -> Vec<u8> {
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n").into_bytes()
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn admits_only_the_configured_user_and_password() {
        let hex: String = Sha256::digest(b"s3cret:x")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let auth = BasicAuth::new("prom", &hex).unwrap();
        assert!(auth.admits(&head(&basic("prom:s3cret:x"))));
        assert!(auth.admits(
            format!(
                "GET / HTTP/1.1\r\nauthorization:   basic {}\r\n\r\n",
                base64::engine::general_purpose::STANDARD.encode("prom:s3cret:x")
            )
            .as_bytes()
        ));
        for bad in [
            basic("prom:s3cret"),
            basic("other:s3cret:x"),
            basic("prom"),
            basic(""),
            "Authorization: Bearer abc".to_string(),
            "Authorization: Basic !!!".to_string(),
            "Authorization:".to_string(),
            String::new(),
        ] {
            assert!(!auth.admits(&head(&bad)), "{bad}");
        }
        // The request line is not a header.
        assert!(!auth.admits(b"Authorization: Basic cHJvbTpzM2NyZXQ6eA==\r\n\r\n"));
    }

    #[test]
    fn settings_are_checked() {
        let hex = "a".repeat(64);
        assert!(BasicAuth::new("", &hex).is_err());
        assert!(BasicAuth::new("a:b", &hex).is_err());
        assert!(BasicAuth::new("a", "abc").is_err());
        assert!(BasicAuth::new("a", &"g".repeat(64)).is_err());
        assert!(BasicAuth::new("a", &hex).is_ok());
        assert!(!format!("{:?}", BasicAuth::new("a", &hex).unwrap()).contains("aaaa"));
    }
}
