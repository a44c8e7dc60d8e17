//! Transactions with librdkafka (the `rdkafka` crate): commit and abort, what read_committed and
//! read_uncommitted consumers see (an open transaction holds read_committed readers back at the
//! last stable offset), fencing of a zombie producer, aborts on transaction.timeout.ms, and
//! offsets committed inside transactions.

use crate::common;

use std::time::{Duration, Instant};

use common::{client, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

type TxProducer = ThreadedProducer<DefaultProducerContext>;

fn tx_producer(b: &Broker, id: &str, extra: &[(&str, &str)]) -> TxProducer {
    let mut cfg = b.client_config();
    cfg.set("transactional.id", id).set("linger.ms", "1");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let p: TxProducer = cfg.create().expect("producer");
    p.init_transactions(Duration::from_secs(30))
        .expect("init_transactions");
    p
}

fn send(p: &TxProducer, topic: &str, value: &str) {
    let mut rec = BaseRecord::<[u8], [u8]>::to(topic).payload(value.as_bytes());
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((_, r)) => {
                rec = r;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Reads every partition of `topic` from the beginning with the given isolation level until
/// nothing new arrives for `idle`; returns the values.
fn drain(b: &Broker, topic: &str, parts: i32, isolation: &str, idle: Duration) -> Vec<String> {
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", format!("drain-{isolation}"))
        .set("isolation.level", isolation)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut last = Instant::now();
    let hard = Instant::now() + Duration::from_secs(60);
    while last.elapsed() < idle && Instant::now() < hard {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap());
            last = Instant::now();
        }
    }
    out
}

#[test]
fn commit_abort_and_isolation_levels() {
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "tx", 3);
    let p = tx_producer(&b, "tx-basic", &[]);
    p.begin_transaction().unwrap();
    for i in 0..100 {
        send(&p, "tx", &format!("committed-{i}"));
    }
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..50 {
        send(&p, "tx", &format!("aborted-{i}"));
    }
    p.flush(Duration::from_secs(30)).unwrap();
    p.abort_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..10 {
        send(&p, "tx", &format!("later-{i}"));
    }
    p.commit_transaction(Duration::from_secs(30)).unwrap();

    let committed = drain(&b, "tx", 3, "read_committed", Duration::from_secs(2));
    assert_eq!(committed.len(), 110, "{committed:?}");
    assert!(committed.iter().all(|v| !v.starts_with("aborted")));
    let all = drain(&b, "tx", 3, "read_uncommitted", Duration::from_secs(2));
    assert_eq!(all.len(), 160);
    assert_eq!(all.iter().filter(|v| v.starts_with("aborted")).count(), 50);

    // An open transaction: read_uncommitted sees its records, read_committed stops before them.
    p.begin_transaction().unwrap();
    for i in 0..20 {
        send(&p, "tx", &format!("open-{i}"));
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let all = drain(&b, "tx", 3, "read_uncommitted", Duration::from_secs(2));
    assert_eq!(all.len(), 180);
    let committed = drain(&b, "tx", 3, "read_committed", Duration::from_secs(2));
    assert_eq!(committed.len(), 110);
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    let committed = drain(&b, "tx", 3, "read_committed", Duration::from_secs(2));
    assert_eq!(committed.len(), 130);
}

#[test]
fn a_new_producer_fences_the_old_one_and_aborts_its_transaction() {
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "fence", 1);
    let old = tx_producer(&b, "fence-me", &[]);
    old.begin_transaction().unwrap();
    send(&old, "fence", "zombie");
    old.flush(Duration::from_secs(30)).unwrap();

    let new = tx_producer(&b, "fence-me", &[]);
    new.begin_transaction().unwrap();
    send(&new, "fence", "fresh");
    new.commit_transaction(Duration::from_secs(30)).unwrap();

    let err = old
        .commit_transaction(Duration::from_secs(30))
        .expect_err("the fenced producer cannot commit");
    match &err {
        KafkaError::Transaction(e) => {
            assert!(e.is_fatal(), "fencing is fatal for the old producer: {e}");
            let code = format!("{:?}", e.code());
            assert!(
                code.contains("Fenced") || code.contains("InvalidProducerEpoch"),
                "{code}"
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    let committed = drain(&b, "fence", 1, "read_committed", Duration::from_secs(2));
    assert_eq!(committed, vec!["fresh".to_string()]);
}

#[test]
fn transactions_past_their_timeout_are_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runnel.toml");
    std::fs::write(
        &cfg,
        "\"transaction.abort.timed.out.transaction.cleanup.interval.ms\" = 200\n",
    )
    .unwrap();
    let b = Broker::start_with(&["--config", cfg.to_str().unwrap()]);
    client::create_topic(&b.bootstrap(), "slow", 1);
    let p = tx_producer(&b, "slow-tx", &[("transaction.timeout.ms", "1500")]);
    p.begin_transaction().unwrap();
    send(&p, "slow", "too-late");
    p.flush(Duration::from_secs(30)).unwrap();
    // The coordinator aborts the transaction: read_committed readers are not held back.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c: BaseConsumer = b.client_config().create().unwrap();
        let (_, high) = c
            .fetch_watermarks("slow", 0, Duration::from_secs(5))
            .unwrap_or((0, 0));
        // The abort marker follows the record.
        if high >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no abort marker written");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(p.commit_transaction(Duration::from_secs(10)).is_err());
    let committed = drain(&b, "slow", 1, "read_committed", Duration::from_secs(2));
    assert!(committed.is_empty(), "{committed:?}");
    assert!(b
        .log_text()
        .contains("aborting transaction past its timeout"));
}

#[test]
fn offsets_committed_in_a_transaction_apply_only_on_commit() {
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "src", 1);
    client::create_topic(&b.bootstrap(), "dst", 1);
    let msgs: Vec<client::Msg> = (0..10)
        .map(|i| client::Msg {
            value: Some(format!("v{i}").into_bytes()),
            partition: Some(0),
            ..Default::default()
        })
        .collect();
    client::produce(&b.bootstrap(), "src", &msgs, &[]);
    let consumer: BaseConsumer = b
        .client_config()
        .set("group.id", "copier")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let p = tx_producer(&b, "copier-tx", &[]);
    let group = consumer.group_metadata().unwrap();
    let committed_offset = |c: &BaseConsumer| -> Offset {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("src", 0);
        let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        got.find_partition("src", 0).unwrap().offset()
    };
    for (commit, offset) in [(false, 4), (true, 7)] {
        p.begin_transaction().unwrap();
        send(&p, "dst", &format!("copy-{offset}"));
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("src", 0, Offset::Offset(offset))
            .unwrap();
        p.send_offsets_to_transaction(&tpl, &group, Duration::from_secs(30))
            .unwrap();
        if commit {
            p.commit_transaction(Duration::from_secs(30)).unwrap();
            assert_eq!(committed_offset(&consumer), Offset::Offset(7));
        } else {
            p.abort_transaction(Duration::from_secs(30)).unwrap();
            assert_eq!(committed_offset(&consumer), Offset::Invalid);
        }
    }
    // The committed offset survives a restart (replayed with its marker).
    let mut b = b;
    drop(consumer);
    assert!(b.stop());
    b.restart();
    let c2: BaseConsumer = b
        .client_config()
        .set("group.id", "copier")
        .create()
        .unwrap();
    assert_eq!(committed_offset(&c2), Offset::Offset(7));
}
