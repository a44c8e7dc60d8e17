//! Committed offsets go with their topic (issue 18, item 6): after DeleteTopics, no group keeps
//! offsets of the deleted topic, neither in memory, nor after a restart, nor in /metrics, and a
//! topic created again under the same name starts without them.

use crate::common;

use std::time::Duration;

use common::client;
use common::metrics::scrape;
use common::{free_port, Broker};
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

fn committed(b: &Broker, group: &str, topic: &str) -> Vec<Offset> {
    let c: BaseConsumer = b.client_config().set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    tpl.add_partition(topic, 1);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    got.elements().iter().map(|e| e.offset()).collect()
}

#[test]
fn offsets_of_a_deleted_topic_are_removed_durably() {
    let mport = free_port();
    let listen = format!("127.0.0.1:{mport}");
    let mut b = Broker::start_with(&["--metrics-listen", &listen]);
    let bs = b.bootstrap();
    client::create_topic(&bs, "gone", 2);
    client::create_topic(&bs, "kept", 1);
    for group in ["g1", "g2"] {
        let c: BaseConsumer = b.client_config().set("group.id", group).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("gone", 0, Offset::Offset(5))
            .unwrap();
        tpl.add_partition_offset("gone", 1, Offset::Offset(7))
            .unwrap();
        tpl.add_partition_offset("kept", 0, Offset::Offset(3))
            .unwrap();
        c.commit(&tpl, CommitMode::Sync).unwrap();
    }
    assert_eq!(
        committed(&b, "g1", "gone"),
        vec![Offset::Offset(5), Offset::Offset(7)]
    );

    let admin = client::admin(&bs);
    let rt = futures_lite::future::block_on(admin.delete_topics(&["gone"], &AdminOptions::new()))
        .expect("delete topics");
    assert!(rt.iter().all(|r| r.is_ok()), "{rt:?}");
    for group in ["g1", "g2"] {
        assert_eq!(
            committed(&b, group, "gone"),
            vec![Offset::Invalid, Offset::Invalid],
            "{group} still has offsets of the deleted topic"
        );
    }
    // Other topics' offsets stay.
    let kept = committed(&b, "g1", "kept");
    assert_eq!(kept[0], Offset::Offset(3));

    // Metrics drop the deleted topic (gauges are republished every second).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = scrape(mport);
        let stale = s
            .samples
            .iter()
            .any(|x| x.metric.starts_with("runnel_group") && x.labels.get("topic") == Some("gone"));
        if !stale {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics keep the deleted topic"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The removal is durable, and a new topic of the same name starts clean.
    assert!(b.stop());
    b.restart();
    client::create_topic(&b.bootstrap(), "gone", 2);
    for group in ["g1", "g2"] {
        assert_eq!(
            committed(&b, group, "gone"),
            vec![Offset::Invalid, Offset::Invalid]
        );
    }
    assert_eq!(committed(&b, "g2", "kept")[0], Offset::Offset(3));
}
