//! The command line of the `runnel` broker binary: the broker flags ([`BrokerArgs`], also taken
//! by `runnel start`), and the git-style hand-over of the client commands `topic`, `produce`,
//! `consume` and `group` to the `runnel-cli` binary (the `runnel-cli` crate in src/cli/, the
//! only crate that links librdkafka), which [`exec_client`] runs in place of this process.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Runnel: a Kafka-compatible streaming broker, and a command-line client for any
/// Kafka-compatible broker.
///
/// With no subcommand (or with `start`) this runs the broker. The client commands `topic`,
/// `produce`, `consume` and `group` run the `runnel-cli` binary installed beside `runnel`; their
/// connection flags (`--brokers`, `-X`, `--timeout`) may come before or after the command.
#[derive(Parser, Debug)]
#[command(
    name = "runnel",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Broker flags (used when no subcommand is given).
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// A subcommand; none runs the broker.
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

/// The subcommands of `runnel`. The client commands are listed so that `runnel --help` shows
/// them and broker flags given with them are refused; their arguments belong to `runnel-cli`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the broker (the same as running `runnel` with no subcommand).
    Start(BrokerArgs),
    /// Create, list, describe, delete topics and change their configuration (runnel-cli).
    Topic(ClientArgs),
    /// Produce records read line by line from standard input (runnel-cli).
    Produce(ClientArgs),
    /// Consume records and print them (runnel-cli).
    Consume(ClientArgs),
    /// List, describe, delete consumer groups and move their committed offsets (runnel-cli).
    Group(ClientArgs),
}

/// The arguments of a client command, passed to `runnel-cli` as they are (`--help` included).
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ClientArgs {
    /// Arguments of the client command; `runnel topic --help` lists them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// The client commands, carried out by `runnel-cli`.
pub const CLIENT_COMMANDS: [&str; 5] = ["topic", "produce", "consume", "group", "user"];

/// The name of the client binary that [`exec_client`] runs.
pub const CLIENT_BINARY: &str = "runnel-cli";

/// Whether the command line `args` (program name first) names a client command: its first
/// argument, after any of the client's connection flags that take a value (`--brokers X`,
/// `--timeout N`, `-X k=v`, `--client-property k=v`, which `runnel-cli` accepts before the
/// command too), is one of [`CLIENT_COMMANDS`]; or it is `help` followed by one of them.
pub fn names_client_command(args: &[OsString]) -> bool {
    let text = |i: usize| args.get(i).and_then(|a| a.to_str());
    if text(1) == Some("help") {
        return text(2).is_some_and(|cmd| CLIENT_COMMANDS.contains(&cmd));
    }
    let mut i = 1;
    while let Some(arg) = text(i) {
        match arg {
            "--brokers" | "--timeout" | "-X" | "--client-property" => i += 2,
            t if t.starts_with("--brokers=")
                || t.starts_with("--timeout=")
                || t.starts_with("--client-property=")
                || (t.starts_with("-X") && t.len() > 2) =>
            {
                i += 1
            }
            cmd => return CLIENT_COMMANDS.contains(&cmd),
        }
    }
    false
}

/// Replaces this process by `runnel-cli` with the same arguments (program name included, so
/// its usage lines read `runnel topic ...`): the `runnel-cli` next to this executable, or else
/// the first on `PATH`. Returns only by exiting: 127 when no `runnel-cli` is found, 126 when
/// it cannot be run.
pub fn exec_client(args: Vec<OsString>) -> ! {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(CLIENT_BINARY)))
        .filter(|p| p.is_file());
    let program = sibling.clone().unwrap_or_else(|| CLIENT_BINARY.into());
    let mut args = args.into_iter();
    let arg0 = args.next().unwrap_or_else(|| "runnel".into());
    // exec returns only on failure.
    let err = std::process::Command::new(&program)
        .arg0(arg0)
        .args(args)
        .exec();
    if err.kind() == std::io::ErrorKind::NotFound {
        let here = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.display().to_string()))
            .unwrap_or_else(|| "this executable's directory".into());
        eprintln!(
            "runnel: error: the client commands ({}) are carried out by the `{CLIENT_BINARY}` \
             binary, found neither in {here} nor on PATH; install it beside `runnel` \
             (`cargo build -p runnel-cli` builds it)",
            CLIENT_COMMANDS.join(", "),
        );
        std::process::exit(127);
    }
    eprintln!("runnel: error: cannot run {}: {err}", program.display());
    std::process::exit(126);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split(' ').map(Into::into).collect()
    }

    #[test]
    fn client_commands_are_recognized_after_connection_flags() {
        for client in [
            "runnel topic list",
            "runnel --brokers h:1 topic list",
            "runnel -X a=b --timeout=3 group list",
            "runnel -Xa=b --client-property c=d consume t",
            "runnel produce --help",
            "runnel help group",
        ] {
            assert!(names_client_command(&args(client)), "{client}");
        }
        for broker in [
            "runnel",
            "runnel start",
            "runnel --cores 2",
            "runnel --listen h:1 topic list",
            "runnel --brokers h:1",
            "runnel --help",
            "runnel help",
            "runnel help start",
        ] {
            assert!(!names_client_command(&args(broker)), "{broker}");
        }
    }

    #[test]
    fn broker_flags_do_not_go_with_client_commands() {
        assert!(Cli::try_parse_from(args("runnel --cores 2")).is_ok());
        assert!(Cli::try_parse_from(args("runnel start --cores 2")).is_ok());
        let both = Cli::try_parse_from(args("runnel --listen h:1 topic list"));
        assert!(both.unwrap_err().to_string().contains("cannot be used"));
        // Everything after a client command is the client's, `--help` included.
        let cli = Cli::try_parse_from(args("runnel topic --help")).unwrap();
        let Some(Command::Topic(topic)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(topic.args, args("--help"));
    }
}
