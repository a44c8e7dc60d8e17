//! The `runnel` binary: parses flags, loads the configuration and runs the broker.

use std::path::PathBuf;

use clap::Parser;
use runnel::config::{Config, Overrides};

/// Runnel: a Kafka-compatible streaming broker.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML, Kafka key names); built-in defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, HOST:PORT.
    #[arg(long)]
    listen: Option<String>,
    /// HOST:PORT advertised to clients.
    #[arg(long)]
    advertised_listener: Option<String>,
    /// Data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Executors: a count ("4") or a CPU list ("0-3,6").
    #[arg(long)]
    cores: Option<String>,
    /// Node id reported to clients.
    #[arg(long)]
    node_id: Option<i32>,
    /// HTTP listener for /metrics, /health and /ready, HOST:PORT ("off" disables it).
    #[arg(long)]
    metrics_listen: Option<String>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
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
