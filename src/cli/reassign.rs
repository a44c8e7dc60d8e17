//! `runnel topic reassign`: move a partition's replicas, list the moves in progress, cancel
//! one (AlterPartitionReassignments and ListPartitionReassignments over [`super::wire`]),
//! with the intent of Kafka's `kafka-reassign-partitions.sh` one partition at a time:
//!
//! - `runnel topic reassign --topic T --partition P --replicas 1,2,3` starts the move (add
//!   `--disallow-replication-factor-change` to refuse a change of the replication factor,
//!   KIP-860);
//! - `runnel topic reassign --list [--topic T]` shows the moves in progress;
//! - `runnel topic reassign --cancel --topic T --partition P` reverts the move in progress.

use clap::Args;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::common::{print_table, CliError, CliResult, ConnArgs};
use super::wire::{kafka_error_name, WireClient};

/// `runnel topic reassign`.
#[derive(Args, Debug)]
pub struct ReassignArgs {
    /// The topic.
    #[arg(long)]
    topic: Option<String>,
    /// The partition to move or whose move to cancel.
    #[arg(long)]
    partition: Option<i32>,
    /// The target replicas, preferred leader first (e.g. `--replicas 1,2,3`).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    replicas: Vec<i32>,
    /// List the reassignments in progress (of `--topic` only, when given).
    #[arg(long, conflicts_with_all = ["replicas", "cancel", "partition"])]
    list: bool,
    /// Cancel the reassignment in progress of `--topic`/`--partition`.
    #[arg(long, conflicts_with = "replicas")]
    cancel: bool,
    /// Refuse a target with another replication factor (KIP-860).
    #[arg(long)]
    disallow_replication_factor_change: bool,
}

/// Runs `runnel topic reassign ...`.
pub fn run(conn: &ConnArgs, args: ReassignArgs) -> CliResult {
    if args.list {
        return list(conn, args.topic.as_deref());
    }
    let (Some(topic), Some(partition)) = (args.topic.as_deref(), args.partition) else {
        return Err(CliError::usage(
            "--topic and --partition are needed (or --list)",
        ));
    };
    let target = match (args.cancel, args.replicas.is_empty()) {
        (true, _) => None,
        (false, false) => Some(args.replicas),
        (false, true) => {
            return Err(CliError::usage(
                "--replicas (or --cancel, or --list) is needed",
            ));
        }
    };
    let what = match &target {
        Some(r) => format!("reassignment of {topic}-{partition} to {r:?}"),
        None => format!("cancelling the reassignment of {topic}-{partition}"),
    };
    let req = AlterPartitionReassignmentsRequest::default()
        .with_allow_replication_factor_change(!args.disallow_replication_factor_change)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(partition)
                .with_replicas(
                    target
                        .as_ref()
                        .map(|r| r.iter().map(|&b| BrokerId(b)).collect()),
                )])]);
    let mut client = WireClient::connect(conn)?;
    let resp = client.send(&req)?;
    if resp.error_code != 0 {
        return Err(failure(&what, resp.error_code, resp.error_message.as_ref()));
    }
    let Some(p) = resp.responses.first().and_then(|t| t.partitions.first()) else {
        return Err(CliError::failed(format!("{what}: empty response")));
    };
    if p.error_code != 0 {
        return Err(failure(&what, p.error_code, p.error_message.as_ref()));
    }
    match target {
        Some(_) => println!("{what} started"),
        None => println!("cancelled the reassignment of {topic}-{partition}"),
    }
    Ok(())
}

fn failure(what: &str, code: i16, message: Option<&StrBytes>) -> CliError {
    let detail = message
        .map(|m| format!(" ({})", m.as_str()))
        .unwrap_or_default();
    CliError::failed(format!("{what}: {}{detail}", kafka_error_name(code)))
}

fn ids(v: &[BrokerId]) -> String {
    v.iter()
        .map(|b| b.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn list(conn: &ConnArgs, topic: Option<&str>) -> CliResult {
    let mut client = WireClient::connect(conn)?;
    // A topic named: every partition index up to the topic's count is asked for (Kafka lists
    // only the partitions named); the broker answers the ones in progress.
    let topics = topic.map(|t| {
        vec![ListPartitionReassignmentsTopics::default()
            .with_name(TopicName(StrBytes::from_string(t.to_string())))
            .with_partition_indexes((0..MAX_LISTED).collect())]
    });
    let req = ListPartitionReassignmentsRequest::default().with_topics(topics);
    let resp = client.send(&req)?;
    if resp.error_code != 0 {
        return Err(failure(
            "listing reassignments",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let mut rows = Vec::new();
    for t in &resp.topics {
        for p in &t.partitions {
            rows.push(vec![
                t.name.to_string(),
                p.partition_index.to_string(),
                ids(&p.replicas),
                ids(&p.adding_replicas),
                ids(&p.removing_replicas),
            ]);
        }
    }
    if rows.is_empty() {
        println!("no reassignment in progress");
        return Ok(());
    }
    print_table(
        &["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"],
        &rows,
    );
    Ok(())
}

/// Partition indexes asked for with `--list --topic` (a topic's partitions beyond are not
/// listed).
const MAX_LISTED: i32 = 10_000;
