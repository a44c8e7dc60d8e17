//! Disk full: on a small ext4 filesystem (a loop device), producers get KAFKA_STORAGE_ERROR
//! when the disk fills, the broker stays up and serves reads, accepts writes again once space
//! is freed, and no acknowledged record is damaged, also across kill -9.
//!
//! Needs root (mount). Not root, it fails, unless `RUNNEL_SKIP_ROOT_TESTS=1` is set: then it
//! prints SKIPPED and returns (see tests/common/loopfs.rs).

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::client::{self, Msg};
use common::{loopfs, Broker};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset};

/// A delivery report: the acknowledged offset and value, or the error.
type Outcome = Result<(i64, Vec<u8>), String>;

#[derive(Clone, Default)]
struct Outcomes(std::sync::Arc<std::sync::Mutex<Vec<Outcome>>>);

impl ClientContext for Outcomes {}
impl ProducerContext for Outcomes {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        use rdkafka::Message;
        let o = match r {
            Ok(m) => Ok((m.offset(), m.payload().unwrap_or_default().to_vec())),
            Err((e, _)) => Err(e.to_string()),
        };
        self.0.lock().unwrap().push(o);
    }
}

/// Sends `n` 1 KiB records without retries; returns what each delivery report said.
fn send(bs: &str, tag: &str, n: usize) -> Vec<Outcome> {
    let out = Outcomes::default();
    let p: ThreadedProducer<Outcomes> = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("acks", "all")
        .set("message.send.max.retries", "0")
        .set("message.timeout.ms", "10000")
        .set("linger.ms", "5")
        .create_with_context(out.clone())
        .expect("producer");
    for i in 0..n {
        let v = format!("{tag}-{i:06}-{}", "d".repeat(1000));
        loop {
            match p.send(
                BaseRecord::<(), _>::to("full")
                    .partition(0)
                    .payload(v.as_bytes()),
            ) {
                Ok(()) => break,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    let v = std::mem::take(&mut *out.0.lock().unwrap());
    v
}

fn free_bytes(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: statvfs writes into a zeroed struct we own.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    s.f_bavail as u64 * s.f_frsize as u64
}

#[test]
fn disk_full_refuses_writes_keeps_reads_and_recovers() {
    if !loopfs::require_root("disk_full") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mount = loopfs::mount_small_ext4(tmp.path(), 48);
    let mnt = mount.0.clone();
    // Leave about 4 MiB free.
    let filler = mnt.join("filler");
    let fill = free_bytes(&mnt).saturating_sub(4 << 20);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0xa5u8; 1 << 20];
        let mut left = fill;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        f.sync_all().unwrap();
    }
    let data = mnt.join("data");
    let mut b = Broker::start_at(data.clone(), &[]);
    let bs = b.bootstrap();
    client::create_topic_with(&bs, "full", 1, &[("segment.bytes", "1048576")]);
    // Fill the disk: some records are acknowledged, then KAFKA_STORAGE_ERROR.
    let first = send(&bs, "a", 8000);
    let acked: Vec<(i64, Vec<u8>)> = first.iter().filter_map(|r| r.clone().ok()).collect();
    let errors: Vec<&String> = first.iter().filter_map(|r| r.as_ref().err()).collect();
    eprintln!(
        "disk_full: {} acknowledged, {} refused, first error: {:?}",
        acked.len(),
        errors.len(),
        errors.first()
    );
    assert!(!acked.is_empty(), "nothing fit on the disk");
    assert!(!errors.is_empty(), "the disk never filled");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("storage") || e.contains("Storage")),
        "producers see KAFKA_STORAGE_ERROR: {:?}",
        &errors[..errors.len().min(3)]
    );
    // The broker is up and serves every acknowledged record at its offset.
    let check = |acked: &[(i64, Vec<u8>)], label: &str| {
        let got = client::consume(&bs, "full", &[0], Offset::Beginning, acked.len(), &[]);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.offset, i as i64, "{label}: offsets contiguous");
        }
        for (off, v) in acked {
            assert_eq!(
                got[*off as usize].value.as_ref(),
                Some(v),
                "{label}: record {off}"
            );
        }
    };
    check(&acked, "disk full");
    // Free space: writes are accepted again and continue the log.
    std::fs::remove_file(&filler).unwrap();
    let second = send(&bs, "b", 500);
    assert!(
        second.iter().all(|r| r.is_ok()),
        "writes after freeing space: {:?}",
        second.iter().find(|r| r.is_err())
    );
    let mut all = acked.clone();
    all.extend(second.into_iter().flatten());
    check(&all, "after freeing space");
    b.kill9();
    b.restart();
    check(&all, "after kill -9");
    let _ = client::produce(
        &bs,
        "full",
        &[Msg {
            partition: Some(0),
            value: Some(b"last".to_vec()),
            ..Default::default()
        }],
        &[("acks", "all")],
    );
    b.stop();
    drop(mount);
}
