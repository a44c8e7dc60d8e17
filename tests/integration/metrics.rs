//! The metrics listener against the real broker: /metrics parses as the Prometheus text format
//! and its counters and gauges follow real librdkafka traffic; /health and /ready answer; bad
//! HTTP requests get errors without harming the broker; a taken or disabled metrics address
//! does not stop the broker.

use crate::common;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::metrics::{get, http_raw, scrape, scrape_until, value};
use common::{free_port, Broker};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn start(metrics_port: u16) -> Broker {
    let listen = format!("127.0.0.1:{metrics_port}");
    Broker::start_with(&["--cores", "2", "--metrics-listen", &listen])
}

#[test]
fn counters_and_gauges_follow_traffic() {
    let mport = free_port();
    let b = start(mport);
    let bs = b.bootstrap();
    scrape_until(mport, "ready", |s| value(s, "runnel_ready", &[]) == 1.0);
    assert_eq!(get(mport, "/ready"), (200, "ready\n".into()));
    assert_eq!(get(mport, "/health"), (200, "ok\n".into()));

    client::create_topic(&bs, "metered", 1);
    let before = scrape(mport);
    let produce = [("api", "Produce")];
    const N: usize = 200;
    let msgs: Vec<Msg> = (0..N)
        .map(|i| Msg {
            value: Some(format!("{i:0100}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "metered", &msgs, &[("acks", "all")]);

    let tp = [("topic", "metered"), ("partition", "0")];
    let s = scrape_until(mport, "high watermark 200", |s| {
        value(s, "runnel_partition_high_watermark", &tp) == N as f64
    });
    assert!(
        value(&s, "runnel_requests_total", &produce)
            > value(&before, "runnel_requests_total", &produce)
    );
    assert!(value(&s, "runnel_request_duration_seconds", &produce) >= 1.0);
    let topic = [("topic", "metered")];
    assert!(value(&s, "runnel_topic_bytes_in_total", &topic) >= (N * 100) as f64);
    assert_eq!(
        value(&s, "runnel_topic_messages_in_total", &topic),
        N as f64
    );
    assert_eq!(value(&s, "runnel_partition_log_end_offset", &tp), N as f64);
    assert_eq!(value(&s, "runnel_partition_log_start_offset", &tp), 0.0);
    assert!(value(&s, "runnel_partition_size_bytes", &tp) >= (N * 100) as f64);
    assert!(
        value(&s, "runnel_fsync_duration_seconds", &[])
            > value(&before, "runnel_fsync_duration_seconds", &[])
    );
    assert!(value(&s, "runnel_connections_accepted_total", &[]) >= 1.0);

    // A group reads 120 records and commits there: its lag is the 80 left.
    let consumer: BaseConsumer = b
        .client_config()
        .set("group.id", "metered-readers")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("metered", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < 120 {
        assert!(Instant::now() < deadline, "read only {read} records");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            assert!(m.payload().is_some());
            read += 1;
        }
    }
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset("metered", 0, Offset::Offset(120))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).unwrap();
    let g = [
        ("group", "metered-readers"),
        ("topic", "metered"),
        ("partition", "0"),
    ];
    let s = scrape_until(mport, "group offset 120", |s| {
        value(s, "runnel_group_committed_offset", &g) == 120.0
    });
    assert_eq!(value(&s, "runnel_group_lag", &g), 80.0);
    assert!(value(&s, "runnel_topic_bytes_out_total", &topic) >= (120 * 100) as f64);
    assert!(value(&s, "runnel_requests_total", &[("api", "Fetch")]) >= 1.0);
    assert!(value(&s, "runnel_requests_total", &[("api", "OffsetCommit")]) >= 1.0);
    drop(consumer);

    // An error code in a response is counted under its API and code.
    let again = client::try_create_topic(&bs, "metered", 1, 1);
    assert!(again.is_err(), "{again:?}");
    let exists = [("api", "CreateTopics"), ("code", "36")]; // TOPIC_ALREADY_EXISTS
    let s = scrape(mport);
    assert_eq!(value(&s, "runnel_request_errors_total", &exists), 1.0);
    // A frame of an API the broker does not know closes its connection and is counted.
    let mut kafka = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    kafka
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let frame = [0, 0, 0, 10, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    kafka.write_all(&frame).unwrap();
    let mut rest = Vec::new();
    let _ = kafka.read_to_end(&mut rest); // closed by the broker
    assert!(rest.is_empty());
    let s = scrape(mport);
    assert_eq!(value(&s, "runnel_requests_dropped_total", &[]), 1.0);
    // Two cores: calls cross the mesh and stall time is being measured on each core.
    assert!(value(&s, "runnel_reactor_stall_seconds", &[("core", "1")]) >= 1.0);
    assert!(s.docs.contains_key("runnel_forwarded_requests_total"));
}

#[test]
fn http_errors_do_not_harm_the_listener_or_the_broker() {
    let mport = free_port();
    let b = start(mport);
    assert_eq!(get(mport, "/nowhere").0, 404);
    assert_eq!(http_raw(mport, b"POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(
        http_raw(mport, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").0,
        400
    );
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(http_raw(mport, huge.as_bytes()).0, 431);
    // A client that connects and sends nothing, or half a line, then goes away.
    drop(TcpStream::connect(("127.0.0.1", mport)).unwrap());
    let mut half = TcpStream::connect(("127.0.0.1", mport)).unwrap();
    half.write_all(b"GET /met").unwrap();
    drop(half);
    // Still serving, and so is the broker.
    let (status, _) = get(mport, "/metrics");
    assert_eq!(status, 200);
    // Ready again at once, or as soon as a core that a loaded machine held back ticks again.
    scrape_until(mport, "runnel_ready 1", |s| {
        value(s, "runnel_ready", &[]) == 1.0
    });
    client::create_topic(&b.bootstrap(), "still-up", 1);
    // HEAD answers the headers only.
    let (status, body) = http_raw(mport, b"HEAD /health HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
}

#[test]
fn a_taken_or_disabled_metrics_address_does_not_stop_the_broker() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let b = start(port);
    client::create_topic(&b.bootstrap(), "fine", 1);
    assert!(
        b.log_text().contains("cannot start the metrics listener"),
        "{}",
        b.log_text()
    );
    drop(b);

    let b = Broker::start_with(&["--metrics-listen", "off"]);
    client::create_topic(&b.bootstrap(), "fine", 1);
    let summary = b
        .log_text()
        .lines()
        .find(|l| l.contains("starting runnel"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(summary.contains("metrics=off"), "{summary}");
    assert!(summary.contains("o_direct="), "{summary}");
}

#[test]
fn prometheus_text_is_well_formed_line_by_line() {
    // Every line is a comment or `name{labels} value`, with a numeric value; the parser above
    // skips lines it cannot read, so check that none exist.
    let mport = free_port();
    let _b = start(mport);
    let (_, body) = get(mport, "/metrics");
    for line in body.as_bytes().lines() {
        let line = line.unwrap();
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP runnel_") || line.starts_with("# TYPE runnel_"),
                "{line}"
            );
            continue;
        }
        let (series, v) = line.rsplit_once(' ').expect("name and value");
        assert!(series.starts_with("runnel_"), "{line}");
        assert!(v.parse::<f64>().is_ok(), "bad value in {line}");
        assert_eq!(
            series.matches('{').count(),
            series.matches('}').count(),
            "{line}"
        );
    }
}

#[test]
fn slow_requests_are_logged_and_counted() {
    // A 1 ms threshold: creating a topic of 32 partitions (files, directory syncs, a broadcast
    // to every core) takes longer than that on any disk.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runnel.toml");
    std::fs::write(&cfg, "runnel.slow.request.warn.ms = 1\n").unwrap();
    let mport = free_port();
    let listen = format!("127.0.0.1:{mport}");
    let b = Broker::start_with(&[
        "--cores",
        "2",
        "--metrics-listen",
        &listen,
        "--config",
        cfg.to_str().unwrap(),
    ]);
    client::create_topic(&b.bootstrap(), "wide", 32);
    let s = scrape(mport);
    assert!(value(&s, "runnel_slow_requests_total", &[]) >= 1.0);
    // Warnings are rate-limited per core, so the CreateTopics line may be folded into an
    // earlier one (a Metadata request just before it): look for any.
    let log = b.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("slow request") && l.contains("elapsed_ms=")),
        "{log}"
    );
}
