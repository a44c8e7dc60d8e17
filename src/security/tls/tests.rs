//! TLS tests: settings parsing and refusals, handshakes over loopback with a rustls client
//! (TLS 1.2 and 1.3, mTLS required and requested), the principal of a client certificate,
//! reloading rotated files, and hostile handshakes (plaintext, silence, random bytes).

use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::settings::{Keystore, Protocol, Truststore};
use super::*;

/// A CA and what it signed, as PEM.
struct Pki {
    ca_pem: String,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

/// A certificate with its key, as PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        Pki {
            ca_pem,
            ca_params,
            ca_key,
        }
    }

    /// A certificate for `sans` with subject `dn` (in DER order), signed by this CA.
    fn leaf(&self, sans: &[&str], dn: &[(DnType, &str)]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in dn {
            params.distinguished_name.push(t.clone(), *v);
        }
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn server(&self) -> Leaf {
        self.leaf(
            &["localhost", "127.0.0.1"],
            &[(DnType::CommonName, "broker")],
        )
    }
}

fn settings(server: &Leaf, pki: &Pki, auth: ClientAuth) -> TlsSettings {
    TlsSettings {
        keystore: Keystore::Inline {
            key: server.key.clone(),
            chain: server.cert.clone(),
        },
        truststore: Some(Truststore::Inline(pki.ca_pem.clone())),
        client_auth: auth,
        protocols: vec![Protocol::Tls12, Protocol::Tls13],
        cipher_suites: Vec::new(),
        verify_hostname: true,
        principal_mapping: Default::default(),
    }
}

