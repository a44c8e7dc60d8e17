//! TLS for the wire client ([`super::wire`]) on `SSL` and `SASL_SSL` listeners, with rustls
//! (ring, no OpenSSL) and librdkafka's property names: `ssl.ca.location` (PEM file of the CAs
//! to trust, required: there is no system store here), and for mTLS `ssl.certificate.location`
//! with `ssl.key.location`. The broker's certificate must name the host of `--brokers` (a DNS
//! name or an IP address), as librdkafka's default `ssl.endpoint.identification.algorithm=https`
//! checks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::common::{CliError, CliResult};

/// Largest PEM file read.
const MAX_PEM: u64 = 1 << 20;

/// Whether `security.protocol` in `props` (later entries win) is TLS, and the TLS settings if
/// so.
pub fn config_from(props: &[(String, String)]) -> CliResult<Option<Arc<ClientConfig>>> {
    let get = |k: &str| props.iter().rev().find(|(pk, _)| pk == k).map(|(_, v)| v);
    let protocol = get("security.protocol").map(|p| p.to_ascii_uppercase());
    if !matches!(protocol.as_deref(), Some("SSL" | "SASL_SSL")) {
        return Ok(None);
    }
    let ca = get("ssl.ca.location").ok_or_else(|| {
        CliError::usage("security.protocol SSL and SASL_SSL need ssl.ca.location (a PEM file)")
    })?;
    let mut roots = RootCertStore::empty();
    for c in certificates(ca, "ssl.ca.location")? {
        roots
            .add(c)
            .map_err(|e| CliError::usage(format!("ssl.ca.location {ca}: {e}")))?;
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(ring_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::failed(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    let config = match (get("ssl.certificate.location"), get("ssl.key.location")) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "ssl.certificate.location")?;
            let key_pem = read(key, "ssl.key.location")?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| CliError::usage(format!("ssl.key.location {key}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CliError::usage(format!("ssl.certificate.location: {e}")))?
        }
        _ => {
            return Err(CliError::usage(
                "ssl.certificate.location and ssl.key.location go together",
            ))
        }
    };
    Ok(Some(Arc::new(config)))
}

/// rustls' *ring* provider, as the broker uses (src/security/tls/material.rs says why: rustls
/// deprecates it for lacking post-quantum key exchange; aws-lc-rs needs cmake and a C build).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn read(path: &str, key: &str) -> CliResult<Vec<u8>> {
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_PEM);
    if too_big {
        return Err(CliError::usage(format!("{key} {path}: over 1 MiB")));
    }
    std::fs::read(path).map_err(|e| CliError::usage(format!("{key} {path}: {e}")))
}

fn certificates(path: &str, key: &str) -> CliResult<Vec<CertificateDer<'static>>> {
    let pem = read(path, key)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::usage(format!("{key} {path}: {e}")))?;
    if certs.is_empty() {
        return Err(CliError::usage(format!("{key} {path}: no certificate")));
    }
    Ok(certs)
}

/// A connection to a broker: plain TCP or TLS over it.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// `sock`, wrapped in TLS with `config` for host `host` when given. The handshake runs at
    /// the first read or write (under the socket's timeouts).
    pub fn new(sock: TcpStream, tls: Option<&Arc<ClientConfig>>, host: &str) -> CliResult<Stream> {
        let Some(config) = tls else {
            return Ok(Stream::Plain(sock));
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| CliError::usage(format!("TLS server name {host}: {e}")))?;
        let conn = ClientConnection::new(config.clone(), name)
            .map_err(|e| CliError::failed(format!("TLS: {e}")))?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
