//! A failed fsync takes the partition offline: the produce waiting on it gets
//! KAFKA_STORAGE_ERROR (never an acknowledgement), later produces and fetches of that partition
//! get KAFKA_STORAGE_ERROR, other partitions keep working, the log and the metrics say so, and
//! after a restart every acknowledged record is there.
//!
//! The failure is injected: the broker's test-only hook `RUNNEL_FAULT_FSYNC_FAIL=<dir>:<n>`
//! (honoured in debug builds only, see src/storage/fault.rs) makes the n-th segment fdatasync
//! of one partition return EIO. This machine's kernel has neither device-mapper (dm-error,
//! dm-flakey) nor block-layer fault injection, so a real kernel fault cannot be made here.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::metrics::{scrape, scrape_until, value};
use common::{free_port, Broker};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// Acknowledged records before the fault: the fault hits the next group commit.
const ACKED: usize = 5;

#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<Vec<Result<i64, String>>>>);

impl ClientContext for Outcomes {}
impl ProducerContext for Outcomes {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        use rdkafka::Message;
        let o = match r {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        self.0.lock().unwrap().push(o);
    }
}

/// A producer without retries: every delivery report is the broker's own answer.
fn producer(bs: &str) -> (ThreadedProducer<Outcomes>, Outcomes) {
    let out = Outcomes::default();
    let p = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("acks", "all")
        .set("message.send.max.retries", "0")
        .set("message.timeout.ms", "15000")
        .set("linger.ms", "0")
        .create_with_context(out.clone())
        .expect("producer");
    (p, out)
}

/// Sends one record and waits for its delivery report.
fn send_one(
    p: &ThreadedProducer<Outcomes>,
    out: &Outcomes,
    topic: &str,
    v: &str,
) -> Result<i64, String> {
    p.send(BaseRecord::<(), _>::to(topic).partition(0).payload(v))
        .map_err(|(e, _)| e.to_string())?;
    p.flush(Duration::from_secs(30)).expect("flush");
    out.0.lock().unwrap().pop().expect("a delivery report")
}

/// Polls a consumer of `topic` partition 0 from the beginning for `wait`; returns the values.
fn fetch_for(bs: &str, topic: &str, wait: Duration) -> Vec<Vec<u8>> {
    use rdkafka::Message;
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", "fsync-failure")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            got.push(m.payload().unwrap_or_default().to_vec());
        }
    }
    got
}

/// Fetch answers with KAFKA_STORAGE_ERROR (56), as counted by the broker.
fn fetch_storage_errors(port: u16) -> f64 {
    value(
        &scrape(port),
        "runnel_request_errors_total",
        &[("api", "Fetch"), ("code", "56")],
    )
}

#[test]
fn failed_fsync_takes_the_partition_offline_and_loses_no_acknowledged_record() {
    let mport = free_port();
    let metrics = format!("--metrics-listen=127.0.0.1:{mport}");
    // The (ACKED + 1)-th segment fdatasync of partition victim-0 fails.
    std::env::set_var("RUNNEL_FAULT_FSYNC_FAIL", format!("victim-0:{}", ACKED + 1));
    let mut b = Broker::start_with(&[&metrics]);
    std::env::remove_var("RUNNEL_FAULT_FSYNC_FAIL");
    let bs = b.bootstrap();
    client::create_topic(&bs, "victim", 1);
    client::create_topic(&bs, "bystander", 1);
    let (p, out) = producer(&bs);

    let mut acked = Vec::new();
    for i in 0..ACKED {
        let v = format!("acked-{i}");
        let r = send_one(&p, &out, "victim", &v);
        assert_eq!(r, Ok(i as i64), "record {i} before the fault");
        acked.push(v);
    }
    // The produce whose fdatasync fails is refused, never acknowledged.
    let failed = send_one(&p, &out, "victim", "synced-with-error");
    let err = failed.expect_err("a produce whose fsync failed must not be acknowledged");
    assert!(err.contains("KafkaStorageError"), "{err}");
    // The partition stays offline: later produces are refused too.
    for i in 0..3 {
        let r = send_one(&p, &out, "victim", &format!("later-{i}"));
        let err = r.expect_err("a produce to an offline partition must fail");
        assert!(err.contains("KafkaStorageError"), "{err}");
    }
    // Fetches of it are refused (the acknowledged records are not served from memory).
    let before = fetch_storage_errors(mport);
    let got = fetch_for(&bs, "victim", Duration::from_secs(3));
    assert!(
        got.is_empty(),
        "an offline partition served {} records",
        got.len()
    );
    assert!(
        fetch_storage_errors(mport) > before,
        "fetches of the offline partition answer KAFKA_STORAGE_ERROR"
    );
    // Another partition keeps working.
    assert_eq!(send_one(&p, &out, "bystander", "fine"), Ok(0));
    let other = client::consume(&bs, "bystander", &[0], Offset::Beginning, 1, &[]);
    assert_eq!(other[0].value.as_deref(), Some(&b"fine"[..]));
    // The log and the metrics say so.
    let log = b.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("OFFLINE"))
        .unwrap_or_else(|| panic!("no OFFLINE line in the log:\n{log}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("victim-0"), "{line}");
    let s = scrape_until(mport, "runnel_partitions_offline", |s| {
        value(s, "runnel_partitions_offline", &[]) == 1.0
    });
    assert!(value(&s, "runnel_storage_errors_total", &[]) >= 1.0);
    drop(p);

    // After a restart (the fault is gone) every acknowledged record is there, and the
    // partition takes writes again.
    assert!(b.stop(), "clean shutdown with an offline partition");
    b.restart();
    let got = client::consume(&bs, "victim", &[0], Offset::Beginning, ACKED, &[]);
    for (i, v) in acked.iter().enumerate() {
        assert_eq!(got[i].offset, i as i64);
        assert_eq!(got[i].value.as_deref(), Some(v.as_bytes()), "record {i}");
    }
    let more = client::produce(
        &bs,
        "victim",
        &[Msg {
            partition: Some(0),
            value: Some(b"after restart".to_vec()),
            ..Default::default()
        }],
        &[("acks", "all")],
    );
    assert!(more[0].1 >= ACKED as i64, "{more:?}");
    assert_eq!(value(&scrape(mport), "runnel_partitions_offline", &[]), 0.0);
}
