//! The key material a [`TlsSettings`] names, read (files of at most [`MAX_PEM_BYTES`]) and
//! checked, then built into a rustls [`ServerConfig`]: the protocol versions and cipher suites
//! asked for, the certificate chain and its key (which must match), and the client-certificate
//! verifier that `ssl.client.auth` asks for.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::settings::{ClientAuth, Keystore, Protocol, Truststore};
use super::{bad, TlsConfigError, TlsSettings};

/// The largest PEM file read: key material is a few kilobytes; a larger file is a mistake.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The ALPN-free, session-ticket-free server configuration of `settings`.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = Arc::new(provider(&settings.cipher_suites)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(&settings.protocols))
        .map_err(|e| bad(format!("ssl.enabled.protocols with ssl.cipher.suites: {e}")))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let roots = Arc::new(roots(settings.truststore.as_ref())?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = match auth {
                ClientAuth::Requested => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| bad(format!("ssl.truststore: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let (chain, key) = key_and_chain(&settings.keystore)?;
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(format!("ssl.keystore: {e}")))?;
    Ok(Arc::new(config))
}

/// rustls' protocol versions of `ssl.enabled.protocols`.
pub(super) fn versions(protocols: &[Protocol]) -> Vec<&'static rustls::SupportedProtocolVersion> {
    protocols
        .iter()
        .map(|p| match p {
            Protocol::Tls12 => &rustls::version::TLS12,
            Protocol::Tls13 => &rustls::version::TLS13,
        })
        .collect()
}

/// rustls' ring provider, limited to `suites` (IANA names such as
/// `TLS_AES_128_GCM_SHA256` or `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`) when any are given.
pub(super) fn provider(suites: &[String]) -> Result<CryptoProvider, TlsConfigError> {
    let mut provider = ring_provider();
    if suites.is_empty() {
        return Ok(provider);
    }
    for name in suites {
        if !provider.cipher_suites.iter().any(|s| iana_name(s) == *name) {
            let known: Vec<String> = provider.cipher_suites.iter().map(iana_name).collect();
            return Err(bad(format!(
                "ssl.cipher.suites: {name:?} is not supported (supported: {})",
                known.join(", ")
            )));
        }
    }
    provider
        .cipher_suites
        .retain(|s| suites.contains(&iana_name(s)));
    Ok(provider)
}

/// rustls' provider backed by *ring*. rustls 0.23.48 deprecates it because it offers no
/// post-quantum key exchange (X25519MLKEM768); its alternative, aws-lc-rs, needs cmake and a
/// long C build on every machine that builds Runnel. The classical suites and groups it offers
/// are what Kafka's Java and OpenSSL-based clients negotiate today (docs/security.md).
#[allow(deprecated)]
pub fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A suite's IANA name (rustls spells TLS 1.3 suites `TLS13_...`).
fn iana_name(suite: &rustls::SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

pub(super) fn key_and_chain(
    keystore: &Keystore,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    let (what, key_pem, chain_pem) = match keystore {
        Keystore::File(path) => {
            let pem = read_pem(path, "ssl.keystore.location")?;
            (
                format!("ssl.keystore.location {}", path.display()),
                pem.clone(),
                pem,
            )
        }
        Keystore::Inline { key, chain } => (
            "ssl.keystore.key / ssl.keystore.certificate.chain".to_string(),
            key.clone().into_bytes(),
            chain.clone().into_bytes(),
        ),
    };
    let chain = certificates(&chain_pem, &what)?;
    if key_pem
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY")
    {
        return Err(bad(format!(
            "{what}: the private key is encrypted, which is not supported"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad(format!("{what}: no usable private key ({e})")))?;
    Ok((chain, key))
}

pub(super) fn roots(truststore: Option<&Truststore>) -> Result<RootCertStore, TlsConfigError> {
    let (what, pem) = match truststore {
        Some(Truststore::File(path)) => (
            format!("ssl.truststore.location {}", path.display()),
            read_pem(path, "ssl.truststore.location")?,
        ),
        Some(Truststore::Inline(text)) => (
            "ssl.truststore.certificates".to_string(),
            text.clone().into_bytes(),
        ),
        None => return Err(bad("client certificates need a truststore")),
    };
    let mut store = RootCertStore::empty();
    for cert in certificates(&pem, &what)? {
        store
            .add(cert)
            .map_err(|e| bad(format!("{what}: a CA certificate is not usable: {e}")))?;
    }
    Ok(store)
}

/// Every certificate of a PEM text; at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(bad(format!("{what}: no certificate found")));
    }
    Ok(certs)
}

fn read_pem(path: &Path, key: &str) -> Result<Vec<u8>, TlsConfigError> {
    let len = std::fs::metadata(path)
        .map_err(|e| bad(format!("{key} {}: {e}", path.display())))?
        .len();
    if len > MAX_PEM_BYTES {
        return Err(bad(format!(
            "{key} {}: {len} bytes is too large for key material",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| bad(format!("{key} {}: {e}", path.display())))
}
