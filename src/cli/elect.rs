//! `runnel topic elect-leaders`: ElectLeaders through [`super::wire`], as Kafka's
//! `kafka-leader-election.sh`: `--election-type preferred|unclean` with `--topic` (and
//! `--partition`) or `--all-topic-partitions`. Each partition's outcome is printed; partitions
//! whose leader was already the one asked for (ELECTION_NOT_NEEDED) are not a failure, any
//! other error is (exit code 1).

use clap::ValueEnum;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::common::{partitions_of, CliError, CliResult, ConnArgs};
use super::wire::{kafka_error_name, WireClient};

/// Kafka's ELECTION_NOT_NEEDED.
const ELECTION_NOT_NEEDED: i16 = 84;

/// The election type (Kafka's `ElectionType`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// The preferred replica (the first of the replicas) leads, when it is alive and in sync.
    Preferred,
    /// A live replica outside the ISR may lead a partition that has no leader.
    Unclean,
}

/// What to elect.
#[derive(Debug, Clone)]
pub struct ElectArgs {
    /// The election type.
    pub election_type: ElectionType,
    /// The topic (with `partition`, one partition; else all of them).
    pub topic: Option<String>,
    /// The partition of `topic`.
    pub partition: Option<i32>,
    /// Every partition of the cluster.
    pub all: bool,
}

/// Runs the election (see the module comment).
pub fn run(conn: &ConnArgs, args: &ElectArgs) -> CliResult {
    let partitions = match (&args.topic, args.partition, args.all) {
        (None, None, true) => None,
        (Some(t), Some(p), false) => Some(vec![(t.clone(), vec![p])]),
        (Some(t), None, false) => {
            let c = conn.plain_consumer()?;
            Some(vec![(t.clone(), partitions_of(&c, t, conn)?)])
        }
        _ => {
            return Err(CliError::usage(
                "give --topic (with an optional --partition) or --all-topic-partitions",
            ))
        }
    };
    let req = ElectLeadersRequest::default()
        .with_election_type(match args.election_type {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        })
        .with_timeout_ms(conn.timeout().as_millis().min(i32::MAX as u128) as i32)
        .with_topic_partitions(partitions.map(|ps| {
            ps.into_iter()
                .map(|(t, p)| {
                    TopicPartitions::default()
                        .with_topic(TopicName(StrBytes::from_string(t)))
                        .with_partitions(p)
                })
                .collect()
        }));
    let mut client = WireClient::connect(conn)?;
    let resp = client.send(&req)?;
    if resp.error_code != 0 {
        return Err(CliError::failed(format!(
            "electing leaders: {}",
            kafka_error_name(resp.error_code)
        )));
    }
    let mut failed = 0;
    let mut count = 0;
    for t in &resp.replica_election_results {
        for p in &t.partition_result {
            count += 1;
            let name = format!("{}-{}", t.topic.0.as_str(), p.partition_id);
            match p.error_code {
                0 => println!("{name}: elected"),
                ELECTION_NOT_NEEDED => println!("{name}: not needed (ELECTION_NOT_NEEDED)"),
                code => {
                    failed += 1;
                    let detail = p
                        .error_message
                        .as_ref()
                        .map(|m| format!(" ({})", m.as_str()))
                        .unwrap_or_default();
                    println!("{name}: failed: {}{detail}", kafka_error_name(code));
                }
            }
        }
    }
    if count == 0 {
        println!("no partition needed an election");
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "the election failed for {failed} partition(s)"
        )));
    }
    Ok(())
}
