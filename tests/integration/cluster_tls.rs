//! The controller quorum over mutual TLS (`CONTROLLER:SSL`), with the real binary on loopback
//! and certificates made here with rcgen: three combined nodes form a quorum over TLS and
//! serve librdkafka; a broker without a controller joins through the remote-quorum client with
//! its own certificate. Strangers on a controller port are refused and change nothing: plain
//! bytes, a TLS client with no certificate, one with a certificate from another CA, one with a
//! valid certificate whose principal is not a super user (an authorizer is on), and a silent
//! connection (closed by the handshake deadline). Each of the TLS strangers sends a real
//! controller frame proposing a topic; none is applied, while the same frame from a super
//! user's connection is. A `SASL_SSL` controller listener and `ssl.client.auth = none` on it
//! stop the broker at startup with the key named.

use crate::common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::cluster::{config as cluster_config, until_some as until};
use common::raw::Conn;
use common::{free_port, Broker};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rdkafka::Offset;
use runnel_controller::network::Connection;
use runnel_controller::wire::{Request, Response};
use runnel_controller::{ControllerError, RecordBatch, TlsTransport, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA that signs the test's certificates.
struct Pki {
    ca_pem: String,
    params: CertificateParams,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            ca_pem,
            params,
            key,
        }
    }

    /// A certificate for localhost and 127.0.0.1 with subject `CN=<cn>`.
    fn leaf(&self, cn: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        let issuer = Issuer::from_params(&self.params, &self.key);
        Leaf {
            cert: params.signed_by(&key, &issuer).unwrap().pem(),
            key: key.serialize_pem(),
        }
    }
}

/// The key material of one cluster: the CA file and a keystore file per node.
struct Material {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    pki: Pki,
}

impl Material {
    fn new() -> Material {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new("runnel-test-ca");
        std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
        Material {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            pki,
        }
    }

    /// The keystore file (key and certificate in one PEM) of `CN=<cn>`.
    fn keystore(&self, cn: &str) -> PathBuf {
        let leaf = self.pki.leaf(cn);
        let path = self.dir.join(format!("{cn}.pem"));
        std::fs::write(&path, format!("{}{}", leaf.key, leaf.cert)).unwrap();
        path
    }

    fn truststore(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// The lines that put a node's controller listener on mutual TLS, with an authorizer whose
/// super users are the four nodes (and that lets anyone do what no ACL covers, so that the
/// PLAINTEXT client listener stays open to the test's clients).
fn tls_lines(keystore: &Path, truststore: &Path) -> String {
    format!(
        "listener.security.protocol.map = \"CONTROLLER:SSL,PLAINTEXT:PLAINTEXT\"\n\
         listener.name.controller.ssl.keystore.location = \"{}\"\n\
         listener.name.controller.ssl.truststore.location = \"{}\"\n\
         authorizer.class.name = \"org.apache.kafka.metadata.authorizer.StandardAuthorizer\"\n\
         super.users = \"User:CN=broker-1;User:CN=broker-2;User:CN=broker-3;User:CN=broker-4\"\n\
         allow.everyone.if.no.acl.found = true\n",
        keystore.display(),
        truststore.display()
    )
}

fn node_config(n: usize, ctl: &[u16; 3], m: &Material) -> String {
    cluster_config(n, ctl) + &tls_lines(&m.keystore(&format!("broker-{n}")), &m.truststore())
}

/// Broker 4: broker 1's file with another node.id, the broker role only, no controller
/// listener, and its own certificate.
fn broker_only_config(ctl: &[u16; 3], m: &Material) -> String {
    let text: String = cluster_config(1, ctl)
        .replace("node.id = 1\n", "node.id = 4\n")
        .replace(
            "process.roles = \"broker,controller\"",
            "process.roles = \"broker\"",
        )
        .lines()
        .filter(|l| !l.starts_with("listeners"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(text.contains("node.id = 4\n") && text.contains("process.roles = \"broker\""));
    text + &tls_lines(&m.keystore("broker-4"), &m.truststore())
}

/// Metadata v12 from `b`: the listed broker ids and the names of `topics` that exist.
fn metadata(b: &Broker, topics: &[&str]) -> Option<(BTreeSet<i32>, BTreeSet<String>)> {
    TcpStream::connect(("127.0.0.1", b.port)).ok()?;
    let mut conn = Conn::open(b);
    let mut req = MetadataRequest::default();
    req.topics = Some(
        topics
            .iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.to_string())));
                mt
            })
            .collect(),
    );
    req.allow_auto_topic_creation = false;
    let r = conn.try_call(&req, 12)?;
    let brokers = r.brokers.iter().map(|b| b.node_id.0).collect();
    let present = r
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect();
    Some((brokers, present))
}

