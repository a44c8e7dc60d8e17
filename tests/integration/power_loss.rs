//! Power loss: every record acknowledged with acks=all survives losing whatever the kernel had
//! not yet written to the disk.
//!
//! kill -9 alone cannot test this (the page cache survives the process), so the data directory
//! lives on an ext4 image mounted through a loop device with `commit=60` (the journal is only
//! committed by an fsync, or after 60 s). Right after the broker is killed, the image file is
//! copied: the copy holds exactly what reached the block device, which is what a machine that
//! lost power would find. The copy is checked (`e2fsck`, which replays the journal), mounted,
//! and a broker started on it must serve every acknowledged record.
//!
//! Without the fdatasync of the group commit (src/storage/log_write.rs) this test fails: the
//! size and extents of the segment written since the last journal commit are lost.
//!
//! Needs root (mount). Not root, it fails, unless `RUNNEL_SKIP_ROOT_TESTS=1` is set: then it
//! prints SKIPPED and returns (see tests/common/loopfs.rs).

use crate::common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client;
use common::{loopfs, Broker};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset};

const PARTITIONS: i32 = 2;
const BURSTS: usize = 10;
const PER_BURST: usize = 300;

/// Acknowledged records: (partition, offset) -> value.
type Acked = HashMap<(i32, i64), Vec<u8>>;

#[derive(Clone, Default)]
struct Acks(Arc<Mutex<Acked>>);

impl ClientContext for Acks {}
impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        use rdkafka::Message;
        if let Ok(m) = r {
            let v = m.payload().unwrap_or_default().to_vec();
            self.0
                .lock()
                .unwrap()
                .insert((m.partition(), m.offset()), v);
        }
    }
}

/// The partition's high watermark, as a client sees it.
fn high_watermark(bs: &str, topic: &str, partition: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .create()
        .expect("consumer");
    c.fetch_watermarks(topic, partition, Duration::from_secs(20))
        .expect("watermarks")
        .1
}

#[test]
fn acknowledged_records_survive_power_loss() {
    if !loopfs::require_root("power_loss") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("disk.img");
    loopfs::make_ext4_image(&img, 256);
    let mnt = tmp.path().join("mnt");
    let mount = loopfs::mount_image(&img, &mnt, "commit=60");

    let mut b = Broker::start_at(mnt.join("data"), &[]);
    let bs = b.bootstrap();
    client::create_topic(&bs, "power", PARTITIONS);
    let acks = Acks::default();
    let p: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .create_with_context(acks.clone())
        .expect("producer");
    // Bursts of acknowledged records; the broker dies right after the last acknowledgement.
    for burst in 0..BURSTS {
        for i in 0..PER_BURST {
            let v = format!("b{burst:02}-r{i:04}-{}", "p".repeat(200));
            let part = (i % PARTITIONS as usize) as i32;
            while p
                .send(BaseRecord::<(), _>::to("power").partition(part).payload(&v))
                .is_err()
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        p.flush(Duration::from_secs(30)).expect("flush");
    }
    b.kill9();
    // Power loss: what reached the block device, nothing more.
    let copy = tmp.path().join("after-power-loss.img");
    let cp = Command::new("cp")
        .arg("--sparse=always")
        .arg(&img)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(cp.success(), "copying the image failed");
    drop(p);
    drop(mount);
    let acked = std::mem::take(&mut *acks.0.lock().unwrap());
    assert_eq!(
        acked.len(),
        BURSTS * PER_BURST,
        "every record was acknowledged"
    );

    // e2fsck replays the journal; exit codes 0 and 1 mean clean or fixed.
    let fsck = Command::new("e2fsck")
        .args(["-f", "-y"])
        .arg(&copy)
        .output()
        .expect("e2fsck");
    assert!(
        matches!(fsck.status.code(), Some(0 | 1)),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let mnt2 = tmp.path().join("mnt2");
    let mount2 = loopfs::mount_image(&copy, &mnt2, "");
    let mut b2 = Broker::start_at(mnt2.join("data"), &[]);
    let bs2 = b2.bootstrap();
    let all: Vec<i32> = (0..PARTITIONS).collect();
    let mut lost = Vec::new();
    for part in all {
        let want: Vec<(i64, &Vec<u8>)> = acked
            .iter()
            .filter(|((p, _), _)| *p == part)
            .map(|((_, o), v)| (*o, v))
            .collect();
        let end = high_watermark(&bs2, "power", part);
        let n = (end.max(0) as usize).min(want.len());
        let got = client::consume(&bs2, "power", &[part], Offset::Beginning, n, &[]);
        let by_offset: HashMap<i64, &Option<Vec<u8>>> =
            got.iter().map(|g| (g.offset, &g.value)).collect();
        for (o, v) in want {
            if by_offset.get(&o).and_then(|x| x.as_ref()) != Some(v) {
                lost.push((part, o));
            }
        }
    }
    lost.sort_unstable();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged records lost in the power loss, first: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    b2.stop();
    drop(mount2);
}
