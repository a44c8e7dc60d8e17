//! What every client command shares: the connection flags (`--brokers`, `-X`, `--timeout`),
//! building librdkafka configurations from them, the error type with its exit codes, Kafka error
//! names, and small parsers for `key=value` arguments.

use std::fmt;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;

/// Default bootstrap address when neither `--brokers` nor `RUNNEL_BROKERS` is given.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// Process exit codes of the client commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything succeeded.
    Ok = 0,
    /// The broker refused a request (a Kafka error such as `TOPIC_ALREADY_EXISTS`), or some of
    /// the records could not be produced.
    Failed = 1,
    /// Bad command-line input (also what clap uses for unknown flags).
    Usage = 2,
    /// No broker could be reached, or a request timed out.
    Unreachable = 3,
}

/// An error of a client command: a message and the exit code it leads to.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: ExitCode,
    /// What went wrong, for standard error.
    pub msg: String,
}

impl CliError {
    /// A bad-input error (exit code 2).
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError {
            code: ExitCode::Usage,
            msg: msg.into(),
        }
    }

    /// A failed operation (exit code 1).
    pub fn failed(msg: impl Into<String>) -> CliError {
        CliError {
            code: ExitCode::Failed,
            msg: msg.into(),
        }
    }

    /// An error from librdkafka while doing `what`; transport failures and timeouts become
    /// exit code 3, everything else exit code 1.
    pub fn kafka(what: &str, e: &KafkaError) -> CliError {
        match code_of(e) {
            Some(code) => CliError::code(what, code),
            None => CliError::failed(format!("{what}: {e}")),
        }
    }

    /// An error code returned by the broker (or by librdkafka) for `what`.
    pub fn code(what: &str, code: RDKafkaErrorCode) -> CliError {
        CliError {
            code: if unreachable(code) {
                ExitCode::Unreachable
            } else {
                ExitCode::Failed
            },
            msg: format!("{what}: {}", describe(code)),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CliError {}

/// Result of a client command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// True for the errors that mean "could not talk to the broker" rather than "the broker said no".
fn unreachable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::OperationTimedOut
            | C::MessageTimedOut
            | C::RequestTimedOut
            | C::Resolve
            | C::TimedOutQueue
            | C::NetworkException
    )
}

/// The error code inside a librdkafka error, including admin-operation errors.
pub fn code_of(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    match e {
        KafkaError::AdminOp(code) => Some(*code),
        e => e.rdkafka_error_code(),
    }
}

/// `TOPIC_ALREADY_EXISTS (Broker: Topic already exists)`: the Kafka name and librdkafka's
/// description of an error code.
pub fn describe(code: RDKafkaErrorCode) -> String {
    // RDKafkaErrorCode's Display is `Name (description)`: keep the description only.
    let shown = code.to_string();
    let name = format!("{code:?}");
    let text = shown
        .strip_prefix(&name)
        .map(|t| t.trim().trim_start_matches('(').trim_end_matches(')'))
        .unwrap_or(&shown);
    format!("{} ({text})", error_name(code))
}

/// The Kafka name of an error code, e.g. `TOPIC_ALREADY_EXISTS`.
pub fn error_name(code: RDKafkaErrorCode) -> String {
    screaming_snake(&format!("{code:?}"))
}

/// `TopicAlreadyExists` -> `TOPIC_ALREADY_EXISTS`.
pub fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The connection flags shared by every client command.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(
        long,
        global = true,
        env = "RUNNEL_BROKERS",
        default_value = DEFAULT_BROKERS,
        value_name = "HOST:PORT,..."
    )]
    pub brokers: String,
    /// Extra librdkafka client property, e.g. `-X security.protocol=ssl` (repeatable).
    #[arg(
        short = 'X',
        long = "client-property",
        global = true,
        value_name = "KEY=VALUE"
    )]
    pub client_properties: Vec<String>,
    /// Seconds to wait for each request before giving up.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
    /// A properties file of client settings (`key=value` lines, as Kafka tools'
    /// `--command-config`): `security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `sasl.password` or `sasl.jaas.config`, ...; `-X` overrides it.
    #[arg(long, global = true, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
}

impl ConnArgs {
    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// A librdkafka configuration with the bootstrap brokers, the `-X` properties and quiet
    /// logging (errors are reported by the command itself).
    pub fn client_config(&self) -> CliResult<ClientConfig> {
        self.client_config_with(&[])
    }