fn client_config(
    ca_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
    identity: Option<&Leaf>,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(super::material::ring_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => {
            let chain = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::default()
        .make()
        .unwrap()
        .run(f)
}

/// What the server side of one connection saw: the principal, or why the handshake failed.
type Served = Result<String, String>;

/// One connection: the server accepts with `ctx`; the client handshakes with `client`, writes
/// "ping" and reads the server's "pong". Returns what the server saw and whether the client
/// completed its round trip, with the certificate the server presented.
async fn round_trip(
    ctx: Arc<TlsContext>,
    client: Arc<ClientConfig>,
) -> (Served, Result<Vec<u8>, String>) {
    round_trip_to(ctx, client, "localhost").await
}

/// [`round_trip`], the client connecting to the server as `name`.
async fn round_trip_to(
    ctx: Arc<TlsContext>,
    client: Arc<ClientConfig>,
    name: &'static str,
) -> (Served, Result<Vec<u8>, String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = glommio::spawn_local(async move {
        let io = listener.accept().await.unwrap();
        match accept(&ctx, io, Duration::from_secs(5)).await {
            Ok(mut a) => {
                let mut buf = [0u8; 4];
                let _ = a.stream.read_exact(&mut buf).await;
                let _ = a.stream.write_all(b"pong").await;
                let _ = a.stream.flush().await;
                Ok(a.principal.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    });
    let io = TcpStream::connect(addr).await.unwrap();
    let connector = futures_rustls::TlsConnector::from(client);
    let name = ServerName::try_from(name).unwrap();
    let outcome = async {
        let mut s = connector
            .connect(name, io)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"ping").await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        assert_eq!(&buf, b"pong");
        let leaf = s.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        Ok(leaf)
    }
    .await;
    (server.await, outcome)
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn settings_follow_kafka_keys_and_refuse_what_cannot_be_honoured() {
    let keys = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let s = TlsSettings::from_kafka_keys(keys(&[
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", "/etc/runnel/broker.pem"),
    ]))
    .unwrap();
    assert_eq!(s.keystore, Keystore::File("/etc/runnel/broker.pem".into()));
    assert_eq!(s.client_auth, ClientAuth::None);
    assert_eq!(s.protocols, vec![Protocol::Tls12, Protocol::Tls13]);
    assert_eq!(
        s.files(),
        vec![std::path::PathBuf::from("/etc/runnel/broker.pem")]
    );
    let s = TlsSettings::from_kafka_keys(keys(&[
        ("ssl.keystore.location", "k.pem"),
        ("ssl.truststore.location", "ca.pem"),
        ("ssl.client.auth", "required"),
        ("ssl.enabled.protocols", "TLSv1.3"),
    ]))
    .unwrap();
    assert_eq!(s.client_auth, ClientAuth::Required);
    assert_eq!(s.protocols, vec![Protocol::Tls13]);
    assert_eq!(s.truststore, Some(Truststore::File("ca.pem".into())));

    let refused: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("ssl.keystore.location", "k.jks"),
                ("ssl.keystore.type", "JKS"),
            ],
            "only PEM",
        ),
        (
            &[
                ("ssl.keystore.location", "k.pem"),
                ("ssl.key.password", "x"),
            ],
            "encrypted",
        ),
        (&[], "needs ssl.keystore.location"),
        (
            &[("ssl.keystore.location", "k"), ("ssl.keystore.key", "x")],
            "either",
        ),
        (
            &[
                ("ssl.keystore.location", "k"),
                ("ssl.client.auth", "required"),
            ],
            "truststore",
        ),
        (
            &[("ssl.keystore.location", "k"), ("ssl.client.auth", "maybe")],
            "ssl.client.auth",
        ),
        (
            &[
                ("ssl.keystore.location", "k"),
                ("ssl.enabled.protocols", "TLSv1.1"),
            ],
            "TLSv1.1",
        ),
        (
            &[
                ("ssl.keystore.location", "k"),
                ("ssl.enabled.protocols", " "),
            ],
            "no protocol",
        ),
    ];
    for (pairs, why) in refused {
        let err = TlsSettings::from_kafka_keys(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_err();
        assert!(err.0.contains(why), "{pairs:?}: {err}");
    }
}

#[test]
fn key_material_errors_name_the_setting() {
    let pki = Pki::new("ca");
    let server = pki.server();
    let other = pki.server();
    let mut s = settings(&server, &pki, ClientAuth::None);
    s.keystore = Keystore::Inline {
        key: other.key.clone(),
        chain: server.cert.clone(),
    };
    let err = TlsContext::new(s).err().unwrap();
    assert!(err.0.contains("ssl.keystore"), "{err}");
    let mut s = settings(&server, &pki, ClientAuth::None);
    s.keystore = Keystore::File("/nonexistent/broker.pem".into());
    let err = TlsContext::new(s).err().unwrap();
    assert!(err.0.contains("/nonexistent/broker.pem"), "{err}");
    let mut s = settings(&server, &pki, ClientAuth::None);
    s.cipher_suites = vec!["TLS_RSA_WITH_RC4_128_MD5".into()];
    let err = TlsContext::new(s).err().unwrap();
    assert!(err.0.contains("ssl.cipher.suites"), "{err}");
    let mut s = settings(&server, &pki, ClientAuth::None);
    s.keystore = Keystore::Inline {
        key: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
            .into(),
        chain: server.cert.clone(),
    };
    let err = TlsContext::new(s).err().unwrap();
    assert!(err.0.contains("encrypted"), "{err}");
}

#[test]
fn tls_1_2_and_1_3_handshakes_serve_an_anonymous_client() {
    let pki = Pki::new("ca");
    let server = pki.server();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let ctx = Arc::new(TlsContext::new(settings(&server, &pki, ClientAuth::None)).unwrap());
        let client = client_config(&pki.ca_pem, version, None);
        let (served, outcome) = run(round_trip(ctx, client));
        assert_eq!(served, Ok("User:ANONYMOUS".to_string()), "{version:?}");
        assert_eq!(outcome.unwrap(), der_of(&server.cert));
    }
    // Only TLS 1.3 offered: a TLS 1.2 client fails.
    let mut s = settings(&server, &pki, ClientAuth::None);
    s.protocols = vec![Protocol::Tls13];
    let ctx = Arc::new(TlsContext::new(s).unwrap());
    let client = client_config(&pki.ca_pem, &rustls::version::TLS12, None);
    let (served, outcome) = run(round_trip(ctx, client));
    assert!(
        served.is_err() && outcome.is_err(),
        "{served:?} {outcome:?}"
    );
}

#[test]
fn a_client_certificate_is_the_principal_in_rfc_2253_form() {
    let pki = Pki::new("ca");
    let server = pki.server();
    let client = pki.leaf(
        &[],
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc"),
            (DnType::OrganizationalUnitName, "eng"),
            (DnType::CommonName, "client-1"),
        ],
    );
    for auth in [ClientAuth::Required, ClientAuth::Requested] {
        let ctx = Arc::new(TlsContext::new(settings(&server, &pki, auth)).unwrap());
        let cfg = client_config(&pki.ca_pem, &rustls::version::TLS13, Some(&client));
        let (served, outcome) = run(round_trip(ctx, cfg));
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(
            served,
            Ok("User:CN=client-1,OU=eng,O=Acme\\, Inc,C=US".to_string()),
            "{auth:?}"
        );
    }
    // Requested: a client without a certificate is anonymous.
    let ctx = Arc::new(TlsContext::new(settings(&server, &pki, ClientAuth::Requested)).unwrap());
    let cfg = client_config(&pki.ca_pem, &rustls::version::TLS13, None);
    let (served, _) = run(round_trip(ctx, cfg));
    assert_eq!(served, Ok("User:ANONYMOUS".to_string()));
    // Required: no certificate, or one from another CA, fails the handshake.
    let stranger = Pki::new("other").leaf(&[], &[(DnType::CommonName, "mallory")]);
    for identity in [None, Some(&stranger)] {
        let ctx = Arc::new(TlsContext::new(settings(&server, &pki, ClientAuth::Required)).unwrap());
        let cfg = client_config(&pki.ca_pem, &rustls::version::TLS13, identity);
        let (served, outcome) = run(round_trip(ctx, cfg));
        assert!(served.is_err(), "{served:?}");
        assert!(outcome.is_err(), "{outcome:?}");
    }
}

#[test]
fn rotated_files_are_served_without_a_restart_and_a_broken_rotation_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broker.pem");
    let pki = Pki::new("ca");
    let first = pki.server();
    let second = pki.server();
    std::fs::write(&path, format!("{}{}", first.key, first.cert)).unwrap();
    let mut s = settings(&first, &pki, ClientAuth::None);
    s.keystore = Keystore::File(path.clone());
    let ctx = Arc::new(TlsContext::with_check_interval(s, Duration::ZERO).unwrap());
    let cfg = client_config(&pki.ca_pem, &rustls::version::TLS13, None);
    let (_, outcome) = run(round_trip(ctx.clone(), cfg.clone()));
    assert_eq!(outcome.unwrap(), der_of(&first.cert));
    // Rotated: the next connection gets the new certificate.
    std::fs::write(&path, format!("{}{}", second.key, second.cert)).unwrap();
    let (_, outcome) = run(round_trip(ctx.clone(), cfg.clone()));
    assert_eq!(outcome.unwrap(), der_of(&second.cert));
    // A half-written file is not used: the previous certificate stays.
    std::fs::write(&path, &second.key[..second.key.len() / 2]).unwrap();
    let (_, outcome) = run(round_trip(ctx, cfg));
    assert_eq!(outcome.unwrap(), der_of(&second.cert));
}

