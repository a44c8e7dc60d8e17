//! The `runnel` binary: with no subcommand (or `start`) it loads the configuration and runs the
//! broker; the client commands `topic`, `produce`, `consume` and `group` are handed to the
//! `runnel-cli` binary (see `runnel::args`).

use clap::Parser;
use runnel::args::{exec_client, names_client_command, BrokerArgs, Cli, Command};
use runnel::config::{Config, Overrides};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if names_client_command(&args) {
        exec_client(args);
    }
    let cli = Cli::parse_from(&args);
    match cli.command {
        None => run_broker(cli.broker),
        Some(Command::Start(broker)) => run_broker(broker),
        Some(Command::Topic(_) | Command::Produce(_) | Command::Consume(_) | Command::Group(_)) => {
            exec_client(args)
        }
    }
}

/// Runs the broker until SIGTERM/SIGINT; exits with status 1 on a startup error.
fn run_broker(args: BrokerArgs) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // openraft logs every retry to an unreachable peer (several a second while a
                // voter is down); the membership agent logs what an operator needs.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=off")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let ov = Overrides {
        listen: args.listen,
        advertised: args.advertised_listener,
        data_dir: args.data_dir,
        cores: args.cores,
        node_id: args.node_id,
        metrics_listen: args.metrics_listen,
    };
    let result = Config::load(args.config.as_deref(), &ov).and_then(runnel::server::run);
    if let Err(e) = result {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
}
