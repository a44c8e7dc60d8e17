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

/// Client subcommands, which take the connection flags.
const CLIENT_COMMANDS: [&str; 4] = ["topic", "produce", "consume", "group"];

/// Moves connection flags written before a client subcommand (`runnel --brokers X topic list`)
/// after it (`runnel topic --brokers X list`), where clap expects them; other argument lists are
/// returned unchanged.
pub fn normalize_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let text: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let mut i = 1;
    while i < args.len() {
        match text[i] {
            Some("--brokers" | "--timeout" | "-X" | "--client-property") => i += 2,
            Some(t)
                if t.starts_with("--brokers=")
                    || t.starts_with("--timeout=")
                    || t.starts_with("--client-property=")
                    || (t.starts_with("-X") && t.len() > 2) =>
            {
                i += 1
            }
            _ => break,
        }
    }
    match text.get(i).copied().flatten() {
        Some(cmd) if i > 1 && CLIENT_COMMANDS.contains(&cmd) => {
            let mut out = vec![args[0].clone(), args[i].clone()];
            out.extend_from_slice(&args[1..i]);
            out.extend_from_slice(&args[i + 1..]);
            out
        }
        _ => args,
    }
}

/// Restores the default SIGPIPE action for client commands, so that `runnel topic describe |
/// head` ends quietly when the reader goes away, as other Unix tools do (Rust ignores SIGPIPE,
/// which turns every later write into a panic). The broker keeps SIGPIPE ignored.
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<std::ffi::OsString> {
        s.split(' ').map(Into::into).collect()
    }

    #[test]
    fn connection_flags_before_a_client_command_move_after_it() {
        assert_eq!(
            normalize_args(args("runnel --brokers h:1 topic list")),
            args("runnel topic --brokers h:1 list")
        );
        assert_eq!(
            normalize_args(args("runnel -X a=b --timeout=3 group list")),
            args("runnel group -X a=b --timeout=3 list")
        );
        for same in [
            "runnel --cores 2",
            "runnel topic list",
            "runnel --brokers h:1",
        ] {
            assert_eq!(normalize_args(args(same)), args(same));
        }
        let cli = Cli::try_parse_from(normalize_args(args("runnel --brokers h:1 topic list")));
        assert!(cli.is_ok(), "{cli:?}");
    }
}
