//! kafkajs reads back every batch Runnel accepted (issue 16's acceptance: no consumer stalls
//! silently). librdkafka produces plain and gzip batches with keys, null keys, tombstones,
//! headers and large values, a committed and an aborted transaction; then kafkajs (tests/js,
//! `npm ci` by `.ci/run`) produces its own plain and gzip batches and reads the whole topic back
//! through a consumer group. Without node or the installed package this test fails and says so.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use common::client::{create_topic, produce, Msg};
use common::Broker;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

/// What is compared of a record: key, the value's first 32 characters (None: null), length.
type Seen = (Option<String>, Option<String>, i64);

fn msg(key: Option<String>, value: Option<Vec<u8>>, idx: usize) -> Msg {
    Msg {
        key: key.map(String::into_bytes),
        value,
        headers: vec![("idx".into(), Some(idx.to_string().into_bytes()))],
        ..Default::default()
    }
}

fn summary(key: &Option<Vec<u8>>, value: &Option<Vec<u8>>) -> Seen {
    let k = key
        .as_ref()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    match value {
        None => (k, None, -1),
        Some(v) => {
            let s = String::from_utf8_lossy(&v[..v.len().min(32)]).into_owned();
            (k, Some(s), v.len() as i64)
        }
    }
}

/// librdkafka's records: plain and gzip batches, null keys, tombstones, large values.
fn librdkafka_records(bootstrap: &str, topic: &str) -> Vec<Seen> {
    let mut expected = Vec::new();
    for codec in ["none", "gzip"] {
        let msgs: Vec<Msg> = (0..200)
            .map(|i| {
                let v = format!("rk-{codec}-{i}");
                let key = (i % 10 != 0).then(|| v.clone());
                let value = (i % 25 != 7).then(|| v.clone().into_bytes());
                msg(key, value, i)
            })
            .collect();
        expected.extend(msgs.iter().map(|m| summary(&m.key, &m.value)));
        produce(
            bootstrap,
            topic,
            &msgs,
            &[("compression.type", codec), ("acks", "all")],
        );
    }
    let big: Vec<Msg> = (0..5)
        .map(|i| {
            let mut v = format!("big-{i}-").into_bytes();
            v.resize(200_000 + i * 1000, b'x');
            msg(Some(format!("big-{i}")), Some(v), i)
        })
        .collect();
    expected.extend(big.iter().map(|m| summary(&m.key, &m.value)));
    produce(bootstrap, topic, &big, &[("acks", "all")]);
    expected
}

/// A committed and an aborted transaction of 50 records each; returns the committed ones.
fn transactions(bootstrap: &str, topic: &str) -> Vec<Seen> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", "js-readback-tx")
        .set("linger.ms", "5")
        .create()
        .expect("transactional producer");
    let t = Duration::from_secs(20);
    producer.init_transactions(t).expect("init transactions");
    let mut committed = Vec::new();
    for outcome in ["commit", "abort"] {
        producer.begin_transaction().expect("begin");
        for i in 0..50 {
            let v = format!("tx-{outcome}-{i}");
            producer
                .send(BaseRecord::<str, str>::to(topic).key(&v).payload(&v))
                .expect("send in transaction");
            if outcome == "commit" {
                committed.push((Some(v.clone()), Some(v.clone()), v.len() as i64));
            }
        }
        if outcome == "commit" {
            producer.commit_transaction(t).expect("commit");
        } else {
            producer.abort_transaction(t).expect("abort");
        }
    }
    committed
}

#[test]
fn kafkajs_reads_back_every_accepted_batch() {
    let js_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.map(|o| o.status.success()).unwrap_or(false),
        "node is required: run .ci/run (it installs nodejs and tests/js's packages)"
    );
    assert!(
        std::path::Path::new(js_dir)
            .join("node_modules/kafkajs")
            .exists(),
        "kafkajs is not installed: run .ci/run or `npm ci` in tests/js"
    );

    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "mixed", 3);
    let mut expected = librdkafka_records(&bootstrap, "mixed");
    expected.extend(transactions(&bootstrap, "mixed"));

    let out = Command::new("node")
        .args([
            "readback.js",
            &bootstrap,
            "mixed",
            &expected.len().to_string(),
        ])
        .current_dir(js_dir)
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "kafkajs failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        broker.log_text()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kafkajs output");
    for p in v["produced"].as_array().expect("produced") {
        let s = p.as_str().expect("value").to_string();
        expected.push((Some(s.clone()), Some(s.clone()), s.len() as i64));
    }

    let seen = v["seen"].as_array().expect("seen");
    let mut positions = HashSet::new();
    let mut last: HashMap<i64, i64> = HashMap::new();
    let mut got: Vec<Seen> = Vec::new();
    for r in seen {
        let (p, o) = (r["p"].as_i64().unwrap(), r["o"].as_i64().unwrap());
        assert!(positions.insert((p, o)), "record {p}/{o} delivered twice");
        let prev = last.insert(p, o).unwrap_or(-1);
        assert!(
            o > prev,
            "offsets go backwards on partition {p}: {prev} then {o}"
        );
        let text = |f: &str| r[f].as_str().map(str::to_string);
        got.push((text("k"), text("v"), r["len"].as_i64().unwrap()));
        if let Some(k) = text("k") {
            assert!(
                !k.starts_with("tx-abort"),
                "aborted record {k} was delivered"
            );
            assert_eq!(r["h"], if k.starts_with("tx-") { 0 } else { 1 }, "{k}");
        }
    }
    let count = |rs: &[Seen]| {
        let mut m: HashMap<Seen, usize> = HashMap::new();
        for r in rs {
            *m.entry(r.clone()).or_default() += 1;
        }
        m
    };
    assert_eq!(got.len(), expected.len(), "records read back");
    assert_eq!(
        count(&got),
        count(&expected),
        "the records read back are those produced"
    );
}
