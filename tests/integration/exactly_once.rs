//! Exactly-once end to end: a consume-transform-produce copy of 1,000,000 records with librdkafka
//! transactions (output records and input offsets committed together), while the broker is
//! killed with -9 twice. A read_committed reader of the output then sees every input record
//! exactly once.
//!
//! The copier does what an EOS application does on any error: it drops its producer and
//! consumer and starts again from the committed offsets, with the same transactional id (the
//! new producer fences the old one and aborts its open transaction).

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const RECORDS: usize = 1_000_000;
const PARTITIONS: i32 = 6;
const TXN_RECORDS: usize = 20_000;

/// One copier session: runs until the input is copied (Ok(true)), or fails (Err) on any error.
fn copy_session(bootstrap: &str, copied: &AtomicU64) -> Result<bool, String> {
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", bootstrap)
        .set("group.id", "eos-copier")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50");
    let consumer: BaseConsumer = cc.create().map_err(|e| e.to_string())?;
    let mut pc = rdkafka::ClientConfig::new();
    pc.set("bootstrap.servers", bootstrap)
        .set("transactional.id", "eos-copier-tx")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .set("transaction.timeout.ms", "20000");
    let producer: ThreadedProducer<DefaultProducerContext> =
        pc.create().map_err(|e| e.to_string())?;
    producer
        .init_transactions(Duration::from_secs(20))
        .map_err(|e| format!("init: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition("in", p);
    }
    // Start from the committed offsets (require_stable waits for pending transactional ones).
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(20))
        .map_err(|e| format!("committed: {e}"))?;
    let mut assign = TopicPartitionList::new();
    let mut done_in: u64 = 0;
    // Next input offset per partition (input offsets are contiguous from 0, so their sum is
    // the number of records copied).
    let mut next: std::collections::HashMap<i32, i64> = Default::default();
    for e in committed.elements() {
        let off = match e.offset() {
            Offset::Offset(o) => {
                done_in += o as u64;
                next.insert(e.partition(), o);
                Offset::Offset(o)
            }
            _ => {
                next.insert(e.partition(), 0);
                Offset::Beginning
            }
        };
        assign
            .add_partition_offset("in", e.partition(), off)
            .map_err(|e| e.to_string())?;
    }
    copied.store(done_in, Ordering::SeqCst);
    if done_in as usize >= RECORDS {
        return Ok(true);
    }
    consumer.assign(&assign).map_err(|e| e.to_string())?;
    let group = consumer.group_metadata().ok_or("no group metadata")?;
    loop {
        producer
            .begin_transaction()
            .map_err(|e| format!("begin: {e}"))?;
        let mut n = 0usize;
        let started = Instant::now();
        while n < TXN_RECORDS && started.elapsed() < Duration::from_millis(500) {
            match consumer.poll(Duration::from_millis(50)) {
                None => {}
                Some(Err(e)) => return Err(format!("consume: {e}")),
                Some(Ok(m)) => {
                    let payload = m.payload().unwrap_or_default();
                    let out = [b"copy:".as_slice(), payload].concat();
                    let mut rec = BaseRecord::<[u8], [u8]>::to("out")
                        .payload(&out)
                        .partition(m.partition());
                    loop {
                        match producer.send(rec) {
                            Ok(()) => break,
                            Err((e, r)) => {
                                if !format!("{e}").contains("Queue full") {
                                    return Err(format!("send: {e}"));
                                }
                                rec = r;
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                    next.insert(m.partition(), m.offset() + 1);
                    n += 1;
                }
            }
        }
        if n == 0 {
            producer
                .abort_transaction(Duration::from_secs(20))
                .map_err(|e| format!("abort: {e}"))?;
            if copied.load(Ordering::SeqCst) as usize >= RECORDS {
                return Ok(true);
            }
            continue;
        }
        let mut offsets = TopicPartitionList::new();
        for (&p, &o) in &next {
            offsets
                .add_partition_offset("in", p, Offset::Offset(o))
                .map_err(|e| e.to_string())?;
        }
        producer
            .send_offsets_to_transaction(&offsets, &group, Duration::from_secs(20))
            .map_err(|e| format!("offsets: {e}"))?;
        producer
            .commit_transaction(Duration::from_secs(30))
            .map_err(|e| format!("commit: {e}"))?;
        let total: i64 = next.values().sum();
        copied.store(total as u64, Ordering::SeqCst);
        if total as usize >= RECORDS {
            return Ok(true);
        }
    }
}

#[test]
fn transactional_copy_of_a_million_records_survives_two_kill9() {
    let mut b = Broker::start();
    client::create_topic(&b.bootstrap(), "in", PARTITIONS);
    client::create_topic(&b.bootstrap(), "out", PARTITIONS);
    // The input: record i carries its number.
    {
        let p: ThreadedProducer<DefaultProducerContext> = b
            .client_config()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .unwrap();
        for i in 0..RECORDS {
            let v = format!("{i:07}");
            let mut rec = BaseRecord::<[u8], [u8]>::to("in")
                .payload(v.as_bytes())
                .partition((i % PARTITIONS as usize) as i32);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        rec = r;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
        }
        p.flush(Duration::from_secs(120)).unwrap();
    }

    let copied = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let bootstrap = b.bootstrap();
    let copier = {
        let copied = copied.clone();
        let finished = finished.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(600);
            let mut sessions = 0;
            while Instant::now() < deadline {
                sessions += 1;
                match copy_session(&bootstrap, &copied) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        eprintln!("copier session {sessions} ended: {e}");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
            finished.store(true, Ordering::SeqCst);
            sessions
        })
    };
    // Kill the broker twice while the copy runs.
    for mark in [RECORDS / 3, 2 * RECORDS / 3] {
        let deadline = Instant::now() + Duration::from_secs(300);
        while (copied.load(Ordering::SeqCst) as usize) < mark {
            assert!(Instant::now() < deadline, "copy stalled before {mark}");
            assert!(!finished.load(Ordering::SeqCst), "copier gave up");
            std::thread::sleep(Duration::from_millis(20));
        }
        b.kill9();
        std::thread::sleep(Duration::from_millis(300));
        b.restart();
    }
    let sessions = copier.join().unwrap();
    assert!(sessions >= 2, "the kills interrupted the copier");
    assert!(
        copied.load(Ordering::SeqCst) as usize >= RECORDS,
        "copy did not finish"
    );

    // Every input record exactly once in the output, for a read_committed reader.
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", "eos-verify")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset("out", p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut seen = vec![0u8; RECORDS];
    let mut total = 0usize;
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(5) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let v = std::str::from_utf8(m.payload().unwrap()).unwrap();
            let i: usize = v.strip_prefix("copy:").unwrap().parse().unwrap();
            seen[i] = seen[i].saturating_add(1);
            total += 1;
            last = Instant::now();
        }
    }
    let missing = seen.iter().filter(|&&n| n == 0).count();
    let duplicated = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!(
        (missing, duplicated, total),
        (0, 0, RECORDS),
        "missing / duplicated / total"
    );
}
