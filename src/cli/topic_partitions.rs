//! `runnel topic describe`'s partition table, as `kafka-topics --describe` shows it: per
//! partition its leader, leader epoch, replicas, in-sync replicas and offline replicas (from a
//! Metadata request through [`super::wire`], which rdkafka does not expose in full), and its
//! earliest and high-watermark offsets (ListOffsets through rdkafka; `-` when the partition has
//! no leader to ask). `--under-replicated-partitions` keeps only partitions whose ISR is
//! smaller than their replica set.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use super::common::{print_table, CliError, CliResult, ConnArgs};
use super::wire::{kafka_error_name, WireClient};

/// One partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRow {
    /// Partition index.
    pub id: i32,
    /// Leader broker, -1 for none.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas whose broker is offline.
    pub offline: Vec<i32>,
}

impl PartitionRow {
    /// Whether the ISR is smaller than the replica set.
    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
}

/// The partitions of `name` from a Metadata request, sorted by index.
pub fn partitions(conn: &ConnArgs, name: &str) -> CliResult<Vec<PartitionRow>> {
    let mut client = WireClient::connect(conn)?;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(name.to_string())),
        ))]))
        .with_allow_auto_topic_creation(false);
    let resp = client.send(&req)?;
    let unknown = || CliError::code(&format!("topic {name}"), RDKafkaErrorCode::UnknownTopic);
    let t = resp
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name))
        .ok_or_else(unknown)?;
    if t.error_code != 0 {
        return Err(CliError::failed(format!(
            "topic {name}: {}",
            kafka_error_name(t.error_code)
        )));
    }
    if t.partitions.is_empty() {
        return Err(unknown());
    }
    let ids = |v: &[kafka_protocol::messages::BrokerId]| v.iter().map(|b| b.0).collect();
    let mut rows: Vec<PartitionRow> = t
        .partitions
        .iter()
        .map(|p| PartitionRow {
            id: p.partition_index,
            leader: p.leader_id.0,
            leader_epoch: p.leader_epoch,
            replicas: ids(&p.replica_nodes),
            isr: ids(&p.isr_nodes),
            offline: ids(&p.offline_replicas),
        })
        .collect();
    rows.sort_by_key(|p| p.id);
    Ok(rows)
}

fn list(v: &[i32]) -> String {
    let v: Vec<String> = v.iter().map(|b| b.to_string()).collect();
    format!("[{}]", v.join(","))
}

/// Prints the topic's header and partition table (see the module comment).
pub fn print(conn: &ConnArgs, c: &BaseConsumer, name: &str, under_only: bool) -> CliResult {
    let parts = partitions(conn, name)?;
    let replicas = parts.first().map_or(0, |p| p.replicas.len());
    println!("NAME        {name}");
    println!("PARTITIONS  {}", parts.len());
    println!("REPLICAS    {replicas}");
    println!();
    let mut rows = Vec::with_capacity(parts.len());
    for p in parts.iter().filter(|p| !under_only || p.under_replicated()) {
        let (low, high) = match c.fetch_watermarks(name, p.id, conn.timeout()) {
            Ok((l, h)) => (l.to_string(), h.to_string()),
            // No leader to answer (every replica down): the rest of the row still helps.
            Err(_) if p.leader < 0 => ("-".to_string(), "-".to_string()),
            Err(e) => return Err(CliError::kafka(&format!("offsets of {name}/{}", p.id), &e)),
        };
        rows.push(vec![
            p.id.to_string(),
            p.leader.to_string(),
            p.leader_epoch.to_string(),
            list(&p.replicas),
            list(&p.isr),
            list(&p.offline),
            low,
            high,
        ]);
    }
    print_table(
        &[
            "PARTITION",
            "LEADER",
            "EPOCH",
            "REPLICAS",
            "ISR",
            "OFFLINE",
            "EARLIEST",
            "HIGH-WATERMARK",
        ],
        &rows,
    );
    Ok(())
}
