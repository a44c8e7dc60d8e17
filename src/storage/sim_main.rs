//! `runnel-sim`: runs the log engine's deterministic simulation (`runnel_storage::simulation`)
//! over many seeds, or replays one.
//!
//! ```text
//! runnel-sim --seeds 10000          # seeds 0..10000
//! runnel-sim --seeds 500 --from 7000
//! runnel-sim --seed 1234            # replay one seed
//! ```
//!
//! Exits 1 at the first failing seed, printing it and the broken invariant.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<u64> {
        let i = args.iter().position(|a| a == name)?;
        match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => Some(v),
            None => {
                eprintln!("{name} needs a number");
                std::process::exit(2)
            }
        }
    };
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: runnel-sim [--seeds N] [--from S] | --seed S");
        return ExitCode::SUCCESS;
    }
    let (from, count) = match value("--seed") {
        Some(s) => (s, 1),
        None => (
            value("--from").unwrap_or(0),
            value("--seeds").unwrap_or(1000),
        ),
    };
    runnel_storage::simulation::raise_fd_limit();
    // glommio 0.9 keeps an eventfd of every executor it ever made, and every lifetime of a
    // seed is a new executor: long runs go through child processes of at most CHUNK seeds.
    const CHUNK: u64 = 1000;
    if count > CHUNK {
        let exe = std::env::current_exe().expect("the runnel-sim binary's path");
        let mut at = from;
        let end = from.saturating_add(count);
        while at < end {
            let n = CHUNK.min(end - at);
            let status = std::process::Command::new(&exe)
                .args(["--from", &at.to_string(), "--seeds", &n.to_string()])
                .status();
            if !status.is_ok_and(|s| s.success()) {
                return ExitCode::FAILURE;
            }
            at += n;
        }
        println!("all {count} seeds from {from} passed");
        return ExitCode::SUCCESS;
    }
    let started = std::time::Instant::now();
    let mut total = runnel_storage::simulation::Report::default();
    for seed in from..from.saturating_add(count) {
        match runnel_storage::simulation::run_seed_caught(seed) {
            Ok(r) => {
                total.lifetimes += r.lifetimes;
                total.acked += r.acked;
                total.failed_appends += r.failed_appends;
                total.power_losses += r.power_losses;
                total.faults += r.faults;
                total.truncations += r.truncations;
            }
            Err(e) => {
                eprintln!("seed {seed} FAILED: {e}");
                eprintln!("replay: cargo run -p runnel-storage --bin runnel-sim -- --seed {seed}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "{count} seeds passed in {:.1} s: {} lifetimes, {} power losses, {} batches acknowledged, {} appends failed, {} faults injected, {} truncations",
        started.elapsed().as_secs_f64(),
        total.lifetimes,
        total.power_losses,
        total.acked,
        total.failed_appends,
        total.faults,
        total.truncations
    );
    ExitCode::SUCCESS
}
