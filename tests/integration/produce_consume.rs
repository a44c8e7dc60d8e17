//! Produce and consume through librdkafka against the real broker binary.

use crate::common;

use common::client::{self, Msg};
use common::Broker;
use rdkafka::Offset;

fn msg(p: i32, k: &str, v: &str) -> Msg {
    Msg {
        partition: Some(p),
        key: Some(k.as_bytes().to_vec()),
        value: Some(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

#[test]
fn acks_modes_keys_headers_and_nulls_round_trip() {
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "kinds", 3);
    let mut msgs = Vec::new();
    for i in 0..30 {
        msgs.push(Msg {
            partition: Some(i % 3),
            key: match i % 3 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("key-{i}").into_bytes()),
            },
            value: match i % 5 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("value-{i}").repeat(i as usize + 1).into_bytes()),
            },
            headers: if i % 2 == 0 {
                vec![("h1".into(), Some(b"x".to_vec())), ("h2".into(), None)]
            } else {
                vec![]
            },
            timestamp: None,
        });
    }
    for acks in ["0", "1", "all"] {
        let offsets = client::produce(&bs, "kinds", &msgs, &[("acks", acks)]);
        if acks != "0" {
            for (p, o) in &offsets {
                assert!(*p >= 0 && *o >= 0);
            }
        }
    }
    let got = client::consume(&bs, "kinds", &[0, 1, 2], Offset::Beginning, 90, &[]);
    let parts = client::by_partition(&got);
    for p in 0..3 {
        let recv = &parts[&p];
        let sent: Vec<&Msg> = msgs.iter().filter(|m| m.partition == Some(p)).collect();
        assert_eq!(recv.len(), sent.len() * 3);
        for (i, g) in recv.iter().enumerate() {
            let m = sent[i % sent.len()];
            assert_eq!(g.offset, i as i64, "offsets are dense per partition");
            assert_eq!(g.key, m.key);
            assert_eq!(g.value, m.value);
            assert_eq!(g.headers, m.headers);
        }
    }
}

#[test]
fn every_compression_codec_round_trips() {
    let b = Broker::start();
    let bs = b.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        client::create_topic(&bs, &topic, 1);
        let msgs: Vec<Msg> = (0..500)
            .map(|i| {
                msg(
                    0,
                    &format!("k{i}"),
                    &format!("compressible value {i} ").repeat(20),
                )
            })
            .collect();
        client::produce(
            &bs,
            &topic,
            &msgs,
            &[("compression.codec", codec), ("linger.ms", "50")],
        );
        let got = client::consume(&bs, &topic, &[0], Offset::Beginning, 500, &[]);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.offset, i as i64);
            assert_eq!(g.value, msgs[i].value, "codec {codec}");
        }
    }
}

#[test]
fn many_topics_and_auto_creation() {
    let b = Broker::start();
    let bs = b.bootstrap();
    // Auto-created on first produce (Metadata with allow_auto_topic_creation).
    for t in 0..5 {
        let topic = format!("auto-{t}");
        let msgs: Vec<Msg> = (0..20)
            .map(|i| Msg {
                value: Some(format!("{t}-{i}").into_bytes()),
                ..Default::default()
            })
            .collect();
        client::produce(&bs, &topic, &msgs, &[]);
        let got = client::consume(&bs, &topic, &[0], Offset::Beginning, 20, &[]);
        let vals: Vec<_> = got.iter().map(|g| g.value.clone().unwrap()).collect();
        let want: Vec<_> = msgs.iter().map(|m| m.value.clone().unwrap()).collect();
        assert_eq!(vals, want);
    }
}

#[test]
fn fetch_from_the_middle_of_a_batch() {
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "mid", 1);
    // One producer call with a long linger: the 10 messages travel as one batch.
    let msgs: Vec<Msg> = (0..10).map(|i| msg(0, "k", &format!("v{i}"))).collect();
    client::produce(
        &bs,
        "mid",
        &msgs,
        &[("linger.ms", "200"), ("batch.num.messages", "1000")],
    );
    let got = client::consume(&bs, "mid", &[0], Offset::Offset(5), 5, &[]);
    let offs: Vec<i64> = got.iter().map(|g| g.offset).collect();
    assert_eq!(offs, vec![5, 6, 7, 8, 9]);
    assert_eq!(got[0].value.as_deref(), Some(&b"v5"[..]));
}

