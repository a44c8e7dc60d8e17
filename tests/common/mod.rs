//! Test harness: starts the real `runnel` binary on a free loopback port with a real data
//! directory, and helpers to drive it with librdkafka (the `rdkafka` crate).
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;

pub mod acks;
pub mod apart;
pub mod cli;
pub mod cluster;
pub mod loopfs;
pub mod metrics;
pub mod raw;

/// A running broker process.
pub struct Broker {
    pub child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub extra: Vec<String>,
    pub log: PathBuf,
    _config: Option<tempfile::NamedTempFile>,
}

/// A loopback port nothing listens on now, for a broker to bind later.
///
/// Ports come from 10000-31999, below Linux's ephemeral range (32768-60999): a port the kernel
/// hands out by itself (a listener bound to port 0, as a single node's controller is, or the
/// source port of an outgoing connection) can then never take a port a test picked but has not
/// bound yet. Parallel tests of one binary walk the range with one counter, and each process
/// starts at its own offset; a port that is taken now is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        // The cluster configs' own defaults (config/cluster/: 19092-19094, 19192-19194,
        // 19644-19646) stay free for anyone running them by hand.
        if (19_000..20_000).contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}-{}", LOW + SPAN - 1);
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_runnel")
}

impl Broker {
    /// Starts a broker with a fresh temporary data directory.
    pub fn start() -> Broker {
        Self::start_with(&[])
    }

    /// Starts a broker with extra command-line arguments.
    pub fn start_with(extra: &[&str]) -> Broker {
        let mut b = Self::start_with_unstarted(extra);
        b.spawn();
        b
    }

    /// Starts a broker whose data directory is `data_dir` (e.g. on a special filesystem).
    pub fn start_at(data_dir: PathBuf, extra: &[&str]) -> Broker {
        let mut b = Self::start_with_unstarted(extra);
        b.data_dir = data_dir;
        b.spawn();
        b
    }

    /// Starts a broker with a configuration file holding `toml` (plus extra arguments).
    pub fn start_with_config(toml: &str, extra: &[&str]) -> Broker {
        let mut b = Self::launch_with_config(toml, extra);
        b.wait_ready();
        b
    }

    /// Starts a broker like [`Broker::start_with_config`] without waiting for it to listen
    /// (brokers of one quorum start together: none listens before the quorum unfences it).
    /// Call [`Broker::wait_ready`] before using it.
    pub fn launch_with_config(toml: &str, extra: &[&str]) -> Broker {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        let path = f.path().to_string_lossy().to_string();
        let mut args: Vec<&str> = vec!["--config", &path];
        args.extend_from_slice(extra);
        let mut b = Self::start_with_unstarted(&args);
        b._config = Some(f);
        b.launch();
        b
    }

    fn start_with_unstarted(extra: &[&str]) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        Broker {
            child: None,
            port: free_port(),
            data_dir,
            log: tmp.path().join("broker.log"),
            _tmp: Some(tmp),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _config: None,
        }
    }

    /// Command line used to start this broker.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra);
        // Many brokers run in parallel: none may claim the default metrics port 9644.
        if !self.extra.iter().any(|a| a.starts_with("--metrics-listen")) {
            c.arg("--metrics-listen").arg("127.0.0.1:0");
        }
        c
    }

    fn spawn(&mut self) {
        self.launch();
        self.wait_ready();
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .command()
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn runnel");
        self.child = Some(child);
    }

    /// Waits until the port accepts connections (bounded).
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("broker exited early with {status}: {}", self.log_text());
                }
            }
            if answers_api_versions(self.port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "broker did not start: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, no chance to sync anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns whether the exit status was success.
    pub fn stop(&mut self) -> bool {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(st)) = c.try_wait() {
                    return st.success();
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        true
    }

    /// Starts the broker again on the same port and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the broker first");
        self.spawn();
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        c
    }
}

/// True when the port answers an ApiVersions request. A plain connect is not enough: right after
/// a kill -9 the dead broker's listening socket lingers for a few milliseconds (held by its
/// io_uring until the kernel tears that down), accepting connections it will then reset.
fn answers_api_versions(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // v0
    body.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    let mut len = [0u8; 4];
    s.write_all(&frame).is_ok() && s.read_exact(&mut len).is_ok()
}

impl Drop for Broker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            for (i, l) in log.lines().enumerate() {
                if l.contains("panicked") || l.contains("ERROR") {
                    eprintln!("broker log line {i}: {l}");
                    if let Some(next) = log.lines().nth(i + 1) {
                        eprintln!("    {next}");
                    }
                }
            }
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- broker log (last 40 lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        self.kill9();
    }
}

pub mod client {
    //! Producing and consuming with librdkafka through the `rdkafka` crate.
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
    use rdkafka::producer::{
        BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
    };
    use rdkafka::{ClientContext, Offset, TopicPartitionList};

