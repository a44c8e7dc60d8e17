//! The versions Runnel advertises are Kafka 4.1's, and each version added since Kafka 4.0 is
//! served: wire-level round trips of requests encoded by kafka-protocol at exactly that version
//! (no client negotiates them on demand), over a raw TCP connection to the real broker.

use crate::common;

use bytes::Bytes;
use common::raw::{batch, Conn};
use common::{client, Broker};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use uuid::Uuid;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
const UNKNOWN_TOPIC_ID: i16 = 100;
const INVALID_REGULAR_EXPRESSION: i16 = 128;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// Metadata v13 for `topics`: (top-level error code, node id, [(name, id, error code)]).
fn metadata(c: &mut Conn, topics: &[&str]) -> (i16, i32, Vec<(String, Uuid, i16)>) {
    let mut req = MetadataRequest::default();
    req.topics = Some(
        topics
            .iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(name(t));
                mt
            })
            .collect(),
    );
    req.allow_auto_topic_creation = false;
    let r = c.call(&req, 13);
    let listed = r
        .topics
        .iter()
        .map(|t| {
            let n = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            (n, t.topic_id, t.error_code)
        })
        .collect();
    (r.error_code, r.brokers[0].node_id.0, listed)
}

fn topic_data(id: Uuid, partition: i32, records: Bytes) -> TopicProduceData {
    let mut pd = PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    td.topic_id = id;
    td.partition_data.push(pd);
    td
}

#[test]
fn advertised_ranges_are_kafka_4_1s_but_for_transactions_v2() {
    let b = Broker::start();
    let mut c = Conn::open(&b);
    let r = c.call(&ApiVersionsRequest::default(), 3);
    assert_eq!(r.error_code, 0);
    let range = |key: ApiKey| {
        r.api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    // Kafka 4.1's ranges for the versions added since 4.0.
    assert_eq!(range(ApiKey::Produce), Some((0, 13)));
    assert_eq!(range(ApiKey::Fetch), Some((4, 18)));
    assert_eq!(range(ApiKey::ListOffsets), Some((1, 10)));
    // KIP-896 (Kafka 4.0) dropped OffsetForLeaderEpoch v0-1.
    assert_eq!(range(ApiKey::OffsetForLeaderEpoch), Some((2, 4)));
    assert_eq!(range(ApiKey::Metadata), Some((0, 13)));
    assert_eq!(range(ApiKey::DescribeCluster), Some((0, 2)));
    assert_eq!(range(ApiKey::ListTransactions), Some((0, 2)));
    assert_eq!(range(ApiKey::AlterPartitionReassignments), Some((0, 1)));
    // Inter-broker: Kafka 4.0 dropped WriteTxnMarkers v0 (KIP-896); 4.1 serves v1 only.
    assert_eq!(range(ApiKey::WriteTxnMarkers), Some((1, 1)));
    // Transactions V2 (KIP-890 part 2) is not built: these stop below it.
    assert_eq!(range(ApiKey::AddPartitionsToTxn), Some((0, 3)));
    assert_eq!(range(ApiKey::EndTxn), Some((0, 4)));
    assert_eq!(range(ApiKey::TxnOffsetCommit), Some((0, 4)));
}

/// Produce v13 by topic id, read back with Fetch v18 by topic id and ListOffsets v10, after
/// Metadata v13 gave the ids.
#[test]
fn produce_v13_by_topic_id_is_read_back_by_fetch_v18() {
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "by-id", 2);
    let mut c = Conn::open(&b);

    let (code, _, topics) = metadata(&mut c, &["by-id", "no-such-topic"]);
    assert_eq!(code, 0, "Metadata v13 top-level error code");
    assert_eq!(topics[0].0, "by-id");
    assert_eq!(topics[0].2, 0);
    let id = topics[0].1;
    assert!(!id.is_nil(), "Metadata v13 carries the topic id");
    assert_eq!(topics[1].2, UNKNOWN_TOPIC_OR_PARTITION);

    // One request: the known id (partition 1 and a partition it lacks), and an unknown id.
    let unknown = Uuid::new_v4();
    let mut known = topic_data(id, 1, batch(&["a", "b", "c"]));
    let mut missing_partition = PartitionProduceData::default();
    missing_partition.index = 7;
    missing_partition.records = Some(batch(&["x"]));
    known.partition_data.push(missing_partition);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![known, topic_data(unknown, 0, batch(&["lost"]))];
    let r = c.call(&req, 13);
    assert_eq!(r.responses.len(), 2);
    let (t0, t1) = (&r.responses[0], &r.responses[1]);
    assert_eq!(t0.topic_id, id, "v13 responses name topics by id");
    assert_eq!(t1.topic_id, unknown);
    assert_eq!(t0.partition_responses[0].index, 1);
    assert_eq!(t0.partition_responses[0].error_code, 0);
    assert_eq!(t0.partition_responses[0].base_offset, 0);
    assert_eq!(t0.partition_responses[1].index, 7);
    assert_eq!(
        t0.partition_responses[1].error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(t1.partition_responses[0].error_code, UNKNOWN_TOPIC_ID);
    assert_eq!(t1.partition_responses[0].base_offset, -1);

    // A second batch lands after the first.
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![topic_data(id, 1, batch(&["d"]))];
    let r = c.call(&req, 13);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 3);

    // Fetch v18 by id, with the follower's high watermark (a v18 tagged field) set.
    let mut fp = FetchPartition::default();
    fp.partition = 1;
    fp.fetch_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    fp.high_watermark = 2;
    let mut ft = FetchTopic::default();
    ft.topic_id = id;
    ft.partitions.push(fp.clone());
    let mut gone = FetchTopic::default();
    gone.topic_id = unknown;
    gone.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.topics = vec![ft, gone];
    let r = c.call(&req, 18);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses[0].topic_id, id);
    let part = &r.responses[0].partitions[0];
    assert_eq!(part.error_code, 0);
    assert_eq!(part.high_watermark, 4);
    let mut records = part.records.clone().expect("records");
    let values: Vec<String> = RecordBatchDecoder::decode_all(&mut records)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(values, ["a", "b", "c", "d"]);
    assert_eq!(r.responses[1].topic_id, unknown);
    assert_eq!(r.responses[1].partitions[0].error_code, UNKNOWN_TOPIC_ID);

    // ListOffsets v10 (timeout_ms): latest and earliest of partition 1.
    for (timestamp, want) in [(-1, 4), (-2, 0)] {
        let mut lp = ListOffsetsPartition::default();
        lp.partition_index = 1;
        lp.timestamp = timestamp;
        let mut lt = ListOffsetsTopic::default();
        lt.name = name("by-id");
        lt.partitions.push(lp);
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.timeout_ms = 5_000;
        req.topics.push(lt);
        let r = c.call(&req, 10);
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.error_code, p.offset), (0, want), "timestamp {timestamp}");
    }
}