/// A rustls client configuration trusting `ca_pem`, presenting `identity` if any.
#[allow(deprecated)] // ring's provider: the one the broker uses (src/security/tls/material.rs)
fn client_tls(ca_pem: &str, identity: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    Arc::new(match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => {
            let chain = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    })
}

fn tls_transport(config: Arc<rustls::ClientConfig>) -> Transport {
    Transport::Tls(Arc::new(TlsTransport {
        server: None,
        client: config,
        server_names: Default::default(),
        authorize: None,
    }))
}

/// What became of a proposal sent to one voter.
#[derive(Debug)]
enum Outcome {
    /// The connection failed or was closed before any answer.
    Closed(String),
    /// The voter answered (it took the frame).
    Answered(Result<u64, ControllerError>),
}

/// Sends a controller frame proposing topic `name` (one partition on broker 1) to `addr` over
/// `transport`, with the controllers' own client.
fn propose(rt: &tokio::runtime::Runtime, addr: SocketAddr, t: &Transport, name: &str) -> Outcome {
    rt.block_on(async {
        let mut conn = match Connection::open(addr, t).await {
            Ok(c) => c,
            Err(e) => return Outcome::Closed(e.to_string()),
        };
        let batch = RecordBatch::create_topic(name, uuid::Uuid::new_v4(), &[vec![1]], &[]);
        match conn
            .call(&Request::Propose(batch), Duration::from_secs(15))
            .await
        {
            Ok(Response::Propose(r)) => Outcome::Answered(r),
            Ok(other) => Outcome::Closed(format!("an answer of another kind: {other:?}")),
            Err(e) => Outcome::Closed(e.to_string()),
        }
    })
}

/// True when the peer closed `s` (EOF or reset) within its read timeout, sending nothing.
fn closed_silently(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // A TLS alert is all a refused client may get.
            Ok(n) if buf[0] == 0x15 && n <= 7 => continue,
            Ok(_) => return false,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                )
            }
        }
    }
}

