//! Leader epochs on the wire, against the real broker: appended batches carry the partition's
//! leader epoch (what Metadata reports), kept in `leader-epoch-checkpoint` and across restarts
//! (each restart of a single broker moves the epoch on: its controlled shutdown takes the
//! partition's leadership away, its return gives it back), and OffsetForLeaderEpoch v2-4
//! answers from them with Kafka's errors. Raw requests encoded by kafka-protocol.

use crate::common;

use common::raw::{batch, Conn};
use common::{client, Broker};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// The leader epoch Metadata reports for partition 0 of `topic`, once it has a leader (after
/// a restart the partition has none until the broker is unfenced again).
fn metadata_epoch(c: &mut Conn, topic: &str) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let mut t = MetadataRequestTopic::default();
        t.name = Some(name(topic));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        let r = c.call(&req, 12);
        let p = &r.topics[0].partitions[0];
        if p.leader_id.0 >= 0 {
            return p.leader_epoch;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no leader for {topic}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Produces one batch per value to partition 0 of `topic`.
fn produce(c: &mut Conn, topic: &str, values: &[&str]) {
    for v in values {
        let mut pd = PartitionProduceData::default();
        pd.index = 0;
        pd.records = Some(batch(&[v]));
        let mut td = TopicProduceData::default();
        td.name = name(topic);
        td.partition_data.push(pd);
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 10_000;
        req.topic_data = vec![td];
        let r = c.call(&req, 9);
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }
}

/// (base offset, leader epoch) of every batch of partition 0 of `topic`, fetched from 0.
fn fetched_epochs(c: &mut Conn, topic: &str) -> Vec<(i64, i32)> {
    let mut fp = FetchPartition::default();
    fp.partition = 0;
    fp.fetch_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    let mut ft = FetchTopic::default();
    ft.topic = name(topic);
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 100;
    req.max_bytes = 1 << 20;
    req.topics = vec![ft];
    let r = c.call(&req, 12);
    let part = &r.responses[0].partitions[0];
    assert_eq!(part.error_code, 0);
    let records = part.records.clone().expect("records");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 61 <= records.len() {
        let base = i64::from_be_bytes(records[pos..pos + 8].try_into().unwrap());
        let len = i32::from_be_bytes(records[pos + 8..pos + 12].try_into().unwrap()) as usize;
        let epoch = i32::from_be_bytes(records[pos + 12..pos + 16].try_into().unwrap());
        out.push((base, epoch));
        pos += 12 + len;
    }
    out
}

/// ListOffsets v9 of partition 0 of `topic` at `timestamp`: (offset, leader epoch).
fn list_offset(c: &mut Conn, topic: &str, timestamp: i64) -> (i64, i32) {
    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = 0;
    lp.timestamp = timestamp;
    let mut lt = ListOffsetsTopic::default();
    lt.name = name(topic);
    lt.partitions.push(lp);
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics.push(lt);
    let r = c.call(&req, 9);
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    (p.offset, p.leader_epoch)
}

/// OffsetForLeaderEpoch at `version` for (topic, partition, current epoch, epoch) queries:
/// (error code, leader epoch, end offset) of each, in order.
fn end_offsets(
    c: &mut Conn,
    version: i16,
    queries: &[(&str, i32, i32, i32)],
) -> Vec<(i16, i32, i64)> {
    let mut req = OffsetForLeaderEpochRequest::default();
    req.replica_id = BrokerId(-1);
    for &(topic, partition, current, epoch) in queries {
        let mut p = OffsetForLeaderPartition::default();
        p.partition = partition;
        p.current_leader_epoch = current;
        p.leader_epoch = epoch;
        let mut t = OffsetForLeaderTopic::default();
        t.topic = name(topic);
        t.partitions.push(p);
        req.topics.push(t);
    }
    let r = c.call(&req, version);
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| (p.error_code, p.leader_epoch, p.end_offset))
        .collect()
}

#[test]
fn batches_carry_the_leader_epoch_and_offset_for_leader_epoch_answers() {
    // One core: Metadata and the appends see the same cluster snapshot (each core follows the
    // controller's image on its own, so another core may see a new epoch a moment later).
    let mut b = Broker::start_with(&["--cores", "1"]);
    client::create_topic(&b.bootstrap(), "epochs", 1);
    let mut c = Conn::open(&b);
    assert_eq!(metadata_epoch(&mut c, "epochs"), 0);
    produce(&mut c, "epochs", &["a", "b", "c"]);
    assert_eq!(fetched_epochs(&mut c, "epochs"), [(0, 0), (1, 0), (2, 0)]);
    for v in [2, 3, 4] {
        assert_eq!(
            end_offsets(
                &mut c,
                v,
                &[
                    ("epochs", 0, -1, 0),
                    ("epochs", 0, 0, 0),
                    ("epochs", 0, 1, 0),
                    ("epochs", 0, -1, 1),
                    ("epochs", 7, -1, 0),
                    ("no-such-topic", 0, -1, 0),
                ]
            ),
            [
                (0, 0, 3),
                (0, 0, 3),
                (UNKNOWN_LEADER_EPOCH, -1, -1),
                (0, -1, -1),
                (UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
                (UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
            ],
            "v{v}"
        );
    }
    drop(c);

    // A restart moves the epoch on; the batches before it keep theirs.
    assert!(b.stop(), "clean stop");
    b.restart();
    let mut c = Conn::open(&b);
    let epoch = metadata_epoch(&mut c, "epochs");
    assert!(epoch > 0, "a restart moves the leader epoch on: {epoch}");
    produce(&mut c, "epochs", &["d", "e"]);
    assert_eq!(
        fetched_epochs(&mut c, "epochs"),
        [(0, 0), (1, 0), (2, 0), (3, epoch), (4, epoch)]
    );
    assert_eq!(
        end_offsets(
            &mut c,
            4,
            &[
                ("epochs", 0, epoch, 0),
                ("epochs", 0, epoch, epoch - 1),
                ("epochs", 0, epoch, epoch),
                ("epochs", 0, epoch, epoch + 1),
                ("epochs", 0, epoch - 1, 0),
            ]
        ),
        [
            (0, 0, 3),
            (0, 0, 3),
            (0, epoch, 5),
            (0, -1, -1),
            (FENCED_LEADER_EPOCH, -1, -1),
        ]
    );
    // ListOffsets names the epoch of the offset it finds (the current one for the latest).
    assert_eq!(list_offset(&mut c, "epochs", -1), (5, epoch));
    assert_eq!(list_offset(&mut c, "epochs", -2), (0, 0));
    let checkpoint = b
        .data_dir()
        .join("epochs-0")
        .join("leader-epoch-checkpoint");
    assert_eq!(
        std::fs::read_to_string(&checkpoint).expect("checkpoint"),
        format!("0\n2\n0 0\n{epoch} 3\n")
    );
    drop(c);

    // Read back from disk after another restart: the epochs stay in the batches.
    assert!(b.stop(), "clean stop");
    b.restart();
    let mut c = Conn::open(&b);
    assert_eq!(
        fetched_epochs(&mut c, "epochs"),
        [(0, 0), (1, 0), (2, 0), (3, epoch), (4, epoch)]
    );
    let now = metadata_epoch(&mut c, "epochs");
    assert!(now > epoch);
    assert_eq!(
        end_offsets(&mut c, 4, &[("epochs", 0, now, epoch)]),
        [(0, epoch, 5)],
        "no batch of the newest epoch yet: the epoch before ends at the log end"
    );
}
