//! Security against the real broker: SCRAM users managed with `runnel user` (salted
//! client-side, stored in the controller quorum's metadata log), kept across a restart, with
//! Kafka's errors for bad requests.

use crate::common;

use common::cli::{cli_in, fails, ok, rows_starting};
use common::Broker;

/// The (mechanism, iterations) rows `runnel user list` prints for `user`.
fn listed(b: &Broker, user: &str) -> Vec<(String, String)> {
    let out = ok(b, &["user", "list"]);
    rows_starting(&out, user)
        .into_iter()
        .map(|r| (r[1].to_string(), r[2].to_string()))
        .collect()
}

#[test]
fn user_create_list_delete_and_restart() {
    let mut b = Broker::start();
    let out = ok(
        &b,
        &[
            "user",
            "create",
            "alice",
            "--password",
            "alice-secret",
            "--mechanism",
            "SCRAM-SHA-512",
        ],
    );
    assert!(out.contains("SCRAM-SHA-512 credential set"), "{out}");
    ok(
        &b,
        &[
            "user",
            "create",
            "bob",
            "--password",
            "pw",
            "--iterations",
            "4096",
        ],
    );
    assert_eq!(
        listed(&b, "alice"),
        vec![("SCRAM-SHA-512".to_string(), "8192".to_string())]
    );
    assert_eq!(
        listed(&b, "bob"),
        vec![
            ("SCRAM-SHA-256".to_string(), "4096".to_string()),
            ("SCRAM-SHA-512".to_string(), "4096".to_string())
        ]
    );
    // Kafka's errors, named.
    fails(&b, &["user", "list", "nobody"], 1, "RESOURCE_NOT_FOUND");
    fails(&b, &["user", "delete", "nobody"], 1, "RESOURCE_NOT_FOUND");
    fails(
        &b,
        &["user", "delete", "alice", "--mechanism", "SCRAM-SHA-256"],
        1,
        "RESOURCE_NOT_FOUND",
    );
    fails(
        &b,
        &[
            "user",
            "create",
            "carol",
            "--password",
            "x",
            "--iterations",
            "100",
        ],
        2,
        "4096..16384",
    );

    // Deletion of one mechanism, then of every remaining one.
    ok(
        &b,
        &["user", "delete", "bob", "--mechanism", "SCRAM-SHA-256"],
    );
    assert_eq!(
        listed(&b, "bob"),
        vec![("SCRAM-SHA-512".to_string(), "4096".to_string())]
    );
    ok(&b, &["user", "delete", "bob"]);
    assert!(listed(&b, "bob").is_empty());

    // Credentials live in the metadata log: they survive a restart.
    assert!(b.stop());
    b.restart();
    assert_eq!(
        listed(&b, "alice"),
        vec![("SCRAM-SHA-512".to_string(), "8192".to_string())]
    );
    assert!(listed(&b, "bob").is_empty());
}

/// A broker with a PLAINTEXT listener (the harness's port) and a SASL_PLAINTEXT one; returns
/// it and the SASL port.
fn sasl_broker(mechanisms: &str) -> (Broker, u16) {
    let sasl = common::free_port();
    let toml = format!(
        "listeners = \"PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:{sasl}\"\n\
         listener.name.sasl_plaintext.sasl.enabled.mechanisms = \"{mechanisms}\"\n"
    );
    (Broker::start_with_config(&toml, &[]), sasl)
}

fn plain_client(port: u16, password: &str) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "carol")
        .set("sasl.password", password);
    c
}

