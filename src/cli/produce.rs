//! `runnel produce TOPIC`: one record per line of standard input, optionally split into key and
//! value at a separator, with the partition and offset of each record printed as it is
//! acknowledged (or only a summary with `--quiet`).

use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message};

use super::common::{describe, parse_key_value, CliError, CliResult, ConnArgs};

/// `runnel produce`.
#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to produce to.
    topic: String,
    /// Split each line into key and value at the first occurrence of SEP (lines without it
    /// have no key).
    #[arg(short = 'k', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// Partition to produce to (default: chosen by the key hash, or spread when keyless).
    #[arg(short, long)]
    partition: Option<i32>,
    /// Acknowledgements: all (-1), 1 or 0.
    #[arg(long, default_value = "all", value_parser = ["all", "-1", "1", "0"])]
    acks: String,
    /// Header added to every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// Compression codec.
    #[arg(long, default_value = "none", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    compression: String,
    /// Print only a summary line instead of one line per record.
    #[arg(short, long)]
    quiet: bool,
}

/// Delivery reports, forwarded from librdkafka's callback to the main loop.
struct Reports(mpsc::Sender<Delivered>);

/// One delivery report: (partition, offset) or the error.
type Delivered = Result<(i32, i64), RDKafkaErrorCode>;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let report = match r {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail)),
        };
        let _ = self.0.send(report);
    }
}

/// Counts of what happened, and the first error seen.
#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    failed: u64,
    first_error: Option<RDKafkaErrorCode>,
}

/// Runs `runnel produce`.
pub fn run(args: ProduceArgs) -> CliResult {
    let conn = &args.conn;
    let acks = if args.acks == "-1" { "all" } else { &args.acks };
    let timeout_ms = conn.timeout().as_millis().to_string();
    let (tx, reports) = mpsc::channel();
    let producer: BaseProducer<Reports> = conn
        .client_config_with(&[
            ("acks", acks),
            ("compression.codec", &args.compression),
            ("linger.ms", "5"),
            ("message.timeout.ms", &timeout_ms),
        ])?
        .create_with_context(Reports(tx))
        .map_err(|e| CliError::kafka("creating the producer", &e))?;
    let mut headers = Vec::with_capacity(args.headers.len());
    for h in &args.headers {
        headers.push(parse_key_value(h)?);
    }
    let sep = match args.key_separator.as_deref() {
        Some("") => return Err(CliError::usage("--key-separator must not be empty")),
        s => s.map(str::as_bytes),
    };

    let lines = spawn_line_reader();
    let mut tally = Tally::default();
    let mut stdin_open = true;
    while stdin_open {
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(line)) => {
                let (key, value) = split_line(&line, sep);
                let mut rec = BaseRecord::to(&args.topic).payload(value);
                if let Some(k) = key {
                    rec = rec.key(k);
                }
                if let Some(p) = args.partition {
                    rec = rec.partition(p);
                }
                if !headers.is_empty() {
                    let hs = headers.iter().fold(OwnedHeaders::new(), |hs, (k, v)| {
                        hs.insert(Header {
                            key: k,
                            value: Some(v.as_bytes()),
                        })
                    });
                    rec = rec.headers(hs);
                }
                send(&producer, rec)?;
                tally.sent += 1;
            }
            Ok(Err(e)) => return Err(CliError::failed(format!("reading standard input: {e}"))),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => stdin_open = false,
        }
        producer.poll(Duration::ZERO);
        drain(&reports, &mut tally, args.quiet);
    }
    // Everything is read: wait for the outstanding acknowledgements (bounded by
    // message.timeout.ms, after which librdkafka fails the records).
    let _ = producer.flush(conn.timeout() + Duration::from_secs(5));
    drain(&reports, &mut tally, args.quiet);
    finish(&args.topic, &tally, args.quiet)
}

/// Reads standard input line by line on its own thread, so that acknowledgements are printed
/// while the user is still typing.
fn spawn_line_reader() -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel(1024);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if tx.send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// Splits a line into (key, value) at the first `sep`; no separator (or none given) means no key.
fn split_line<'a>(line: &'a [u8], sep: Option<&[u8]>) -> (Option<&'a [u8]>, &'a [u8]) {
    let Some(sep) = sep else {
        return (None, line);
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (Some(&line[..i]), &line[i + sep.len()..]),
        None => (None, line),
    }
}

/// Enqueues a record, waiting while librdkafka's queue is full.
fn send(p: &BaseProducer<Reports>, mut rec: BaseRecord<'_, [u8], [u8]>) -> CliResult {
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                rec = r;
                p.poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(CliError::kafka("producing", &e)),
        }
    }
}

/// Prints the delivery reports received so far.
fn drain(reports: &mpsc::Receiver<Delivered>, tally: &mut Tally, quiet: bool) {
    while let Ok(r) = reports.try_recv() {
        match r {
            Ok((partition, offset)) => {
                tally.ok += 1;
                if !quiet {
                    // acks=0 has no offset to report.
                    let offset = if offset < 0 {
                        "-".to_string()
                    } else {
                        offset.to_string()
                    };
                    println!("partition {partition} offset {offset}");
                }
            }
            Err(code) => {
                tally.failed += 1;
                tally.first_error.get_or_insert(code);
                eprintln!("runnel: record not produced: {}", describe(code));
            }
        }
    }
}

fn finish(topic: &str, t: &Tally, quiet: bool) -> CliResult {
    if quiet {
        println!("produced {} record(s) to {topic}", t.ok);
    }
    let missing = t.sent - t.ok - t.failed;
    if t.failed == 0 && missing == 0 {
        return Ok(());
    }
    let what = format!(
        "{} of {} record(s) not produced to {topic}",
        t.failed + missing,
        t.sent
    );
    Err(CliError::code(
        &what,
        t.first_error.unwrap_or(RDKafkaErrorCode::MessageTimedOut),
    ))
}

#[cfg(test)]
mod tests {
    use super::split_line;

    #[test]
    fn lines_split_at_the_first_separator() {
        let sep = Some(&b"::"[..]);
        assert_eq!(split_line(b"k::v::w", sep), (Some(&b"k"[..]), &b"v::w"[..]));
        assert_eq!(split_line(b"no-key", sep), (None, &b"no-key"[..]));
        assert_eq!(split_line(b"::v", sep), (Some(&b""[..]), &b"v"[..]));
        assert_eq!(split_line(b"a:b", None), (None, &b"a:b"[..]));
    }
}