    /// A message to send.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Msg {
        pub partition: Option<i32>,
        pub key: Option<Vec<u8>>,
        pub value: Option<Vec<u8>>,
        pub headers: Vec<(String, Option<Vec<u8>>)>,
        pub timestamp: Option<i64>,
    }

    /// A message received.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Got {
        pub partition: i32,
        pub offset: i64,
        pub key: Option<Vec<u8>>,
        pub value: Option<Vec<u8>>,
        pub headers: Vec<(String, Option<Vec<u8>>)>,
        pub timestamp: Option<i64>,
    }

    /// Delivery reports: (message index, result partition/offset or error string).
    #[derive(Clone, Default)]
    pub struct Reports(pub Arc<Mutex<Vec<Report>>>);

    /// One delivery report: message index and (partition, offset) or the error.
    pub type Report = (usize, Result<(i32, i64), String>);

    impl ClientContext for Reports {}
    impl ProducerContext for Reports {
        type DeliveryOpaque = Box<usize>;
        fn delivery(&self, r: &DeliveryResult<'_>, idx: Self::DeliveryOpaque) {
            let res = match r {
                Ok(m) => Ok((m.partition(), m.offset())),
                Err((e, _)) => Err(e.to_string()),
            };
            self.0.lock().unwrap().push((*idx, res));
        }
    }

    pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("admin client")
    }

    /// Creates a topic and asserts success.
    pub fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
        let res = try_create_topic(bootstrap, name, partitions, 1);
        assert_eq!(res, Ok(()), "creating {name}");
    }

    /// Creates a topic with topic-level configs and asserts success.
    pub fn create_topic_with(
        bootstrap: &str,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) {
        let a = admin(bootstrap);
        let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let r = futures_lite::future::block_on(a.create_topics([&t], &opts)).expect("create");
        assert!(r[0].is_ok(), "creating {name}: {:?}", r[0]);
    }

    /// Creates a topic, returning the per-topic error as a string.
    pub fn try_create_topic(
        bootstrap: &str,
        name: &str,
        partitions: i32,
        rf: i32,
    ) -> Result<(), String> {
        let a = admin(bootstrap);
        let t = NewTopic::new(name, partitions, TopicReplication::Fixed(rf));
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let r = futures_lite::future::block_on(a.create_topics([&t], &opts))
            .map_err(|e| e.to_string())?;
        match &r[0] {
            Ok(_) => Ok(()),
            Err((_, code)) => Err(format!("{code:?}")),
        }
    }

    /// Produces `msgs` to `topic`; returns each message's (partition, offset) in input order.
    pub fn produce(
        bootstrap: &str,
        topic: &str,
        msgs: &[Msg],
        extra: &[(&str, &str)],
    ) -> Vec<(i32, i64)> {
        let reports = Reports::default();
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000");
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        let producer: ThreadedProducer<Reports> =
            cfg.create_with_context(reports.clone()).expect("producer");
        for (i, m) in msgs.iter().enumerate() {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &m.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            let mut rec: BaseRecord<'_, [u8], [u8], Box<usize>> =
                BaseRecord::with_opaque_to(topic, Box::new(i));
            if let Some(k) = &m.key {
                rec = rec.key(k.as_slice());
            }
            if let Some(v) = &m.value {
                rec = rec.payload(v.as_slice());
            }
            if let Some(p) = m.partition {
                rec = rec.partition(p);
            }
            if let Some(ts) = m.timestamp {
                rec = rec.timestamp(ts);
            }
            if !m.headers.is_empty() {
                rec = rec.headers(headers);
            }
            let mut rec = rec;
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((e, r)) => {
                        assert!(format!("{e}").contains("Queue full"), "send failed: {e}");
                        rec = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(60)).expect("flush");
        let reps = reports.0.lock().unwrap();
        assert_eq!(
            reps.len(),
            msgs.len(),
            "every message gets a delivery report"
        );
        let mut out = vec![(-1, -1); msgs.len()];
        for (i, r) in reps.iter() {
            match r {
                Ok(po) => out[*i] = *po,
                Err(e) => panic!("delivery of message {i} failed: {e}"),
            }
        }
        out
    }

    /// Consumes `expect` messages from the given partitions starting at `from` (bounded wait).
    pub fn consume(
        bootstrap: &str,
        topic: &str,
        partitions: &[i32],
        from: Offset,
        expect: usize,
        extra: &[(&str, &str)],
    ) -> Vec<Got> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("group.id", "runnel-test-assign")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        let consumer: BaseConsumer = cfg.create().expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            tpl.add_partition_offset(topic, p, from).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut out = Vec::with_capacity(expect);
        let deadline = Instant::now() + Duration::from_secs(120);
        while out.len() < expect {
            assert!(
                Instant::now() < deadline,
                "timed out with {} of {expect} messages",
                out.len()
            );
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                // Transient client-side events (a connection refused while the broker restarts,
                // "all brokers down") are reported as errors; the timeout above bounds them.
                Some(Err(e)) => eprintln!("consumer event: {e}"),
                Some(Ok(m)) => {
                    let headers = m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.map(|v| v.to_vec())))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push(Got {
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(|k| k.to_vec()),
                        value: m.payload().map(|v| v.to_vec()),
                        headers,
                        timestamp: m.timestamp().to_millis(),
                    });
                }
            }
        }
        out
    }

    /// Groups received messages by partition, keeping order.
    pub fn by_partition(got: &[Got]) -> HashMap<i32, Vec<Got>> {
        let mut m: HashMap<i32, Vec<Got>> = HashMap::new();
        for g in got {
            m.entry(g.partition).or_default().push(g.clone());
        }
        m
    }
}
