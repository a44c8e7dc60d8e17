//! Durability: clean restarts keep everything; kill -9 loses no acknowledged record; a torn
//! tail is truncated on recovery.

use crate::common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client::{self, Msg};
use common::Broker;
use rdkafka::Offset;

#[test]
fn restart_keeps_topics_and_records() {
    let mut b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "keep", 4);
    let msgs: Vec<Msg> = (0..4000)
        .map(|i| Msg {
            partition: Some(i % 4),
            key: Some(format!("k{i}").into_bytes()),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "keep", &msgs, &[("acks", "all")]);
    assert!(b.stop(), "clean shutdown on SIGTERM");
    b.restart();
    let got = client::consume(&bs, "keep", &[0, 1, 2, 3], Offset::Beginning, 4000, &[]);
    let parts = client::by_partition(&got);
    for p in 0..4 {
        let sent: Vec<_> = msgs.iter().filter(|m| m.partition == Some(p)).collect();
        let recv = &parts[&p];
        assert_eq!(recv.len(), sent.len());
        for (i, g) in recv.iter().enumerate() {
            assert_eq!(g.offset, i as i64);
            assert_eq!(g.value, sent[i].value);
        }
    }
    // And it keeps accepting writes at the right offsets after the restart.
    let more = client::produce(
        &bs,
        "keep",
        &[Msg {
            partition: Some(0),
            value: Some(b"after".to_vec()),
            ..Default::default()
        }],
        &[],
    );
    assert_eq!(more[0], (0, 1000));
}

#[test]
fn kill9_during_acks_all_production_loses_no_acknowledged_record() {
    let mut b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "crash", 2);
    // A producer thread sends continuously with acks=all, remembering what was acknowledged.
    type Acked = Vec<(i32, i64, Vec<u8>)>;
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let t = {
        let acked = acked.clone();
        let stop = stop.clone();
        let bs = bs.clone();
        std::thread::spawn(move || {
            use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
            let reports = client::Reports::default();
            let p: ThreadedProducer<client::Reports> = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &bs)
                .set("acks", "all")
                .set("linger.ms", "1")
                .set("message.timeout.ms", "3000")
                .create_with_context(reports.clone())
                .unwrap();
            let mut values = Vec::new();
            let mut i = 0usize;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                let v = format!("record-{i}").into_bytes();
                let rec =
                    BaseRecord::<[u8], [u8], Box<usize>>::with_opaque_to("crash", Box::new(i))
                        .payload(v.as_slice())
                        .partition((i % 2) as i32);
                if p.send(rec).is_ok() {
                    values.push(v);
                    i += 1;
                }
                if i.is_multiple_of(100) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let _ = p.flush(Duration::from_secs(5));
            for (idx, r) in reports.0.lock().unwrap().iter() {
                if let Ok((part, off)) = r {
                    acked
                        .lock()
                        .unwrap()
                        .push((*part, *off, values[*idx].clone()));
                }
            }
        })
    };
    // Let it run, then kill the broker hard while production is in full flow.
    std::thread::sleep(Duration::from_millis(1500));
    b.kill9();
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the producer got acknowledgements before the kill ({})",
        acked.len()
    );
    b.restart();
    let mut highest = [0i64; 2];
    for (p, o, _) in &acked {
        highest[*p as usize] = highest[*p as usize].max(*o + 1);
    }
    // Each partition is read up to its highest acknowledged offset (records written but not
    // acknowledged before the kill may follow; they are allowed, not required).
    let mut got = Vec::new();
    for p in 0..2 {
        got.extend(client::consume(
            &bs,
            "crash",
            &[p],
            Offset::Beginning,
            highest[p as usize] as usize,
            &[],
        ));
    }
    let have: HashSet<(i32, i64, Vec<u8>)> = got
        .iter()
        .map(|g| (g.partition, g.offset, g.value.clone().unwrap_or_default()))
        .collect();
    for a in &acked {
        if !have.contains(a) {
            let at: Vec<_> = got
                .iter()
                .filter(|g| g.partition == a.0 && (g.offset - a.1).abs() <= 2)
                .map(|g| {
                    (
                        g.offset,
                        String::from_utf8_lossy(g.value.as_deref().unwrap_or_default()).to_string(),
                    )
                })
                .collect();
            let same: Vec<_> = got
                .iter()
                .filter(|g| g.value.as_deref() == Some(&a.2[..]))
                .map(|g| (g.partition, g.offset))
                .collect();
            panic!("acknowledged record {:?} {} lost after kill -9; log has near it {at:?}; same value at {same:?}; acked {} highest {highest:?}", (a.0, a.1), String::from_utf8_lossy(&a.2), acked.len());
        }
    }
}