#[test]
fn describe_cluster_v2_lists_the_broker_unfenced() {
    let b = Broker::start();
    let mut c = Conn::open(&b);
    for include_fenced in [true, false] {
        let mut req = DescribeClusterRequest::default();
        req.endpoint_type = 1;
        req.include_fenced_brokers = include_fenced;
        let r = c.call(&req, 2);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.brokers.len(), 1);
        assert_eq!(r.brokers[0].port, b.port as i32);
        assert!(!r.brokers[0].is_fenced);
        assert_eq!(r.controller_id, r.brokers[0].broker_id);
    }
}

#[test]
fn list_transactions_v2_filters_by_whole_id_pattern() {
    let b = Broker::start();
    let mut c = Conn::open(&b);
    for id in ["orders-1", "orders-2", "billing-1"] {
        let mut req = InitProducerIdRequest::default();
        req.transactional_id = Some(TransactionalId(StrBytes::from_static_str(id)));
        req.transaction_timeout_ms = 60_000;
        req.producer_id = ProducerId(-1);
        req.producer_epoch = -1;
        let r = c.call(&req, 4);
        assert_eq!(r.error_code, 0, "InitProducerId {id}");
    }
    let mut list = |pattern: Option<&str>, version: i16| {
        let mut req = ListTransactionsRequest::default();
        req.duration_filter = -1;
        req.transactional_id_pattern = pattern.map(|p| StrBytes::from_string(p.to_string()));
        let r = c.call(&req, version);
        let mut ids: Vec<String> = r
            .transaction_states
            .iter()
            .map(|t| t.transactional_id.0.to_string())
            .collect();
        ids.sort();
        (r.error_code, ids)
    };
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let all = ids(&["billing-1", "orders-1", "orders-2"]);
    assert_eq!(list(None, 2), (0, all.clone()));
    assert_eq!(list(Some(""), 2), (0, all.clone()));
    assert_eq!(
        list(Some("orders-.*"), 2),
        (0, ids(&["orders-1", "orders-2"]))
    );
    assert_eq!(list(Some(".*-1"), 2), (0, ids(&["billing-1", "orders-1"])));
    // The whole id must match, not a part of it.
    assert_eq!(list(Some("orders"), 2), (0, vec![]));
    assert_eq!(list(Some("[a-z]+-[2-9]"), 2), (0, ids(&["orders-2"])));
    // An invalid pattern is refused, with no transactions listed.
    assert_eq!(
        list(Some("orders-("), 2),
        (INVALID_REGULAR_EXPRESSION, vec![])
    );
    assert_eq!(list(Some("["), 2), (INVALID_REGULAR_EXPRESSION, vec![]));
    // v1 has no pattern field: everything is listed.
    assert_eq!(list(None, 1), (0, all));
}

#[test]
fn alter_partition_reassignments_v1_keeps_the_only_replica() {
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "moved", 1);
    let mut c = Conn::open(&b);
    let (_, node, _) = metadata(&mut c, &["moved"]);
    let mut reassign = |allow: bool, replicas: Vec<i32>| {
        let mut p = ReassignablePartition::default();
        p.partition_index = 0;
        p.replicas = Some(replicas.into_iter().map(BrokerId).collect());
        let mut t = ReassignableTopic::default();
        t.name = name("moved");
        t.partitions.push(p);
        let mut req = AlterPartitionReassignmentsRequest::default();
        req.timeout_ms = 10_000;
        req.allow_replication_factor_change = allow;
        req.topics.push(t);
        let r = c.call(&req, 1);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.allow_replication_factor_change, allow, "echoed");
        r.responses[0].partitions[0].error_code
    };
    // Moving the partition to the broker it is on keeps the replication factor: allowed either
    // way.
    assert_eq!(reassign(false, vec![node]), 0);
    assert_eq!(reassign(true, vec![node]), 0);
    // Another broker does not exist.
    assert_eq!(
        reassign(false, vec![node, node + 1]),
        INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(reassign(true, vec![node + 1]), INVALID_REPLICA_ASSIGNMENT);
}
