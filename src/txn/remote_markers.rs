//! Markers for partitions led by other brokers: one WriteTxnMarkers request per broker, sent
//! through the core's inter-broker client ([`crate::interbroker::Peers`]), answered per
//! partition. Every failure to get an answer is retriable: the caller keeps the partitions for
//! its next round.

use std::collections::BTreeMap;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;

use super::Coordinator;
use crate::errors::KafkaError;

/// The WriteTxnMarkers version sent (the only one Kafka 4.1 serves).
pub const VERSION: i16 = 1;

/// What a peer broker did with one partition's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// The marker is durable on the partition's leader.
    Written,
    /// The leader does not know the partition (deleted, or not in its image yet).
    UnknownPartition,
    /// Not written this time (not the leader, no answer, another error); why, for the log.
    Retry(String),
}

/// Sends the marker of `producer_id`/`epoch` for `parts` to `broker` as one WriteTxnMarkers
/// request; the outcome of each partition, in the order of `parts`.
pub async fn send(
    coord: &Coordinator,
    broker: i32,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    parts: &[(String, i32)],
) -> Vec<Remote> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let mut marker = WritableTxnMarker::default();
    marker.producer_id = ProducerId(producer_id);
    marker.producer_epoch = epoch;
    marker.transaction_result = commit;
    marker.coordinator_epoch = 0;
    marker.topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut topic = WritableTxnMarkerTopic::default();
            topic.name = TopicName(StrBytes::from_string(t.to_string()));
            topic.partition_indexes = ps;
            topic
        })
        .collect();
    let mut req = WriteTxnMarkersRequest::default();
    req.markers.push(marker);
    let resp = match coord.peers.send(broker, VERSION, &req).await {
        Ok(r) => r,
        Err(e) => {
            let why = format!("broker {broker}: {e}");
            return vec![Remote::Retry(why); parts.len()];
        }
    };
    // The answer's codes by partition; a partition it leaves out is retried.
    let mut codes: BTreeMap<(&str, i32), i16> = BTreeMap::new();
    for m in resp
        .markers
        .iter()
        .filter(|m| m.producer_id.0 == producer_id)
    {
        for t in &m.topics {
            for p in &t.partitions {
                codes.insert((t.name.0.as_str(), p.partition_index), p.error_code);
            }
        }
    }
    parts
        .iter()
        .map(|(t, p)| match codes.get(&(t.as_str(), *p)) {
            Some(0) => Remote::Written,
            Some(&c) if c == KafkaError::UnknownTopicOrPartition.code() => Remote::UnknownPartition,
            Some(c) => Remote::Retry(format!("broker {broker} answered error {c}")),
            None => Remote::Retry(format!("broker {broker} left the partition out")),
        })
        .collect()
}