#[test]
fn a_quorum_over_mutual_tls_serves_clients_and_refuses_strangers() {
    let m = Material::new();
    let ctl = [free_port(), free_port(), free_port()];
    let voters: Vec<SocketAddr> = ctl
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    let mut brokers: Vec<Broker> = (1..=3)
        .map(|n| Broker::launch_with_config(&node_config(n, &ctl, &m), &["--cores", "1"]))
        .collect();
    for b in &mut brokers {
        b.wait_ready();
    }
    // A silent stranger, opened first: the handshake deadline (10 s) closes it.
    let silent = {
        let mut s = TcpStream::connect(voters[0]).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let since = Instant::now();
        std::thread::spawn(move || (closed_silently(&mut s), since.elapsed()))
    };

    // A broker without a controller joins with its own certificate, through the voters' TLS.
    let mut b4 = Broker::launch_with_config(&broker_only_config(&ctl, &m), &["--cores", "1"]);
    b4.wait_ready();
    let four: BTreeSet<i32> = [1, 2, 3, 4].into();
    for b in brokers.iter().chain(std::iter::once(&b4)) {
        until(
            "Metadata lists four brokers",
            || metadata(b, &[]),
            |l| l.0 == four,
        );
    }

    // librdkafka creates, produces and consumes (through a combined node and broker 4).
    client::create_topic(&brokers[0].bootstrap(), "secure", 3);
    until(
        "broker 4 sees the topic",
        || metadata(&b4, &["secure"]),
        |l| l.1.contains("secure"),
    );
    let msgs: Vec<Msg> = (0..30)
        .map(|i| Msg {
            partition: Some(i % 3),
            value: Some(format!("m{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    assert_eq!(
        client::produce(&b4.bootstrap(), "secure", &msgs, &[("acks", "all")]).len(),
        30
    );
    let got = client::consume(
        &brokers[1].bootstrap(),
        "secure",
        &[0, 1, 2],
        Offset::Beginning,
        30,
        &[],
    );
    assert_eq!(got.len(), 30);

    // Strangers on every voter's port.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other_ca = Pki::new("another-ca");
    let strangers: Vec<(&str, Transport)> = vec![
        ("plaintext", Transport::Plaintext),
        (
            "no certificate",
            tls_transport(client_tls(&m.pki.ca_pem, None)),
        ),
        (
            "another CA's certificate",
            tls_transport(client_tls(&m.pki.ca_pem, Some(&other_ca.leaf("broker-1")))),
        ),
        (
            "not a super user",
            tls_transport(client_tls(&m.pki.ca_pem, Some(&m.pki.leaf("intruder")))),
        ),
    ];
    for (i, (who, t)) in strangers.iter().enumerate() {
        for (v, addr) in voters.iter().enumerate() {
            match propose(&rt, *addr, t, &format!("stolen-{i}-{v}")) {
                Outcome::Closed(why) => eprintln!("{who} to voter {}: closed ({why})", v + 1),
                answered => panic!("{who} to voter {}: {answered:?}", v + 1),
            }
        }
    }
    // Garbage bytes, and a Kafka request, on a TLS port: closed, nothing answered.
    for bytes in [
        &b"\x16\x03\x01\xff\xff garbage"[..],
        &b"\x00\x00\x00\x0aGET / HTTP"[..],
    ] {
        let mut s = TcpStream::connect(voters[1]).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(bytes).unwrap();
        assert!(closed_silently(&mut s), "{bytes:?}");
    }
    let log = brokers[0].log_text();
    assert!(
        log.contains("is not one of super.users") && log.contains("TLS handshake failed"),
        "{log}"
    );

    // The same frame from a super user's connection is applied (by the leader); the
    // strangers' never were.
    let legit = tls_transport(client_tls(&m.pki.ca_pem, Some(&m.pki.leaf("broker-1"))));
    let answers: Vec<Outcome> = voters
        .iter()
        .map(|a| propose(&rt, *a, &legit, "granted"))
        .collect();
    assert!(
        answers
            .iter()
            .any(|o| matches!(o, Outcome::Answered(Ok(_)))),
        "{answers:?}"
    );
    let mut asked: Vec<String> = vec!["granted".into()];
    for i in 0..strangers.len() {
        for v in 0..voters.len() {
            asked.push(format!("stolen-{i}-{v}"));
        }
    }
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    for b in brokers.iter().chain(std::iter::once(&b4)) {
        let (_, present) = until(
            "the super user's topic appears",
            || metadata(b, &asked),
            |l| l.1.contains("granted"),
        );
        assert_eq!(
            present,
            ["granted".to_string()].into(),
            "only the super user's topic"
        );
    }

    // The silent stranger was closed by the handshake deadline.
    let (closed, held) = silent.join().unwrap();
    assert!(closed, "the silent connection was closed");
    assert!(
        held >= Duration::from_secs(9) && held < Duration::from_secs(20),
        "{held:?}"
    );

    // The quorum is unharmed: it still takes writes.
    assert_eq!(
        client::produce(&brokers[2].bootstrap(), "secure", &msgs[..3], &[]).len(),
        3
    );
    for b in brokers.iter().chain(std::iter::once(&b4)) {
        assert!(!b.log_text().contains("panicked"), "{}", b.log_text());
    }
}

/// Starts the binary with `toml` and returns what it printed; it must exit with an error
/// within 30 s.
fn refused_at_startup(toml: &str) -> String {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), toml).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::bin())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--metrics-listen", "127.0.0.1:0", "--config"])
        .arg(f.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the broker started with {toml}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success());
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn sasl_and_optional_client_certificates_on_the_controller_listener_are_refused() {
    let ctl = [free_port(), free_port(), free_port()];
    let sasl = cluster_config(1, &ctl)
        + "listener.security.protocol.map = \"CONTROLLER:SASL_SSL,PLAINTEXT:PLAINTEXT\"\n";
    let text = refused_at_startup(&sasl);
    assert!(
        text.contains("listener.security.protocol.map")
            && text.contains("SASL is not supported on the controller listener"),
        "{text}"
    );
    let m = Material::new();
    for auth in ["none", "requested"] {
        let cfg = node_config(1, &ctl, &m)
            + &format!("listener.name.controller.ssl.client.auth = \"{auth}\"\n");
        let text = refused_at_startup(&cfg);
        assert!(
            text.contains("listener.name.controller.ssl.client.auth")
                && text.contains("requires client certificates"),
            "{text}"
        );
    }
}