/// librdkafka (PLAIN; the `rdkafka` crate is built without OpenSSL, so without SCRAM) logs
/// in, produces and reads back over the SASL listener, which Metadata advertises to it; a
/// wrong password and a request before authentication end the connection.
#[test]
fn plain_login_over_a_sasl_listener() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    use rdkafka::Message;
    use rdkafka::Offset;
    use std::io::{Read, Write};
    use std::time::Duration;

    let (b, sasl) = sasl_broker("PLAIN");
    ok(&b, &["user", "create", "carol", "--password", "carol-pw"]);

    let producer: ThreadedProducer<DefaultProducerContext> =
        plain_client(sasl, "carol-pw").create().unwrap();
    let md = producer
        .client()
        .fetch_metadata(None, Duration::from_secs(20))
        .unwrap();
    let brokers: Vec<(String, i32)> = md
        .brokers()
        .iter()
        .map(|x| (x.host().to_string(), x.port()))
        .collect();
    assert_eq!(brokers, vec![("127.0.0.1".to_string(), sasl as i32)]);
    producer
        .send(BaseRecord::<(), _>::to("secure").payload("over sasl"))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(20)).unwrap();
    let consumer: BaseConsumer = plain_client(sasl, "carol-pw")
        .set("group.id", "g")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("secure", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let got = common::cluster::within(
        "the record over SASL",
        Duration::from_secs(20),
        || match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => m.payload().map(|p| p.to_vec()),
            _ => None,
        },
        |_| true,
    );
    assert_eq!(got, b"over sasl");

    // A wrong password: librdkafka reports an authentication error (the broker's
    // SASL_AUTHENTICATION_FAILED) at once.
    let start = std::time::Instant::now();
    let errors = Errors::default();
    let bad: BaseConsumer<Errors> = plain_client(sasl, "wrong")
        .create_with_context(errors)
        .unwrap();
    assert!(bad.fetch_metadata(None, Duration::from_secs(5)).is_err());
    // Errors reach the context on poll.
    while bad.context().0.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(8) {
        let _ = bad.poll(Duration::from_millis(100));
    }
    let seen = bad.context().0.lock().unwrap().clone();
    assert!(
        seen.iter().any(|e| e.contains("Authentication")),
        "{seen:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(8));

    // Metadata v0 before authenticating: the connection is closed without an answer.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sasl)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&7i32.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    s.write_all(&frame).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        s.read(&mut buf).unwrap_or(0),
        0,
        "answered before authentication"
    );

    // The listener offers only what listener.name.sasl_plaintext.sasl.enabled.mechanisms
    // lists: SCRAM-SHA-512 is answered UNSUPPORTED_SASL_MECHANISM (33) with the list, and the
    // connection closes.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sasl)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mech = b"SCRAM-SHA-512";
    let mut body = Vec::new();
    body.extend_from_slice(&17i16.to_be_bytes()); // SaslHandshake
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&8i32.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    body.extend_from_slice(&(mech.len() as i16).to_be_bytes());
    body.extend_from_slice(mech);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    s.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut answer = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut answer).unwrap();
    // correlation id, error code, mechanisms array of one: "PLAIN".
    assert_eq!(&answer[..6], &[0, 0, 0, 8, 0, 33]);
    assert_eq!(
        &answer[6..],
        &[0, 0, 0, 1, 0, 5, b'P', b'L', b'A', b'I', b'N']
    );
    assert_eq!(
        s.read(&mut buf).unwrap_or(0),
        0,
        "still open after a refused mechanism"
    );

    // The PLAINTEXT listener still serves anonymous clients.
    ok(&b, &["topic", "list"]);
}