#[test]
fn offsets_for_times_and_watermarks() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::time::Duration;
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "times", 1);
    let msgs: Vec<Msg> = (0..6)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(vec![i as u8]),
            timestamp: Some(1_000_000 + i * 1000),
            ..Default::default()
        })
        .collect();
    // linger 0 and one in flight: several batches, so the lookup crosses batch boundaries.
    client::produce(&bs, "times", &msgs[..3], &[("linger.ms", "0")]);
    client::produce(&bs, "times", &msgs[3..], &[("linger.ms", "100")]);
    let c: BaseConsumer = b.client_config().create().unwrap();
    let (lo, hi) = c
        .fetch_watermarks("times", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((lo, hi), (0, 6));
    for (ts, want) in [
        (0i64, 0i64),
        (1_000_000, 0),
        (1_001_500, 2),
        (1_004_000, 4),
        (1_005_000, 5),
    ] {
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition_offset("times", 0, Offset::Offset(ts))
            .unwrap();
        let r = c.offsets_for_times(tpl, Duration::from_secs(10)).unwrap();
        let off = r.elements()[0].offset();
        assert_eq!(off, Offset::Offset(want), "timestamp {ts}");
    }
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("times", 0, Offset::Offset(9_000_000))
        .unwrap();
    let r = c.offsets_for_times(tpl, Duration::from_secs(10)).unwrap();
    assert_eq!(r.elements()[0].offset(), Offset::End, "no record that late");
}

#[test]
fn create_and_delete_topics_with_kafka_errors() {
    use rdkafka::admin::AdminOptions;
    use std::time::Duration;
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "tmp", 4);
    assert_eq!(
        client::try_create_topic(&bs, "tmp", 4, 1),
        Err("TopicAlreadyExists".into())
    );
    assert_eq!(
        client::try_create_topic(&bs, "rf3", 1, 3),
        Err("InvalidReplicationFactor".into())
    );
    assert!(client::try_create_topic(&bs, "zero", 0, 1).is_err());
    assert_eq!(
        client::try_create_topic(&bs, "bad name!", 1, 1),
        Err("InvalidTopic".into())
    );
    let c: rdkafka::consumer::BaseConsumer = b.client_config().create().unwrap();
    use rdkafka::consumer::Consumer;
    let md = c
        .fetch_metadata(Some("tmp"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 4);
    let a = client::admin(&bs);
    let r = futures_lite::future::block_on(
        a.delete_topics(&["tmp", "never-existed"], &AdminOptions::new()),
    )
    .unwrap();
    assert!(r[0].is_ok());
    assert!(r[1].is_err());
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    assert!(
        md.topics().iter().all(|t| t.name() != "tmp"),
        "deleted topic is gone"
    );
    assert!(
        !b.data_dir().join("tmp-0").exists(),
        "partition data removed"
    );
    // Re-create with the same name: starts empty.
    client::create_topic(&bs, "tmp", 1);
    let (_, hi) = c
        .fetch_watermarks("tmp", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(hi, 0);
}

#[test]
fn one_million_messages_round_trip_in_order() {
    const N: usize = 1_000_000;
    const P: i32 = 4;
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "million", P);
    let msgs: Vec<Msg> = (0..N)
        .map(|i| Msg {
            partition: Some((i % P as usize) as i32),
            value: Some(format!("{i:010}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let t0 = std::time::Instant::now();
    client::produce(
        &bs,
        "million",
        &msgs,
        &[("linger.ms", "5"), ("acks", "all")],
    );
    let produced = t0.elapsed();
    drop(msgs);
    let t1 = std::time::Instant::now();
    let got = client::consume(&bs, "million", &[0, 1, 2, 3], Offset::Beginning, N, &[]);
    let consumed = t1.elapsed();
    eprintln!(
        "1M x 10 B: produce {:.0} msg/s, consume {:.0} msg/s",
        N as f64 / produced.as_secs_f64(),
        N as f64 / consumed.as_secs_f64()
    );
    assert_eq!(got.len(), N);
    let mut next_per_part = [0usize; P as usize];
    let mut seen = vec![false; N];
    for g in &got {
        let p = g.partition as usize;
        let v: usize = std::str::from_utf8(g.value.as_deref().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(v % P as usize, p, "right partition");
        assert_eq!(
            g.offset as usize, next_per_part[p],
            "dense offsets in order"
        );
        assert_eq!(
            v,
            next_per_part[p] * P as usize + p,
            "per-partition order kept"
        );
        next_per_part[p] += 1;
        assert!(!seen[v], "no duplicate");
        seen[v] = true;
    }
    assert!(seen.iter().all(|s| *s), "none lost");
}
