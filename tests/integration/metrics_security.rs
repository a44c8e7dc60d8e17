//! The HTTP endpoint (/metrics, /health, /ready) over TLS and behind basic authentication: a
//! broker started with `metrics.ssl.*` and `metrics.basic.auth.*` serves HTTPS with the
//! certificate made here, answers 401 with a challenge without the right credentials, serves
//! with them, and gives a plaintext client nothing; a bad keystore stops the broker with a
//! message naming the setting.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{free_port, Broker};
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

/// GET `path` over TLS trusting `cert_der`, with an optional basic `user:password`; returns
/// (status, head and body).
fn https_get(port: u16, cert_der: &[u8], path: &str, auth: Option<&str>) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert_der.to_vec())).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        runnel::security::tls::material::ring_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let header = auth
        .map(|a| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(a)
            )
        })
        .unwrap_or_default();
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{header}\r\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    let _ = tls.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_metrics_endpoint_serves_https_behind_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = dir.path().join("metrics.pem");
    std::fs::write(&pem, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    let port = free_port();
    let toml = format!(
        "metrics.ssl.keystore.location = {:?}\nmetrics.basic.auth.user = \"prom\"\n\
         metrics.basic.auth.password.sha256 = \"{}\"\n",
        pem.to_str().unwrap(),
        sha256_hex("correct horse")
    );
    let listen = format!("--metrics-listen=127.0.0.1:{port}");
    let b = Broker::start_with_config(&toml, &[&listen]);
    assert!(
        b.log_text()
            .contains(&format!("metrics=https://127.0.0.1:{port} (basic auth)")),
        "{}",
        b.log_text()
    );
    let der = cert.der().to_vec();

    let (status, text) = https_get(port, &der, "/metrics", Some("prom:correct horse"));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("runnel_ready"), "{text}");
    let (status, _) = https_get(port, &der, "/health", Some("prom:correct horse"));
    assert_eq!(status, 200);

    for wrong in [None, Some("prom:wrong"), Some("other:correct horse")] {
        let (status, text) = https_get(port, &der, "/metrics", wrong);
        assert_eq!(status, 401, "{wrong:?}: {text}");
        assert!(text.contains("WWW-Authenticate: Basic"), "{text}");
        assert!(!text.contains("runnel_ready"), "{text}");
    }

    // A plaintext HTTP client gets no answer, only a closed connection.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "{answer:?}"
    );
    // The endpoint still serves afterwards.
    assert_eq!(
        https_get(port, &der, "/ready", Some("prom:correct horse")).0,
        200
    );
}

#[test]
fn an_unusable_metrics_keystore_stops_the_broker_naming_the_setting() {
    let out = std::process::Command::new(common::bin())
        .args([
            "--data-dir",
            tempfile::tempdir().unwrap().path().to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--metrics-listen",
            &format!("127.0.0.1:{}", free_port()),
            "--config",
        ])
        .arg({
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(
                f.path(),
                "metrics.ssl.keystore.location = \"/nonexistent/metrics.pem\"\n",
            )
            .unwrap();
            f.into_temp_path().keep().unwrap()
        })
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("metrics.ssl.keystore.location") && text.contains("/nonexistent"),
        "{text}"
    );
}