/// `runnel user` (the wire client) and `runnel topic` (librdkafka) log in to a SASL listener
/// with a `--command-config` properties file in Kafka's form or with `-X` properties: SCRAM-SHA-512,
/// SCRAM-SHA-256 and PLAIN; a wrong password fails with the broker's error, and no login at all
/// is refused.
#[test]
fn user_commands_over_a_sasl_listener() {
    let (b, sasl) = sasl_broker("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512");
    ok(&b, &["user", "create", "admin", "--password", "admin-pw"]);
    let at = format!("127.0.0.1:{sasl}");
    let dir = tempfile::tempdir().unwrap();
    let props = |mechanism: &str, password: &str| {
        let path = dir
            .path()
            .join(format!("{mechanism}-{password}.properties"));
        std::fs::write(
            &path,
            format!(
                "# as for kafka-configs --command-config\n\
                 security.protocol=SASL_PLAINTEXT\n\
                 sasl.mechanism={mechanism}\n\
                 sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n\
                 \x20   required username=\"admin\" password=\"{password}\";\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let scram512 = props("SCRAM-SHA-512", "admin-pw");
    let run = |args: &[&str]| cli_in(&at, args, "");

    let out = run(&[
        "user",
        "create",
        "dave",
        "--password",
        "dave-pw",
        "--command-config",
        &scram512,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let x = |mechanism: &'static str| -> Vec<&'static str> {
        vec![
            "-X",
            "security.protocol=SASL_PLAINTEXT",
            "-X",
            mechanism,
            "-X",
            "sasl.username=admin",
            "-X",
            "sasl.password=admin-pw",
        ]
    };
    let mut args = vec!["user", "list"];
    args.extend(x("sasl.mechanism=SCRAM-SHA-256"));
    let out = run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(rows_starting(&out.stdout, "dave").len(), 2, "{out:?}");
    let mut args = vec!["user", "delete", "dave", "--mechanism", "SCRAM-SHA-256"];
    args.extend(x("sasl.mechanism=PLAIN"));
    let out = run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        rows_starting(&ok(&b, &["user", "list"]), "dave").len(),
        1,
        "one credential left"
    );

    // librdkafka-based commands take the same file (PLAIN: the rdkafka crate here has no SCRAM).
    let plain = props("PLAIN", "admin-pw");
    let out = run(&["topic", "create", "over-sasl", "--command-config", &plain]);
    assert_eq!(out.code, 0, "{out:?}");

    // A wrong password: the broker's SASL_AUTHENTICATION_FAILED, exit code 1.
    let wrong = props("SCRAM-SHA-512", "nope");
    let out = run(&["user", "list", "--command-config", &wrong]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("SASL_AUTHENTICATION_FAILED"), "{out:?}");
    // No login on a SASL listener: the broker closes the connection at the first request.
    let out = run(&["user", "list"]);
    assert_ne!(out.code, 0, "{out:?}");
    // A mechanism the CLI does not speak is a usage error.
    let out = run(&[
        "user",
        "list",
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanism=GSSAPI",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
}

/// `runnel user` over SASL_SSL: TLS trusting the CA of `ssl.ca.location` (the broker's
/// certificate names 127.0.0.1), then a SCRAM-SHA-512 login; a CA that did not sign the
/// broker's certificate fails the TLS handshake.
#[test]
fn user_commands_over_sasl_ssl() {
    use rcgen::{CertificateParams, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let keystore = dir.path().join("broker.pem");
    std::fs::write(&keystore, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, other.pem()).unwrap();

    let port = common::free_port();
    let toml = format!(
        "listeners = \"PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:{port}\"\n\
         ssl.keystore.location = {:?}\n",
        keystore.to_str().unwrap()
    );
    let b = Broker::start_with_config(&toml, &[]);
    ok(&b, &["user", "create", "admin", "--password", "admin-pw"]);
    let at = format!("127.0.0.1:{port}");
    let run = |ca: &std::path::Path, args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for p in [
            "security.protocol=SASL_SSL".to_string(),
            "sasl.mechanism=SCRAM-SHA-512".to_string(),
            "sasl.username=admin".to_string(),
            "sasl.password=admin-pw".to_string(),
            format!("ssl.ca.location={}", ca.display()),
        ] {
            all.push("-X".into());
            all.push(p);
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        cli_in(&at, &all, "")
    };
    let out = run(&ca, &["user", "create", "erin", "--password", "erin-pw"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run(&ca, &["user", "list", "erin"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(rows_starting(&out.stdout, "erin").len(), 2, "{out:?}");
    let out = run(&wrong_ca, &["user", "list"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.to_lowercase().contains("certificate"), "{out:?}");
}

/// The errors librdkafka reports to the application.
#[derive(Default)]
struct Errors(std::sync::Mutex<Vec<String>>);

impl rdkafka::ClientContext for Errors {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.0.lock().unwrap().push(format!("{error:?}: {reason}"));
    }
}

impl rdkafka::consumer::ConsumerContext for Errors {}
