//! `runnel-loadgen`: an OpenMessaging-Benchmark-style load generator for Runnel and any other
//! Kafka-compatible broker.
//!
//! `runnel-loadgen run [WORKLOAD.toml] [overrides]` creates the topics, starts consumers and
//! producers, prints a progress line every second, and ends with a throughput and latency table;
//! `--out` writes the result as JSON and `--plot` as an SVG. `runnel-loadgen compare A.json
//! B.json` prints two results side by side. See docs/loadgen.md.

mod admin;
mod consumer;
mod context;
mod lean;
mod payload;
mod plot;
mod producer;
mod report;
mod runner;
mod schedule;
mod stats;
mod workload;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::report::RunResult;
use crate::workload::{ClientKind, ConsumerMode, KeyDistribution, MessageSize, Workload};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "runnel-loadgen",
    version,
    about = "Load generator for Kafka-compatible brokers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workload and report throughput and latency.
    Run(Box<RunArgs>),
    /// Print two JSON results side by side, with B/A ratios.
    Compare {
        /// Result A (the baseline).
        a: PathBuf,
        /// Result B.
        b: PathBuf,
    },
}

/// `run` arguments: an optional workload file, then overrides of its fields.
#[derive(Args, Debug, Default)]
struct RunArgs {
    /// Workload file (TOML); defaults apply when omitted.
    workload: Option<PathBuf>,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write an SVG plot of throughput and latency over time here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
    /// Bootstrap servers.
    #[arg(long, short)]
    bootstrap: Option<String>,
    /// Client library (lean: kafka-protocol, static assignment, no groups).
    #[arg(long, value_enum)]
    client: Option<ClientKind>,
    /// Workload name.
    #[arg(long)]
    name: Option<String>,
    /// Number of topics.
    #[arg(long)]
    topics: Option<usize>,
    /// Topic name prefix.
    #[arg(long)]
    topic_prefix: Option<String>,
    /// Partitions per topic.
    #[arg(long)]
    partitions: Option<i32>,
    /// Replication factor of the topics the run creates.
    #[arg(long)]
    replication_factor: Option<i16>,
    /// Config of the topics the run creates, KEY=VALUE (repeatable).
    #[arg(long = "topic-config", value_name = "KEY=VALUE")]
    topic_config: Vec<String>,
    /// Delete and recreate the topics first (true/false).
    #[arg(long)]
    recreate_topics: Option<bool>,
    /// Backlog mode (true/false): consumers read everything produced after the producers stop
    /// (see docs/loadgen.md).
    #[arg(long)]
    backlog: Option<bool>,
    /// Delete the topics after the run (true/false).
    #[arg(long)]
    delete_topics_after: Option<bool>,
    /// Producers per topic.
    #[arg(long)]
    producers: Option<usize>,
    /// Subscriptions per topic.
    #[arg(long)]
    subscriptions: Option<usize>,
    /// Consumers per subscription (0 = produce only).
    #[arg(long)]
    consumers: Option<usize>,
    /// How consumers get partitions.
    #[arg(long, value_enum)]
    consumer_mode: Option<ConsumerMode>,
    /// Fixed message size in bytes.
    #[arg(long, conflicts_with_all = ["size_min", "size_max"])]
    size: Option<usize>,
    /// Smallest message size (uniform distribution; needs --size-max).
    #[arg(long, requires = "size_max")]
    size_min: Option<usize>,
    /// Largest message size (uniform distribution; needs --size-min).
    #[arg(long, requires = "size_min")]
    size_max: Option<usize>,
    /// Use this file's content as every message value.
    #[arg(long)]
    payload_file: Option<String>,
    /// Key distribution.
    #[arg(long, value_enum)]
    keys: Option<KeyDistribution>,
    /// Number of distinct keys.
    #[arg(long)]
    key_count: Option<usize>,
    /// Total producer rate in msg/s (0 = as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Producer acks (0, 1, all).
    #[arg(long)]
    acks: Option<String>,
    /// Compression type.
    #[arg(long)]
    compression: Option<String>,
    /// linger.ms
    #[arg(long)]
    linger_ms: Option<f64>,
    /// batch.size in bytes.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Extra producer property KEY=VALUE (repeatable).
    #[arg(long = "producer-config", value_name = "KEY=VALUE")]
    producer_config: Vec<String>,
    /// Extra consumer property KEY=VALUE (repeatable).
    #[arg(long = "consumer-config", value_name = "KEY=VALUE")]
    consumer_config: Vec<String>,
    /// Warm-up seconds.
    #[arg(long)]
    warmup: Option<f64>,
    /// Measured seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many measured messages.
    #[arg(long)]
    messages: Option<u64>,
    /// Hard cap on the measured phase in seconds.
    #[arg(long)]
    max_duration: Option<f64>,
    /// Seconds to wait for deliveries and consumers after producing stops.
    #[arg(long)]
    drain_timeout: Option<f64>,
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

fn parse_kv(items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("expected KEY=VALUE, got {s:?}"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

impl RunArgs {
    /// The workload file (or defaults) with the command-line overrides applied.
    fn workload(&self) -> Result<Workload> {
        let mut w = match &self.workload {
            Some(p) => Workload::from_file(p)?,
            None => Workload::default(),
        };
        set(&mut w.bootstrap, self.bootstrap.clone());
        set(&mut w.name, self.name.clone());
        set(&mut w.client, self.client);
        set(&mut w.topics, self.topics);
        set(&mut w.topic_prefix, self.topic_prefix.clone());
        set(&mut w.partitions, self.partitions);
        set(&mut w.replication_factor, self.replication_factor);
        w.topic_config.extend(parse_kv(&self.topic_config)?);
        set(&mut w.recreate_topics, self.recreate_topics);
        set(&mut w.backlog, self.backlog);
        set(&mut w.delete_topics_after, self.delete_topics_after);
        set(&mut w.producers_per_topic, self.producers);
        set(&mut w.subscriptions_per_topic, self.subscriptions);
        set(&mut w.consumers_per_subscription, self.consumers);
        set(&mut w.consumer_mode, self.consumer_mode);
        set(&mut w.message_size, self.size.map(MessageSize::Fixed));
        if let (Some(min), Some(max)) = (self.size_min, self.size_max) {
            w.message_size = MessageSize::Uniform { min, max };
        }
        if self.payload_file.is_some() {
            w.payload_file = self.payload_file.clone();
        }
        set(&mut w.key_distribution, self.keys);
        set(&mut w.key_count, self.key_count);
        set(&mut w.producer_rate, self.rate);
        set(&mut w.acks, self.acks.clone());
        set(&mut w.compression, self.compression.clone());
        set(&mut w.linger_ms, self.linger_ms);
        set(&mut w.batch_size, self.batch_size);
        w.producer_config.extend(parse_kv(&self.producer_config)?);
        w.consumer_config.extend(parse_kv(&self.consumer_config)?);
        set(&mut w.warmup_s, self.warmup);
        if self.duration.is_some() {
            w.duration_s = self.duration;
        }
        if self.messages.is_some() {
            w.messages = self.messages;
        }
        set(&mut w.max_duration_s, self.max_duration);
        set(&mut w.drain_timeout_s, self.drain_timeout);
        w.validate()?;
        Ok(w)
    }
}

fn run(args: RunArgs) -> Result<()> {
    let w = args.workload()?;
    let result = runner::run(w, !args.quiet)?;
    print!("{}", result.summary_table());
    if let Some(p) = &args.out {
        result.write_json(p)?;
        eprintln!("result written to {}", p.display());
    }
    if let Some(p) = &args.plot {
        plot::write_svg(&result, p)?;
        eprintln!("plot written to {}", p.display());
    }
    if result.totals.expected_consumed > 0 && result.totals.missing > 0 {
        bail!(
            "consumers fell behind: {} acknowledged message(s) were not consumed within \
             drain_timeout_s (the result above counts them as missing)",
            result.totals.missing
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run(*args),
        Command::Compare { a, b } => {
            let ra = RunResult::read_json(&a)?;
            let rb = RunResult::read_json(&b)?;
            print!(
                "{}",
                report::compare_table(&ra, &a.display().to_string(), &rb, &b.display().to_string())
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_on_top_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.toml");
        std::fs::write(&f, "partitions = 3\nproducer_rate = 100\n").unwrap();
        let cli = Cli::try_parse_from([
            "runnel-loadgen",
            "run",
            f.to_str().unwrap(),
            "--partitions",
            "9",
            "--replication-factor",
            "3",
            "--topic-config",
            "min.insync.replicas=2",
            "--size-min",
            "20",
            "--size-max",
            "40",
            "--producer-config",
            "queue.buffering.max.ms=5",
            "--messages",
            "100",
            "--client",
            "lean",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        let w = args.workload().unwrap();
        assert_eq!(w.partitions, 9);
        assert_eq!(w.replication_factor, 3);
        assert_eq!(w.topic_config["min.insync.replicas"], "2");
        assert_eq!(w.producer_rate, 100.0);
        assert_eq!(w.message_size, MessageSize::Uniform { min: 20, max: 40 });
        assert_eq!(w.producer_config["queue.buffering.max.ms"], "5");
        assert_eq!(w.messages, Some(100));
        assert_eq!(w.client, ClientKind::Lean);
    }

    #[test]
    fn bad_overrides_are_rejected() {
        assert!(
            Cli::try_parse_from(["runnel-loadgen", "run", "--size", "10", "--size-min", "5"])
                .is_err()
        );
        let cli =
            Cli::try_parse_from(["runnel-loadgen", "run", "--producer-config", "novalue"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert!(args.workload().is_err());
    }
}
