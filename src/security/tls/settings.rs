//! Kafka's TLS settings of one listener, parsed from its `ssl.*` keys (Kafka's names, and the
//! `listener.name.<name>.ssl.*` overrides resolved by the caller). Only PEM key material is
//! accepted, from files or inline, as Kafka's `ssl.keystore.type = PEM` takes it.

use std::path::PathBuf;

use super::{bad, TlsConfigError};

/// Where the broker's private key and certificate chain come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keystore {
    /// `ssl.keystore.location`: one PEM file holding the private key and the chain (leaf
    /// first).
    File(PathBuf),
    /// `ssl.keystore.key` and `ssl.keystore.certificate.chain`: the PEM text itself.
    Inline {
        /// The private key (PKCS#8, PKCS#1 or SEC1 PEM; not encrypted).
        key: String,
        /// The certificate chain, leaf first.
        chain: String,
    },
}

/// The certificates that client certificates are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truststore {
    /// `ssl.truststore.location`: a PEM file of CA certificates.
    File(PathBuf),
    /// `ssl.truststore.certificates`: the PEM text itself.
    Inline(String),
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for (Kafka's default).
    #[default]
    None,
    /// A certificate is asked for; a client without one connects as `User:ANONYMOUS`.
    Requested,
    /// A client without a valid certificate fails the handshake.
    Required,
}

/// A TLS protocol version that `ssl.enabled.protocols` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

/// The TLS settings of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The broker's key and certificate chain.
    pub keystore: Keystore,
    /// CA certificates for client certificates (needed unless `client_auth` is `None`).
    pub truststore: Option<Truststore>,
    /// `ssl.client.auth`.
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols` (default `TLSv1.2,TLSv1.3`; nothing older is offered).
    pub protocols: Vec<Protocol>,
    /// `ssl.cipher.suites` by IANA name (empty: rustls' defaults, all of them strong).
    pub cipher_suites: Vec<String>,
    /// `ssl.endpoint.identification.algorithm`: `https` (the default) makes a connecting
    /// broker check that the peer's certificate names the host it connects to; empty turns the
    /// check off (the chain is still verified). Used when this broker is the client.
    pub verify_hostname: bool,
    /// `ssl.principal.mapping.rules`: how a client certificate's subject becomes a principal
    /// name (default `DEFAULT`: the subject itself).
    pub principal_mapping: super::mapping::PrincipalMapper,
}

impl TlsSettings {
    /// The settings from Kafka's keys, looked up with `get` (which resolves per-listener
    /// overrides). Refuses what Runnel cannot honour rather than ignoring it: JKS and PKCS12
    /// stores, encrypted keys (`ssl.key.password`), protocols older than TLS 1.2, a
    /// truststore missing while client certificates are asked for.
    pub fn from_kafka_keys(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<TlsSettings, TlsConfigError> {
        for key in ["ssl.keystore.type", "ssl.truststore.type"] {
            if let Some(t) = get(key) {
                if !t.eq_ignore_ascii_case("PEM") {
                    return Err(bad(format!(
                        "{key} = {t:?}: only PEM stores are supported (convert with openssl)"
                    )));
                }
            }
        }
        if get("ssl.key.password").is_some_and(|p| !p.is_empty()) {
            return Err(bad(
                "ssl.key.password: encrypted private keys are not supported; store the key \
                 unencrypted with file permissions that protect it",
            ));
        }
        let keystore = match (
            get("ssl.keystore.location"),
            get("ssl.keystore.key"),
            get("ssl.keystore.certificate.chain"),
        ) {
            (Some(path), None, None) if !path.is_empty() => Keystore::File(path.into()),
            (None, Some(key), Some(chain)) => Keystore::Inline { key, chain },
            (None, None, None) => {
                return Err(bad(
                    "a TLS listener needs ssl.keystore.location (a PEM file with the key and \
                     certificate chain) or ssl.keystore.key with ssl.keystore.certificate.chain",
                ))
            }
            _ => {
                return Err(bad(
                    "give either ssl.keystore.location or both ssl.keystore.key and \
                     ssl.keystore.certificate.chain",
                ))
            }
        };
        let truststore = match (
            get("ssl.truststore.location"),
            get("ssl.truststore.certificates"),
        ) {
            (Some(path), None) if !path.is_empty() => Some(Truststore::File(path.into())),
            (None, Some(pem)) => Some(Truststore::Inline(pem)),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "give either ssl.truststore.location or ssl.truststore.certificates",
                ))
            }
        };
        let client_auth = match get("ssl.client.auth").as_deref().map(str::trim) {
            None | Some("") | Some("none") => ClientAuth::None,
            Some("requested") => ClientAuth::Requested,
            Some("required") => ClientAuth::Required,
            Some(other) => {
                return Err(bad(format!(
                    "ssl.client.auth = {other:?}: use required, requested or none"
                )))
            }
        };
        if client_auth != ClientAuth::None && truststore.is_none() {
            return Err(bad(
                "ssl.client.auth asks for client certificates: set ssl.truststore.location to \
                 the CA certificates they are checked against",
            ));
        }
        let protocols = match get("ssl.enabled.protocols") {
            None => vec![Protocol::Tls12, Protocol::Tls13],
            Some(list) => parse_protocols(&list)?,
        };
        let cipher_suites = get("ssl.cipher.suites")
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let verify_hostname = match get("ssl.endpoint.identification.algorithm")
            .as_deref()
            .map(str::trim)
        {
            None => true,
            Some("") => false,
            Some(a) if a.eq_ignore_ascii_case("https") => true,
            Some(other) => {
                return Err(bad(format!(
                    "ssl.endpoint.identification.algorithm = {other:?}: use https or an empty value"
                )))
            }
        };
        let principal_mapping = match get("ssl.principal.mapping.rules") {
            Some(rules) => super::mapping::PrincipalMapper::parse(&rules)?,
            None => super::mapping::PrincipalMapper::default(),
        };
        Ok(TlsSettings {
            keystore,
            truststore,
            client_auth,
            protocols,
            cipher_suites,
            verify_hostname,
            principal_mapping,
        })
    }

    /// The files this configuration reads (watched for reloads).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Keystore::File(p) = &self.keystore {
            out.push(p.clone());
        }
        if let Some(Truststore::File(p)) = &self.truststore {
            out.push(p.clone());
        }
        out
    }
}

fn parse_protocols(list: &str) -> Result<Vec<Protocol>, TlsConfigError> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let p = match name {
            "TLSv1.2" => Protocol::Tls12,
            "TLSv1.3" => Protocol::Tls13,
            other => {
                return Err(bad(format!(
                    "ssl.enabled.protocols: {other:?} is not offered (TLSv1.2 and TLSv1.3 only)"
                )))
            }
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(bad("ssl.enabled.protocols names no protocol"));
    }
    out.sort();
    Ok(out)
}
