//! Resource limits against the real broker: idle connections, partial ("slowloris") frames,
//! `max.connections` / `max.connections.per.ip`, the per-core request-byte budget
//! (`queued.max.request.bytes`), the per-core partition limit, and topics whose partitions
//! cannot be opened. Slow and partial clients are hand-made raw TCP frames; everything else
//! uses real clients (librdkafka, Runnel's wire client).

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::{free_port, metrics, Broker};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminOptions, NewPartitions};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;
use runnel_cli::common::ConnArgs;
use runnel_cli::wire::WireClient;

/// An ApiVersions v0 request frame.
fn api_versions() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&7i32.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

fn connect(b: &Broker) -> TcpStream {
    TcpStream::connect(("127.0.0.1", b.port)).expect("connect")
}

/// Sends ApiVersions and reads the whole answer: the connection is accepted and served.
fn served(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if s.write_all(&api_versions()).is_err() {
        return false;
    }
    let mut len = [0u8; 4];
    if s.read_exact(&mut len).is_err() {
        return false;
    }
    let mut body = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut body).is_ok()
}

/// Whether the broker closes `s` before `deadline` (EOF or reset; data is not expected).
fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn start(toml: &str, metrics_port: u16) -> Broker {
    let listen = format!("127.0.0.1:{metrics_port}");
    Broker::start_with_config(toml, &["--cores", "2", "--metrics-listen", &listen])
}

fn counter(port: u16, name: &str, reason: &str) -> f64 {
    metrics::value(&metrics::scrape(port), name, &[("reason", reason)])
}

#[test]
fn idle_connections_are_closed() {
    let mport = free_port();
    let b = start("connections.max.idle.ms = 1000\n", mport);
    let mut silent = connect(&b);
    let mut used = connect(&b);
    assert!(served(&mut used));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(6);
    assert!(closed_by(&mut silent, deadline), "silent connection kept");
    assert!(closed_by(&mut used, deadline), "idle connection kept");
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "closed too early: {:?}",
        t0.elapsed()
    );
    // A connection that keeps talking is not idle.
    let mut busy = connect(&b);
    for _ in 0..6 {
        assert!(served(&mut busy), "an active connection was closed");
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(counter(mport, "runnel_connections_timed_out_total", "idle") >= 2.0);
}

