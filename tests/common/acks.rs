//! acks=all helpers of the replication tests (librdkafka through rdkafka): create a
//! three-replica topic, read a partition's leader and ISR, produce one record with acks=all and
//! see what the client reports.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;

use super::client;

/// Creates `name` (one partition, three replicas) with `configs`.
pub fn create(bootstrap: &str, name: &str, configs: &[(&str, &str)]) {
    let a = client::admin(bootstrap);
    let mut t = NewTopic::new(name, 1, TopicReplication::Fixed(3));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = futures_lite::future::block_on(a.create_topics([&t], &opts)).expect("create");
    assert!(r[0].is_ok(), "creating {name}: {:?}", r[0]);
}

/// Leader and ISR (sorted) of partition 0 of `topic` in a fresh client's Metadata.
pub fn leader_isr(bootstrap: &str, topic: &str) -> Option<(i32, Vec<i32>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let t = md.topics().first()?;
    let p = t.partitions().first()?;
    if t.error().is_some() || p.leader() <= 0 {
        return None;
    }
    let mut isr = p.isr().to_vec();
    isr.sort();
    Some((p.leader(), isr))
}

/// Produces one record with acks=all (no retries, `timeout_ms` as the request timeout); the
/// offset or the error librdkafka reports, and how long it took.
pub fn produce_one(
    bootstrap: &str,
    topic: &str,
    timeout_ms: u64,
) -> (Result<i64, KafkaError>, Duration) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("retries", "0")
        .set("request.timeout.ms", timeout_ms.to_string())
        .set("message.timeout.ms", (timeout_ms + 5000).to_string())
        .create()
        .expect("producer");
    // Metadata first, so that the time measured is the produce's.
    p.client()
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let start = Instant::now();
    let rec = FutureRecord::<(), str>::to(topic).payload("v").partition(0);
    let r = futures_lite::future::block_on(p.send(rec, Duration::from_secs(5)));
    (r.map(|d| d.offset).map_err(|(e, _)| e), start.elapsed())
}

/// The librdkafka error code of `r`, if it failed.
pub fn code(r: &Result<i64, KafkaError>) -> Option<RDKafkaErrorCode> {
    r.as_ref().err().and_then(|e| e.rdkafka_error_code())
}
