//! `runnel consume TOPIC`: reads records, from chosen partitions and offsets or as a member of
//! a consumer group, and prints them in a chosen [`Format`]. It stops after `--num` records, at
//! the end of the partitions (`--exit-at-end`), after `--idle-timeout` without records, or on
//! Ctrl-C / SIGTERM; in a group the offsets of the printed records are committed before it
//! leaves.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::common::{describe, partitions_of, CliError, CliResult, ConnArgs};
use super::format::{Format, Record, DEFAULT_FORMAT};

/// `runnel consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to read.
    topic: String,
    /// Consume as a member of this group (offsets are committed); without it the partitions
    /// are read directly and nothing is committed.
    #[arg(short, long)]
    group: Option<String>,
    /// Start at the earliest offset (the same as `--offset start`).
    #[arg(long, conflicts_with = "offset")]
    from_beginning: bool,
    /// Where to start: start, end, an offset N, or -N (N records before the end). In a group
    /// only start and end, and only for partitions without a committed offset.
    #[arg(short, long, allow_hyphen_values = true, default_value = "end")]
    offset: String,
    /// Partitions to read (repeatable; default all). Not with --group.
    #[arg(short, long = "partition", conflicts_with = "group")]
    partitions: Vec<i32>,
    /// Stop after this many records.
    #[arg(short, long)]
    num: Option<u64>,
    /// Stop when every partition read has been consumed up to its end.
    #[arg(short, long)]
    exit_at_end: bool,
    /// Stop after this many seconds without a record (0: never).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    idle_timeout: u64,
    /// Output format: `json`, or a template with %t %p %o %k %v %T %h (default `%v\n`).
    #[arg(short, long, default_value = DEFAULT_FORMAT)]
    format: String,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Beginning,
    End,
    At(i64),
    Tail(i64),
}

impl Start {
    fn parse(s: &str) -> CliResult<Start> {
        match s {
            "start" | "beginning" | "earliest" => Ok(Start::Beginning),
            "end" | "latest" => Ok(Start::End),
            _ => match s.parse::<i64>() {
                Ok(n) if n >= 0 && !s.starts_with('-') => Ok(Start::At(n)),
                Ok(n) if n < 0 => Ok(Start::Tail(-n)),
                _ => Err(CliError::usage(format!(
                    "--offset must be start, end, N or -N, got `{s}`"
                ))),
            },
        }
    }

    fn offset(self) -> Offset {
        match self {
            Start::Beginning => Offset::Beginning,
            Start::End => Offset::End,
            Start::At(n) => Offset::Offset(n),
            Start::Tail(n) => Offset::OffsetTail(n),
        }
    }
}

/// Runs `runnel consume`.
pub fn run(args: ConsumeArgs) -> CliResult {
    let conn = &args.conn;
    let start = if args.from_beginning {
        Start::Beginning
    } else {
        Start::parse(&args.offset)?
    };
    let format = Format::parse(&args.format)?;
    let reset = match start {
        Start::Beginning => "earliest",
        Start::End => "latest",
        _ if args.group.is_some() => {
            return Err(CliError::usage(
                "with --group, --offset can only be start or end",
            ))
        }
        _ => "latest",
    };
    let eof = if args.exit_at_end { "true" } else { "false" };
    let mut props = vec![
        ("auto.offset.reset", reset),
        ("enable.partition.eof", eof),
        ("enable.auto.offset.store", "false"),
    ];
    // librdkafka wants a group id even to assign partitions directly; without --group a
    // private one is used and nothing is committed to it.
    let private_group = format!("runnel-cli-{}", std::process::id());
    match &args.group {
        Some(g) => props.push(("group.id", g)),
        None => props.extend([
            ("group.id", private_group.as_str()),
            ("enable.auto.commit", "false"),
        ]),
    }
    let consumer: BaseConsumer = conn
        .client_config_with(&props)?
        .create()
        .map_err(|e| CliError::kafka("creating the consumer", &e))?;
    let all = partitions_of(&consumer, &args.topic, conn)?;
    if args.group.is_some() {
        consumer
            .subscribe(&[&args.topic])
            .map_err(|e| CliError::kafka("subscribing", &e))?;
    } else {
        let mut tpl = TopicPartitionList::new();
        let chosen = if args.partitions.is_empty() {
            all
        } else {
            if let Some(p) = args.partitions.iter().find(|p| !all.contains(p)) {
                return Err(CliError::code(
                    &format!("partition {}/{p}", args.topic),
                    RDKafkaErrorCode::UnknownPartition,
                ));
            }
            args.partitions.clone()
        };
        for p in chosen {
            tpl.add_partition_offset(&args.topic, p, start.offset())
                .map_err(|e| CliError::kafka("assigning partitions", &e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| CliError::kafka("assigning partitions", &e))?;
    }
    let stop = stop_flag()?;
    let result = consume_loop(&consumer, &args, &format, &stop);
    if args.group.is_some() {
        commit(&consumer)?;
    }
    result
}

/// A flag set by SIGINT (Ctrl-C) and SIGTERM. A second signal, while the first is still being
/// handled (the final commit), exits at once with status 130.
fn stop_flag() -> CliResult<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let failed = |e: std::io::Error| CliError::failed(format!("installing a signal handler: {e}"));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal.
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone()).map_err(failed)?;
        signal_hook::flag::register(sig, stop.clone()).map_err(failed)?;
    }
    Ok(stop)
}

