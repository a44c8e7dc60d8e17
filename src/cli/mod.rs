//! The `runnel` command line: the broker (no subcommand, or `start`) and the client commands
//! `topic`, `produce`, `consume` and `group`, which talk to any Kafka-compatible broker through
//! librdkafka (the `rdkafka` crate).
//!
//! - [`common`]: connection flags, client configuration, errors and exit codes.
//! - [`topic`], [`produce`], [`consume`], [`group`]: one module per command group.
//! - [`format`]: the record output format of `consume`.
//! - [`wire`]: a minimal blocking Kafka request for the APIs rdkafka does not expose.

pub mod common;
pub mod consume;
pub mod format;
pub mod group;
pub mod produce;
pub mod topic;
pub mod wire;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use common::{CliError, ExitCode};

/// Runnel: a Kafka-compatible streaming broker, and a command-line client for any
/// Kafka-compatible broker.
///
/// With no subcommand (or with `start`) this runs the broker.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Broker flags (used when no subcommand is given).
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// A client command; none runs the broker.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The flags of the broker.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BrokerArgs {
    /// Configuration file (TOML, Kafka key names); built-in defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on, HOST:PORT.
    #[arg(long)]
    pub listen: Option<String>,
    /// HOST:PORT advertised to clients.
    #[arg(long)]
    pub advertised_listener: Option<String>,
    /// Data directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Executors: a count ("4") or a CPU list ("0-3,6").
    #[arg(long)]
    pub cores: Option<String>,
    /// Node id reported to clients.
    #[arg(long)]
    pub node_id: Option<i32>,
    /// HTTP listener for /metrics, /health and /ready, HOST:PORT ("off" disables it).
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

/// The subcommands of `runnel`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the broker (the same as running `runnel` with no subcommand).
    Start(BrokerArgs),
    /// Create, list, describe, delete topics and change their configuration.
    Topic(topic::TopicArgs),
    /// Produce records read line by line from standard input.
    Produce(produce::ProduceArgs),
    /// Consume records and print them.
    Consume(consume::ConsumeArgs),
    /// List, describe, delete consumer groups and move their committed offsets.
    Group(group::GroupArgs),
}

/// Runs a client command (anything but `start`) and returns the process exit code. Errors are
/// printed to standard error as `runnel: error: ...`.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::Start(_) => Err(CliError::usage(
            "`start` runs the broker, not a client command",
        )),
        Command::Topic(a) => topic::run(a),
        Command::Produce(a) => produce::run(a),
        Command::Consume(a) => consume::run(a),
        Command::Group(a) => group::run(a),
    };
    match result {
        Ok(()) => ExitCode::Ok as i32,
        Err(e) => {
            eprintln!("runnel: error: {e}");
            e.code as i32
        }
    }
}