#[test]
fn partial_frames_are_closed_while_others_are_served() {
    let mport = free_port();
    let b = start("runnel.request.read.timeout.ms = 1500\n", mport);
    let bs = b.bootstrap();
    // 200 connections send 21 bytes of a 1000-byte frame, then nothing.
    let mut partial = Vec::new();
    for _ in 0..200 {
        let mut s = connect(&b);
        let mut f = 1000i32.to_be_bytes().to_vec();
        f.extend_from_slice(&api_versions()[4..]);
        f.extend_from_slice(&[0u8; 7]);
        assert_eq!(f.len(), 21);
        s.write_all(&f).unwrap();
        partial.push(s);
    }
    let t0 = Instant::now();
    // A drip-feeding client: one byte every 200 ms keeps the frame going, but not for ever.
    let mut drip = connect(&b);
    drip.write_all(&1000i32.to_be_bytes()).unwrap();
    let mut drip_reader = drip.try_clone().unwrap();
    let dripper = std::thread::spawn(move || {
        for _ in 0..50 {
            if drip.write_all(&[0]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    // Meanwhile a real client produces and consumes.
    client::create_topic(&bs, "ok", 1);
    let msgs: Vec<Msg> = (0..20)
        .map(|i| Msg {
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "ok", &msgs, &[]);
    let got = client::consume(&bs, "ok", &[0], Offset::Beginning, 20, &[]);
    assert_eq!(got.len(), 20);
    let deadline = t0 + Duration::from_secs(8);
    for (i, s) in partial.iter_mut().enumerate() {
        assert!(closed_by(s, deadline), "partial connection {i} kept open");
    }
    assert!(
        closed_by(&mut drip_reader, deadline),
        "drip-fed frame kept open"
    );
    assert!(dripper.join().unwrap(), "the drip feed was never cut off");
    assert!(
        counter(
            mport,
            "runnel_connections_timed_out_total",
            "partial_request"
        ) >= 201.0,
        "timeouts not counted"
    );
}

#[test]
fn max_connections_broker_wide() {
    let mport = free_port();
    let b = start("\"max.connections\" = 4\n", mport);
    std::thread::sleep(Duration::from_millis(300)); // the readiness probe's connection goes
    let mut open: Vec<TcpStream> = (0..4).map(|_| connect(&b)).collect();
    for s in open.iter_mut() {
        assert!(served(s));
    }
    let mut extra = connect(&b);
    assert!(!served(&mut extra), "a fifth connection was served");
    assert!(closed_by(
        &mut extra,
        Instant::now() + Duration::from_secs(3)
    ));
    drop(open.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect(&b);
    assert!(served(&mut again), "a freed place was not given back");
    assert!(
        counter(
            mport,
            "runnel_connections_rejected_total",
            "max_connections"
        ) >= 1.0
    );
}

#[test]
fn max_connections_per_ip() {
    let mport = free_port();
    let b = start("\"max.connections.per.ip\" = 3\n", mport);
    std::thread::sleep(Duration::from_millis(300));
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(&b)).collect();
    for s in open.iter_mut() {
        assert!(served(s));
    }
    let mut extra = connect(&b);
    assert!(
        !served(&mut extra),
        "a fourth connection from one address was served"
    );
    drop(open.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect(&b);
    assert!(served(&mut again));
    assert!(
        counter(
            mport,
            "runnel_connections_rejected_total",
            "max_connections_per_ip"
        ) >= 1.0
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn announced_big_frames_keep_memory_bounded_and_time_out() {
    let mport = free_port();
    let b = start(
        "queued.max.request.bytes = 67108864\nrunnel.request.read.timeout.ms = 4000\n",
        mport,
    );
    let pid = b.child.as_ref().unwrap().id();
    let before = rss_kib(pid);
    // A frame larger than a core's whole budget (but under socket.request.max.bytes) is refused
    // at once.
    let mut huge = connect(&b);
    huge.write_all(&(70i32 << 20).to_be_bytes()).unwrap();
    assert!(
        closed_by(&mut huge, Instant::now() + Duration::from_secs(2)),
        "a frame over the budget was not refused"
    );
    // 150 connections announce 30 MiB frames and push up to 2 MiB each.
    let chunk = vec![7u8; 2 << 20];
    let mut conns = Vec::new();
    let t0 = Instant::now();
    for _ in 0..150 {
        let mut s = connect(&b);
        s.write_all(&(30i32 << 20).to_be_bytes()).unwrap();
        s.set_nonblocking(true).unwrap();
        conns.push((s, 0usize));
    }
    let mut peak = before;
    while t0.elapsed() < Duration::from_secs(3) {
        for (s, sent) in conns.iter_mut() {
            if *sent < chunk.len() {
                if let Ok(n) = s.write(&chunk[*sent..]) {
                    *sent += n;
                }
            }
        }
        peak = peak.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!("RSS before {before} KiB, peak {peak} KiB (+{grown_mib} MiB)");
    assert!(
        grown_mib < 100,
        "RSS grew by {grown_mib} MiB for frames that never completed"
    );
    let deadline = t0 + Duration::from_secs(12);
    for (i, (s, _)) in conns.iter_mut().enumerate() {
        s.set_nonblocking(false).unwrap();
        assert!(closed_by(s, deadline), "connection {i} kept open");
    }
    // The budget is free again: real clients are served.
    let bs = b.bootstrap();
    client::create_topic(&bs, "after", 1);
    let msgs = vec![Msg {
        value: Some(vec![1; 100_000]),
        ..Default::default()
    }];
    client::produce(&bs, "after", &msgs, &[]);
    assert_eq!(
        client::consume(&bs, "after", &[0], Offset::Beginning, 1, &[]).len(),
        1
    );
}

fn wire(b: &Broker) -> WireClient {
    WireClient::connect(&ConnArgs {
        brokers: b.bootstrap(),
        client_properties: vec![],
        timeout: 30,
        command_config: None,
    })
    .expect("connect")
}

fn create(c: &mut WireClient, name: &str, partitions: i32) -> (i16, String) {
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(name.to_string()));
    t.num_partitions = partitions;
    t.replication_factor = 1;
    let r = c
        .send(&CreateTopicsRequest::default().with_topics(vec![t]))
        .unwrap();
    let t = &r.topics[0];
    (
        t.error_code,
        t.error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

fn partitions_of(b: &Broker, topic: &str) -> Option<usize> {
    let c: BaseConsumer = b.client_config().create().unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().len())
}

const INVALID_PARTITIONS: i16 = 37;
const KAFKA_STORAGE_ERROR: i16 = 56;

#[test]
fn partitions_per_core_limit_is_checked_before_answering() {
    let b = start("runnel.topic.partitions.per.core = 10\n", free_port());
    let mut c = wire(&b);
    let (code, msg) = create(&mut c, "too-big", 21);
    assert_eq!(code, INVALID_PARTITIONS, "{msg}");
    assert!(msg.contains("runnel.topic.partitions.per.core"), "{msg}");
    assert_eq!(partitions_of(&b, "too-big"), None);
    assert_eq!(create(&mut c, "fits", 20).0, 0);
    assert_eq!(create(&mut c, "one-more", 1).0, INVALID_PARTITIONS);
    // CreatePartitions is checked too.
    let a = client::admin(&b.bootstrap());
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = futures_lite::future::block_on(
        a.create_partitions([&NewPartitions::new("fits", 21)], &opts),
    )
    .unwrap();
    assert!(
        format!("{:?}", r[0]).contains("InvalidPartitions"),
        "{:?}",
        r[0]
    );
    assert_eq!(partitions_of(&b, "fits"), Some(20));
    // Auto-creation as well: the topic does not appear.
    let consumer: BaseConsumer = b.client_config().create().unwrap();
    let _ = consumer.fetch_metadata(Some("auto-created"), Duration::from_secs(10));
    assert_eq!(partitions_of(&b, "auto-created"), None);
}

#[test]
fn topics_whose_partitions_cannot_open_are_not_created() {
    let b = start("", free_port());
    let mut c = wire(&b);
    // A file where partition 1's directory would go: that partition cannot be opened.
    let block = b.data_dir().join("blocked-1");
    std::fs::write(&block, b"in the way").unwrap();
    let (code, msg) = create(&mut c, "blocked", 3);
    assert_eq!(code, KAFKA_STORAGE_ERROR, "{msg}");
    assert!(msg.contains("could not be opened"), "{msg}");
    assert_eq!(
        partitions_of(&b, "blocked"),
        None,
        "half-created topic advertised"
    );
    assert!(!b.data_dir().join("blocked-0").exists());
    assert!(!b.data_dir().join("blocked-2").exists());
    std::fs::remove_file(&block).unwrap();
    assert_eq!(create(&mut c, "blocked", 3).0, 0);
    // Growing a topic: the new partitions must open too.
    assert_eq!(create(&mut c, "grow", 1).0, 0);
    std::fs::write(b.data_dir().join("grow-2"), b"in the way").unwrap();
    let a = client::admin(&b.bootstrap());
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = futures_lite::future::block_on(
        a.create_partitions([&NewPartitions::new("grow", 3)], &opts),
    )
    .unwrap();
    assert!(
        format!("{:?}", r[0]).contains("KafkaStorageError"),
        "{:?}",
        r[0]
    );
    assert_eq!(partitions_of(&b, "grow"), Some(1));
    std::fs::remove_file(b.data_dir().join("grow-2")).unwrap();
    let r = futures_lite::future::block_on(
        a.create_partitions([&NewPartitions::new("grow", 3)], &opts),
    )
    .unwrap();
    assert!(r[0].is_ok(), "{:?}", r[0]);
    let bs = b.bootstrap();
    let msgs: Vec<Msg> = (0..3)
        .map(|p| Msg {
            partition: Some(p),
            value: Some(b"x".to_vec()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "grow", &msgs, &[]);
    assert_eq!(
        client::consume(&bs, "grow", &[0, 1, 2], Offset::Beginning, 3, &[]).len(),
        3
    );
}
