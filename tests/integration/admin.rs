//! Admin APIs against the real broker: rdkafka's AdminClient describes and alters topic configs
//! and creates partitions; a raw wire client checks the answers of the APIs librdkafka does not
//! expose (DescribeTopicPartitions paging, DescribeLogDirs, CreateTopics configs) and that the
//! multi-broker admin APIs get Kafka's errors instead of a disconnect.

use crate::common;

use std::time::Duration;

use common::Broker;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use runnel_cli::common::ConnArgs;
use runnel_cli::wire::WireClient;

fn admin(b: &Broker) -> AdminClient<DefaultClientContext> {
    b.client_config().create().expect("admin client")
}

fn opts() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(Duration::from_secs(15)))
}

fn wire(b: &Broker) -> WireClient {
    WireClient::connect(&ConnArgs {
        brokers: b.bootstrap(),
        client_properties: vec![],
        timeout: 10,
        command_config: None,
    })
    .expect("connect")
}

/// Waits for an rdkafka admin future (the client's own thread drives it).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures_lite::future::block_on(f)
}

#[test]
fn rdkafka_describes_alters_configs_and_adds_partitions() {
    let b = Broker::start_with(&["--cores", "2"]);
    let a = admin(&b);
    let topic = NewTopic::new("cfg", 1, TopicReplication::Fixed(1)).set("segment.ms", "60000");
    let r = block_on(a.create_topics([&topic], &opts())).unwrap();
    assert!(r[0].is_ok(), "{r:?}");

    let described =
        block_on(a.describe_configs([&ResourceSpecifier::Topic("cfg")], &opts())).unwrap();
    let res = described[0].as_ref().expect("described");
    assert_eq!(res.entries.len(), 23, "every topic config is listed");
    let seg = res.get("segment.ms").expect("segment.ms");
    assert_eq!(seg.value.as_deref(), Some("60000"));
    assert_eq!(seg.source, ConfigSource::DynamicTopic);
    let ret = res.get("retention.ms").expect("retention.ms");
    assert_eq!(ret.source, ConfigSource::Default);
    assert!(ret.is_default);

    let change = AlterConfig::new(ResourceSpecifier::Topic("cfg")).set("retention.ms", "3600000");
    let r = block_on(a.alter_configs([&change], &opts())).unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let described =
        block_on(a.describe_configs([&ResourceSpecifier::Topic("cfg")], &opts())).unwrap();
    let res = described[0].as_ref().unwrap();
    assert_eq!(
        res.get("retention.ms").unwrap().value.as_deref(),
        Some("3600000")
    );
    // AlterConfigs replaces the whole set: segment.ms is back to its default.
    assert!(res.get("segment.ms").unwrap().is_default);

    // rdkafka's AlterConfigs future reports every resource as Ok (it drops the per-resource
    // error), so the refusal shows in the value staying as it was.
    let bad = AlterConfig::new(ResourceSpecifier::Topic("cfg")).set("retention.ms", "-5");
    block_on(a.alter_configs([&bad], &opts())).unwrap();
    let described =
        block_on(a.describe_configs([&ResourceSpecifier::Topic("cfg")], &opts())).unwrap();
    let res = described[0].as_ref().unwrap();
    assert_eq!(
        res.get("retention.ms").unwrap().value.as_deref(),
        Some("3600000")
    );

    let r = block_on(a.create_partitions([&NewPartitions::new("cfg", 5)], &opts())).unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let md = b
        .client_config()
        .create::<rdkafka::consumer::BaseConsumer>()
        .unwrap()
        .fetch_metadata(Some("cfg"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 5);
    let r = block_on(a.create_partitions([&NewPartitions::new("cfg", 3)], &opts())).unwrap();
    assert!(r[0].is_err(), "shrinking is refused: {r:?}");
}

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

#[test]
fn wire_admin_answers_paging_log_dirs_and_created_configs() {
    let b = Broker::start_with(&["--cores", "2"]);
    let mut c = wire(&b);
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic_name("a");
    t.num_partitions = 3;
    t.replication_factor = 1;
    let mut cfg = create_topics_request::CreatableTopicConfig::default();
    cfg.name = StrBytes::from_static_str("retention.ms");
    cfg.value = Some(StrBytes::from_static_str("1000"));
    t.configs.push(cfg);
    let mut t2 = t.clone();
    t2.name = topic_name("b");
    t2.num_partitions = 2;
    t2.configs.clear();
    let created = c
        .send(&CreateTopicsRequest::default().with_topics(vec![t, t2]))
        .unwrap();
    let configs = created.topics[0].configs.as_ref().expect("configs (v5+)");
    assert_eq!(configs.len(), 23);
    let r = configs
        .iter()
        .find(|c| c.name.as_str() == "retention.ms")
        .unwrap();
    assert_eq!(r.value.as_deref(), Some("1000"));
    assert_eq!(r.config_source, 1, "DYNAMIC_TOPIC_CONFIG");

    // Five partitions in all, two per page.
    let mut pages = Vec::new();
    let mut cursor = None;
    for _ in 0..5 {
        let req = DescribeTopicPartitionsRequest::default()
            .with_response_partition_limit(2)
            .with_cursor(cursor.clone());
        let resp = c.send(&req).unwrap();
        let page: Vec<(String, i32)> = resp
            .topics
            .iter()
            .flat_map(|t| {
                let n = t.name.as_ref().unwrap().0.to_string();
                t.partitions
                    .iter()
                    .map(move |p| (n.clone(), p.partition_index))
            })
            .collect();
        pages.push(page);
        match resp.next_cursor {
            Some(n) => {
                let mut next = describe_topic_partitions_request::Cursor::default();
                next.topic_name = n.topic_name;
                next.partition_index = n.partition_index;
                cursor = Some(next);
            }
            None => break,
        }
    }
    let all: Vec<(String, i32)> = pages.iter().flatten().cloned().collect();
    assert_eq!(
        all,
        vec![
            ("a".into(), 0),
            ("a".into(), 1),
            ("a".into(), 2),
            ("b".into(), 0),
            ("b".into(), 1)
        ],
        "{pages:?}"
    );
    assert_eq!(pages.len(), 3);
    let unknown = c
        .send(&DescribeTopicPartitionsRequest::default().with_topics(vec![
                describe_topic_partitions_request::TopicRequest::default()
                    .with_name(topic_name("nope")),
            ]))
        .unwrap();
    assert_eq!(unknown.topics[0].error_code, 3);

    // Topics null: every partition (an empty list would ask for none).
    let dirs = c
        .send(&DescribeLogDirsRequest::default().with_topics(None))
        .unwrap();
    assert_eq!(dirs.results.len(), 1);
    let d = &dirs.results[0];
    assert!(d.total_bytes > 0 && d.usable_bytes > 0 && d.usable_bytes <= d.total_bytes);
    let mut parts: Vec<(String, i32)> = d
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index))
        })
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 5, "{parts:?}");
}

