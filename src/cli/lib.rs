//! `runnel-cli`: the command line client of Runnel, for any Kafka-compatible broker. Its
//! commands `topic`, `produce`, `consume` and `group` talk to brokers through librdkafka (the
//! `rdkafka` crate); this is the only crate of the workspace that links it. The broker binary
//! `runnel` hands these commands to the `runnel-cli` binary (src/cli/main.rs), so `runnel topic
//! list` and `runnel-cli topic list` are the same.
//!
//! - [`common`]: connection flags, client configuration, errors and exit codes.
//! - [`topic`], [`produce`], [`consume`], [`group`], [`user`]: one module per command group.
//! - [`format`]: the record output format of `consume`.
//! - [`wire`]: a minimal blocking Kafka request for the APIs rdkafka does not expose.
//! - [`topic_partitions`]: `topic describe`'s partition table (leader, epoch, replicas, ISR).
//! - [`elect`]: `topic elect-leaders` (ElectLeaders).

pub mod common;
pub mod consume;
pub mod elect;
pub mod format;
pub mod group;
pub mod produce;
pub mod reassign;
pub mod sasl;
pub mod tls;
pub mod topic;
pub mod topic_partitions;
pub mod user;
pub mod wire;

use clap::{Parser, Subcommand};

pub use common::{CliError, ExitCode};

/// Runnel's command-line client, for any Kafka-compatible broker (the broker itself is the
/// `runnel` binary).
///
/// The connection flags (`--brokers`, `-X`, `--timeout`) may come before or after the command.
#[derive(Parser, Debug)]
#[command(name = "runnel-cli", version, about)]
pub struct Cli {
    /// The client command.
    #[command(subcommand)]
    pub command: Command,
}

/// The client commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create, list, describe, delete topics and change their configuration.
    Topic(topic::TopicArgs),
    /// Produce records read line by line from standard input.
    Produce(produce::ProduceArgs),
    /// Consume records and print them.
    Consume(consume::ConsumeArgs),
    /// List, describe, delete consumer groups and move their committed offsets.
    Group(group::GroupArgs),
    /// Create, delete and list SASL/SCRAM users.
    User(user::UserArgs),
}

/// The client commands, which take the connection flags (the broker binary `runnel` keeps the
/// same list to know which command lines to hand over).
pub const CLIENT_COMMANDS: [&str; 5] = ["topic", "produce", "consume", "group", "user"];

/// Moves connection flags written before a client command (`runnel-cli --brokers X topic list`)
/// after it (`runnel-cli topic --brokers X list`), where clap expects them; other argument lists
/// are returned unchanged.
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

/// Runs a client command and returns the process exit code. Errors are printed to standard
/// error as `runnel: error: ...`.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::Topic(a) => topic::run(a),
        Command::Produce(a) => produce::run(a),
        Command::Consume(a) => consume::run(a),
        Command::Group(a) => group::run(a),
        Command::User(a) => user::run(a),
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
            normalize_args(args("runnel-cli --brokers h:1 topic list")),
            args("runnel-cli topic --brokers h:1 list")
        );
        assert_eq!(
            normalize_args(args("runnel-cli -X a=b --timeout=3 group list")),
            args("runnel-cli group -X a=b --timeout=3 list")
        );
        for same in [
            "runnel-cli --cores 2",
            "runnel-cli topic list",
            "runnel-cli --brokers h:1",
        ] {
            assert_eq!(normalize_args(args(same)), args(same));
        }
        let cli = Cli::try_parse_from(normalize_args(args("runnel-cli --brokers h:1 topic list")));
        assert!(cli.is_ok(), "{cli:?}");
    }

    #[test]
    fn the_broker_is_not_a_client_command() {
        for not_client in [
            "runnel-cli",
            "runnel-cli start",
            "runnel-cli --cores 2 topic list",
        ] {
            assert!(
                Cli::try_parse_from(args(not_client)).is_err(),
                "{not_client}"
            );
        }
    }
}