#[test]
fn plaintext_silent_and_random_clients_fail_cleanly_and_quickly() {
    let pki = Pki::new("ca");
    let server = pki.server();
    let ctx = Arc::new(TlsContext::new(settings(&server, &pki, ClientAuth::None)).unwrap());
    run(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A Kafka ApiVersions v0 request, as a plaintext client sends first.
        let apiversions = vec![0u8, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        let mut inputs = vec![apiversions, Vec::new()];
        for i in 0..120 {
            let mut bytes = random(1 + i % 700);
            if i % 2 == 0 {
                // A plausible record header first: handshake, TLS 1.2, some length.
                bytes.splice(0..0, [22u8, 3, 3, (i % 5) as u8, 0x40]);
            }
            inputs.push(bytes);
        }
        for (i, bytes) in inputs.into_iter().enumerate() {
            let silent = bytes.is_empty();
            let sender = glommio::spawn_local(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let _ = s.write_all(&bytes).await;
                // Hold the connection open until the server gives up on it.
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink).await;
            });
            let io = listener.accept().await.unwrap();
            let started = std::time::Instant::now();
            let limit = Duration::from_millis(150);
            let result = accept(&ctx, io, limit).await;
            match result {
                Err(HandshakeError::Timeout) => assert!(silent || i > 1, "input {i}"),
                Err(_) => assert!(!silent, "input {i}"),
                Ok(_) => panic!("input {i} completed a handshake"),
            }
            assert!(started.elapsed() < Duration::from_secs(2), "input {i}");
            drop(result);
            sender.await;
        }
    });
}