#[test]
fn torn_tail_is_truncated_on_recovery() {
    let mut b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "torn", 1);
    let msgs: Vec<Msg> = (0..100)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "torn", &msgs, &[]);
    b.kill9();
    // Simulate a torn write: garbage and zeros after the last batch.
    let seg = b.data_dir().join("torn-0").join("00000000000000000000.log");
    let mut data = std::fs::read(&seg).unwrap();
    let valid_end = {
        // Find the logical end: the file is zero-padded to the block size after the last batch.
        let mut pos = 0usize;
        while pos + 12 <= data.len() {
            let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap());
            if len <= 0 {
                break;
            }
            pos += 12 + len as usize;
        }
        pos
    };
    data.truncate(valid_end);
    data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 80, 1, 2, 3]);
    data.extend_from_slice(&[0u8; 5000]);
    std::fs::write(&seg, &data).unwrap();
    b.restart();
    let got = client::consume(&bs, "torn", &[0], Offset::Beginning, 100, &[]);
    assert_eq!(got.len(), 100);
    assert!(
        std::fs::metadata(&seg).unwrap().len() < data.len() as u64,
        "tail truncated"
    );
    let after = client::produce(
        &bs,
        "torn",
        &[Msg {
            partition: Some(0),
            value: Some(b"next".to_vec()),
            ..Default::default()
        }],
        &[],
    );
    assert_eq!(after[0], (0, 100));
    let got = client::consume(&bs, "torn", &[0], Offset::Offset(100), 1, &[]);
    assert_eq!(got[0].value.as_deref(), Some(&b"next"[..]));
}

#[test]
fn segments_roll_and_old_segments_are_read_from_disk() {
    // Small segments and a tiny cache force cold reads through indexes across many segments.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(&cfg, "runnel.cache.bytes.per.core = 4096\n").unwrap();
    let cfg_s = cfg.to_string_lossy().to_string();
    let mut b = Broker::start_with(&["--config", &cfg_s]);
    let bs = b.bootstrap();
    client::create_topic_with(&bs, "roll", 1, &[("segment.bytes", "65536")]);
    let msgs: Vec<Msg> = (0..5000)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(format!("value-{i:06}-{}", "x".repeat(100)).into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(
        &bs,
        "roll",
        &msgs,
        &[("linger.ms", "2"), ("batch.size", "16384")],
    );
    let segs = std::fs::read_dir(b.data_dir().join("roll-0"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(segs > 3, "segments rolled ({segs})");
    let got = client::consume(&bs, "roll", &[0], Offset::Offset(2500), 2500, &[]);
    assert_eq!(got[0].offset, 2500);
    assert_eq!(got[2499].value, msgs[4999].value);
    // Restart: older segments come back from their .index files.
    assert!(b.stop());
    b.restart();
    let got = client::consume(&bs, "roll", &[0], Offset::Beginning, 5000, &[]);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.offset, i as i64);
    }
}

#[test]
fn a_partition_that_cannot_be_opened_reports_a_storage_error() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "damaged", 2);
    assert!(b.stop());
    // Partition 0's directory becomes a plain file: its log cannot be opened.
    let dir = b.data_dir().join("damaged-0");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    b.restart();
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", "damaged")
        .create()
        .unwrap();
    let err = c
        .fetch_watermarks("damaged", 0, Duration::from_secs(10))
        .expect_err("partition 0 has no log");
    assert!(format!("{err:?}").contains("KafkaStorageError"), "{err:?}");
    // The other partition works.
    assert_eq!(
        c.fetch_watermarks("damaged", 1, Duration::from_secs(10))
            .unwrap(),
        (0, 0)
    );
}