    /// Like [`Self::client_config`] with the command's own properties; `-X` overrides them.
    pub fn client_config_with(&self, props: &[(&str, &str)]) -> CliResult<ClientConfig> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", "runnel-cli")
            .set("log_level", "3")
            .set(
                "socket.timeout.ms",
                (self.timeout().as_millis()).to_string(),
            );
        for (k, v) in props {
            c.set(*k, *v);
        }
        for (k, v) in self.properties()? {
            if k == "sasl.jaas.config" {
                // Kafka's form of the SASL login: librdkafka takes the two fields.
                let (user, password) = super::sasl::jaas_credentials(&v);
                if let Some(u) = user {
                    c.set("sasl.username", u);
                }
                if let Some(p) = password {
                    c.set("sasl.password", p);
                }
                continue;
            }
            c.set(k, v);
        }
        Ok(c)
    }

    /// The client properties: the `--command-config` file's, then `-X`'s (later ones win).
    pub fn properties(&self) -> CliResult<Vec<(String, String)>> {
        let mut out = match &self.command_config {
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::usage(format!("--command-config {}: {e}", path.display()))
                })?;
                parse_properties(&text)
            }
        };
        for kv in &self.client_properties {
            let (k, v) = parse_key_value(kv)?;
            out.push((k.to_string(), v.to_string()));
        }
        Ok(out)
    }

    /// A consumer that joins no group: metadata, watermarks and group lists.
    pub fn plain_consumer(&self) -> CliResult<BaseConsumer> {
        self.client_config_with(&[("enable.auto.commit", "false")])?
            .create()
            .map_err(|e| CliError::kafka("creating the client", &e))
    }

    /// The bootstrap brokers as a list of HOST:PORT.
    pub fn broker_list(&self) -> Vec<String> {
        self.brokers
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Fetches metadata for one topic, or all topics when `topic` is `None`.
pub fn metadata(c: &BaseConsumer, topic: Option<&str>, conn: &ConnArgs) -> CliResult<Metadata> {
    c.fetch_metadata(topic, conn.timeout())
        .map_err(|e| CliError::kafka("fetching metadata", &e))
}

/// The partition ids of `topic`, sorted, or an `UNKNOWN_TOPIC_OR_PART` error.
pub fn partitions_of(c: &BaseConsumer, topic: &str, conn: &ConnArgs) -> CliResult<Vec<i32>> {
    let md = metadata(c, Some(topic), conn)?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Err(CliError::code(
            &format!("topic {topic}"),
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    };
    if let Some(e) = t.error() {
        return Err(CliError::code(&format!("topic {topic}"), e.into()));
    }
    let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    if ps.is_empty() {
        return Err(CliError::code(
            &format!("topic {topic}"),
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    ps.sort_unstable();
    Ok(ps)
}

/// Prints rows under a header, each column padded to its widest cell (the last one unpadded).
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
}

/// Splits `key=value` at the first `=`; the key must not be empty.
pub fn parse_key_value(s: &str) -> CliResult<(&str, &str)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => Err(CliError::usage(format!("expected KEY=VALUE, got `{s}`"))),
    }
}

/// The `key=value` (or `key: value`) entries of a Java properties file: `#` and `!` lines are
/// comments, a line ending in `\` goes on on the next one.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut line = String::new();
    for raw in text.lines() {
        let part = if line.is_empty() {
            raw.trim()
        } else {
            raw.trim_start()
        };
        if let Some(cont) = part.strip_suffix('\\') {
            line.push_str(cont);
            continue;
        }
        line.push_str(part);
        let entry = std::mem::take(&mut line);
        if entry.is_empty() || entry.starts_with('#') || entry.starts_with('!') {
            continue;
        }
        let at = entry.find(['=', ':']).unwrap_or(entry.len());
        let (k, v) = entry.split_at(at);
        let v = v.get(1..).unwrap_or("");
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// Runs a future to completion on this thread (rdkafka's admin futures are driven by its own
/// background thread; this only waits).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures_lite::future::block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_kafka_style() {
        assert_eq!(
            error_name(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            describe(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS (Broker: Topic already exists)"
        );
        assert_eq!(screaming_snake("NonEmptyGroup"), "NON_EMPTY_GROUP");
    }

    #[test]
    fn properties_files_are_read_as_java_reads_them() {
        let text = "# a comment\n! another\n\nsecurity.protocol=SASL_PLAINTEXT\n\
                    sasl.mechanism : SCRAM-SHA-512\n\
                    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n  \
                    required username=\"alice\" password=\"a=b\";\n";
        assert_eq!(
            parse_properties(text),
            vec![
                (
                    "security.protocol".to_string(),
                    "SASL_PLAINTEXT".to_string()
                ),
                ("sasl.mechanism".to_string(), "SCRAM-SHA-512".to_string()),
                (
                    "sasl.jaas.config".to_string(),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required \
                     username=\"alice\" password=\"a=b\";"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn key_values_split_at_the_first_equals_sign() {
        assert_eq!(parse_key_value("a=b=c").ok(), Some(("a", "b=c")));
        assert_eq!(parse_key_value("a=").ok(), Some(("a", "")));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }
}