#[test]
fn rfc_2253_escapes_specials() {
    let pki = Pki::new("ca");
    let leaf = pki.leaf(
        &[],
        &[
            (DnType::OrganizationName, " lead"),
            (DnType::CommonName, "a+b;c\"d<e>f\\g#"),
        ],
    );
    let p = principal::from_certificate(&der_of(&leaf.cert)).unwrap();
    assert_eq!(p.name, "CN=a\\+b\\;c\\\"d\\<e\\>f\\\\g#,O=\\ lead");
    assert!(principal::from_certificate(b"not a certificate").is_none());
}

/// The inter-broker client side: a broker's own listener settings make a client that trusts
/// its truststore, presents its certificate (the server sees its subject as the principal),
/// checks the host name unless `ssl.endpoint.identification.algorithm` is empty, and never
/// accepts a server from another CA.
#[test]
fn broker_client_config_verifies_peers_and_presents_its_certificate() {
    let pki = Pki::new("cluster CA");
    let server_leaf = pki.server();
    let ctx =
        Arc::new(TlsContext::new(settings(&server_leaf, &pki, ClientAuth::Required)).unwrap());
    let me = pki.leaf(&["localhost"], &[(DnType::CommonName, "broker-2")]);
    let mut mine = settings(&me, &pki, ClientAuth::Required);
    let client = super::client::client_config(&mine).unwrap();
    let (served, outcome) = run(round_trip_to(ctx.clone(), client.clone(), "localhost"));
    assert_eq!(served.unwrap(), "User:CN=broker-2");
    assert_eq!(outcome.unwrap(), der_of(&server_leaf.cert));
    // The server's certificate does not name this host: refused while names are checked.
    let (_, outcome) = run(round_trip_to(ctx.clone(), client, "elsewhere.example"));
    let err = outcome.unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    mine.verify_hostname = false;
    let lenient = super::client::client_config(&mine).unwrap();
    let (served, outcome) = run(round_trip_to(
        ctx.clone(),
        lenient.clone(),
        "elsewhere.example",
    ));
    assert_eq!(served.unwrap(), "User:CN=broker-2");
    assert!(outcome.is_ok());
    // A server from another CA is refused even without the name check.
    let stranger = Pki::new("stranger CA");
    let stranger_leaf = stranger.server();
    let stranger_ctx =
        Arc::new(TlsContext::new(settings(&stranger_leaf, &stranger, ClientAuth::None)).unwrap());
    let (_, outcome) = run(round_trip_to(stranger_ctx, lenient, "localhost"));
    assert!(outcome.is_err());
    // No truststore: refused when the configuration is made, naming the key.
    mine.truststore = None;
    mine.client_auth = ClientAuth::None;
    let err = super::client::client_config(&mine).unwrap_err();
    assert!(err.0.contains("ssl.truststore.location"), "{err}");
}