#[test]
fn multi_broker_admin_apis_get_errors_not_disconnects() {
    let b = Broker::start();
    let mut c = wire(&b);
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic_name("x");
    t.num_partitions = 1;
    t.replication_factor = 1;
    c.send(&CreateTopicsRequest::default().with_topics(vec![t]))
        .unwrap();

    let elect = c
        .send(
            &ElectLeadersRequest::default().with_topic_partitions(Some(vec![
                elect_leaders_request::TopicPartitions::default()
                    .with_topic(topic_name("x"))
                    .with_partitions(vec![0, 9]),
            ])),
        )
        .unwrap();
    let codes: Vec<i16> = elect.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![84, 3],
        "ELECTION_NOT_NEEDED, UNKNOWN_TOPIC_OR_PARTITION"
    );

    let part = |replicas: Option<Vec<i32>>| {
        alter_partition_reassignments_request::ReassignablePartition::default()
            .with_partition_index(0)
            .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))
    };
    let reassign = c
        .send(
            &AlterPartitionReassignmentsRequest::default().with_topics(vec![
                alter_partition_reassignments_request::ReassignableTopic::default()
                    .with_name(topic_name("x"))
                    .with_partitions(vec![part(Some(vec![0])), part(Some(vec![1])), part(None)]),
            ]),
        )
        .unwrap();
    let codes: Vec<i16> = reassign.responses[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, vec![0, 39, 85]);

    let listed = c
        .send(&ListPartitionReassignmentsRequest::default())
        .unwrap();
    assert!(listed.topics.is_empty() && listed.error_code == 0);

    let acls = c.send(&DescribeAclsRequest::default()).unwrap();
    assert_eq!(acls.error_code, 54, "SECURITY_DISABLED");

    let moved = c
        .send(&AlterReplicaLogDirsRequest::default().with_dirs(vec![
                alter_replica_log_dirs_request::AlterReplicaLogDir::default()
                    .with_path(StrBytes::from_static_str("/elsewhere"))
                    .with_topics(vec![
                        alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default()
                            .with_name(topic_name("x"))
                            .with_partitions(vec![0]),
                    ]),
            ]))
        .unwrap();
    assert_eq!(
        moved.results[0].partitions[0].error_code, 57,
        "LOG_DIR_NOT_FOUND"
    );

    // Groups are hashed over the partitions of __consumer_offsets: its count cannot change.
    let grow = c
        .send(&CreatePartitionsRequest::default().with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(topic_name("__consumer_offsets"))
                    .with_count(100),
            ]))
        .unwrap();
    assert_eq!(grow.results[0].error_code, 42, "INVALID_REQUEST");

    // The connection is still usable after all of them.
    let md = c
        .send(&MetadataRequest::default().with_topics(None))
        .unwrap();
    assert_eq!(md.topics.len(), 1);
}