fn consume_loop(
    consumer: &BaseConsumer,
    args: &ConsumeArgs,
    format: &Format,
    stop: &AtomicBool,
) -> CliResult {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut count = 0u64;
    let mut last_record = Instant::now();
    let idle = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut last_error: Option<String> = None;
    while !stop.load(Ordering::Relaxed) && args.num.is_none_or(|n| count < n) {
        if idle.is_some_and(|d| last_record.elapsed() >= d) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                last_record = Instant::now();
                if print(&mut out, format, &m).is_err() {
                    // Standard output is closed (e.g. piped into `head`): stop quietly.
                    break;
                }
                count += 1;
                if args.group.is_some() {
                    consumer
                        .store_offset_from_message(&m)
                        .map_err(|e| CliError::kafka("storing the offset", &e))?;
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
                if all_at_end(consumer, &at_end) {
                    break;
                }
            }
            Some(Err(e)) => {
                if let Some(code) = e.rdkafka_error_code().filter(|c| fatal(*c)) {
                    return Err(CliError::code(&format!("consuming {}", args.topic), code));
                }
                // Transient (a broker restarting, a rebalance): report once, keep going.
                let msg = e.to_string();
                if last_error.as_ref() != Some(&msg) {
                    eprintln!("runnel: warning: {msg}");
                    last_error = Some(msg);
                }
            }
        }
    }
    Ok(())
}

/// Errors after which consuming cannot go on.
fn fatal(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::UnknownPartition
            | C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::InvalidGroupId
            | C::Fatal
    )
}

/// True when every partition assigned to the consumer has reported its end.
fn all_at_end(consumer: &BaseConsumer, at_end: &HashSet<i32>) -> bool {
    match consumer.assignment() {
        Ok(tpl) if tpl.count() > 0 => tpl
            .elements()
            .iter()
            .all(|e| at_end.contains(&e.partition())),
        _ => false,
    }
}

fn print(out: &mut impl Write, format: &Format, m: &BorrowedMessage<'_>) -> std::io::Result<()> {
    let headers = m
        .headers()
        .map(|hs| hs.iter().map(|h| (h.key, h.value)).collect())
        .unwrap_or_default();
    let r = Record {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key(),
        value: m.payload(),
        timestamp: m.timestamp().to_millis(),
        headers,
    };
    format.write(out, &r)?;
    out.flush()
}

/// Commits the offsets of the records printed (a group member only).
fn commit(consumer: &BaseConsumer) -> CliResult {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => Ok(()),
        // Nothing was consumed, so there is nothing to commit.
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
        Err(e) => {
            let code = e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
            Err(CliError::failed(format!(
                "committing offsets: {}",
                describe(code)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Start;

    #[test]
    fn offsets_parse() {
        assert_eq!(Start::parse("start").ok(), Some(Start::Beginning));
        assert_eq!(Start::parse("end").ok(), Some(Start::End));
        assert_eq!(Start::parse("42").ok(), Some(Start::At(42)));
        assert_eq!(Start::parse("-3").ok(), Some(Start::Tail(3)));
        assert!(Start::parse("x").is_err());
        assert!(Start::parse("-0").is_err());
    }
}
