//! The workload description: what to create, how many clients, what to send and for how long.
//!
//! A workload is read from a TOML file (every field has a default, so an empty file is a valid
//! workload), then command-line overrides are applied, then it is validated. The validated
//! workload is written verbatim into the JSON result so a run can be reproduced.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::payload::HEADER_LEN;

/// Hard upper bound on how long any run may last, whatever the workload says (seconds).
pub const ABSOLUTE_MAX_DURATION_S: f64 = 3600.0;

/// Size of each message value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageSize {
    /// Every message has exactly this many bytes.
    Fixed(usize),
    /// Each message size is drawn uniformly from `min..=max` bytes.
    Uniform {
        /// Smallest size, in bytes.
        min: usize,
        /// Largest size, in bytes.
        max: usize,
    },
}

impl MessageSize {
    /// The largest message this distribution can produce.
    pub fn max_len(&self) -> usize {
        match self {
            MessageSize::Fixed(n) => *n,
            MessageSize::Uniform { max, .. } => *max,
        }
    }

    /// The smallest message this distribution can produce.
    pub fn min_len(&self) -> usize {
        match self {
            MessageSize::Fixed(n) => *n,
            MessageSize::Uniform { min, .. } => *min,
        }
    }
}

/// How message keys are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDistribution {
    /// No key: the client's partitioner spreads messages.
    None,
    /// Keys cycle through `key_count` distinct values.
    RoundRobin,
    /// Keys are drawn at random from `key_count` distinct values.
    Random,
}

/// How consumers get their partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConsumerMode {
    /// Each subscription is one consumer group; the broker's group coordinator assigns
    /// partitions.
    Group,
    /// Each consumer is assigned a fixed share of the partitions, starting at the end offset
    /// taken before producing starts. No group coordinator is involved.
    Assign,
}

/// Which Kafka client library the producers and consumers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// librdkafka through the `rdkafka` crate (what users run).
    #[default]
    Rdkafka,
    /// The lean client on `kafka-protocol`: static partition assignment, no groups, no
    /// idempotence or transactions (see docs/loadgen.md).
    Lean,
}

/// A complete workload. Field names are the TOML keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Free-form name, copied into the result.
    pub name: String,
    /// `bootstrap.servers` for every client.
    pub bootstrap: String,
    /// Number of topics.
    pub topics: usize,
    /// Client library: `rdkafka` (default) or `lean`.
    pub client: ClientKind,
    /// Topic names are `{topic_prefix}-{index}`.
    pub topic_prefix: String,
    /// Partitions per topic.
    pub partitions: i32,
    /// Replication factor of the topics the run creates (1 = one copy; a cluster needs at
    /// least this many live brokers).
    pub replication_factor: i16,
    /// Topic configs for the topics the run creates (for example `min.insync.replicas`).
    pub topic_config: BTreeMap<String, String>,
    /// Delete the topics (if present) and create them again before the run. If false, existing
    /// topics are reused and missing ones are created.
    pub recreate_topics: bool,
    /// Delete the topics after the run.
    pub delete_topics_after: bool,
    /// Producers per topic (each is one thread and one librdkafka producer).
    pub producers_per_topic: usize,
    /// Subscriptions per topic; every subscription receives every message.
    pub subscriptions_per_topic: usize,
    /// Consumers per subscription (0 = produce only).
    pub consumers_per_subscription: usize,
    /// How consumers get partitions.
    pub consumer_mode: ConsumerMode,
    /// Value size.
    pub message_size: MessageSize,
    /// If set, every value is this file's content (its first bytes are overwritten by the
    /// timestamp header); `message_size` is then ignored.
    pub payload_file: Option<String>,
    /// How keys are chosen.
    pub key_distribution: KeyDistribution,
    /// Number of distinct keys for `round-robin` and `random`.
    pub key_count: usize,
    /// Total producer rate in messages per second over all producers; 0 = as fast as possible.
    pub producer_rate: f64,
    /// `acks` producer setting: "0", "1" or "all".
    pub acks: String,
    /// `compression.type`: none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    /// `linger.ms`.
    pub linger_ms: f64,
    /// `batch.size` in bytes.
    pub batch_size: usize,
    /// Extra librdkafka properties for every producer (applied last, so they win).
    pub producer_config: BTreeMap<String, String>,
    /// Extra librdkafka properties for every consumer (applied last, so they win).
    pub consumer_config: BTreeMap<String, String>,
    /// Warm-up seconds: traffic flows but latencies are not recorded and throughput is not
    /// counted.
    pub warmup_s: f64,
    /// Measured seconds. If unset: 10 s, or `max_duration_s` when `messages` is set.
    pub duration_s: Option<f64>,
    /// Stop after this many messages have been sent in the measured phase.
    pub messages: Option<u64>,
    /// Hard cap on the measured phase, whatever `duration_s` and `messages` say.
    pub max_duration_s: f64,
    /// After producing stops: how long to wait for outstanding deliveries and for consumers to
    /// catch up.
    pub drain_timeout_s: f64,
    /// How long to wait for topics to be created and consumers to get their partitions.
    pub setup_timeout_s: f64,
    /// Backlog mode (the OpenMessaging Benchmark's consumer backlog): consumers stay idle while
    /// the producers run, then read everything produced (warm-up included) as fast as they can,
    /// with the producers stopped. The drain is reported as its own consume throughput.
    /// Consumers use static assignment from the end offsets taken before producing.
    pub backlog: bool,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            name: "default".into(),
            bootstrap: "127.0.0.1:9092".into(),
            topics: 1,
            client: ClientKind::Rdkafka,
            topic_prefix: "loadgen".into(),
            partitions: 6,
            replication_factor: 1,
            topic_config: BTreeMap::new(),
            recreate_topics: true,
            delete_topics_after: false,
            producers_per_topic: 1,
            subscriptions_per_topic: 1,
            consumers_per_subscription: 1,
            consumer_mode: ConsumerMode::Group,
            message_size: MessageSize::Fixed(1024),
            payload_file: None,
            key_distribution: KeyDistribution::None,
            key_count: 1024,
            producer_rate: 0.0,
            acks: "all".into(),
            compression: "none".into(),
            linger_ms: 1.0,
            batch_size: 131072,
            producer_config: BTreeMap::new(),
            consumer_config: BTreeMap::new(),
            warmup_s: 2.0,
            duration_s: None,
            messages: None,
            max_duration_s: 600.0,
            drain_timeout_s: 30.0,
            setup_timeout_s: 30.0,
            backlog: false,
        }
    }
}

impl Workload {
    /// Parses a workload from TOML text (unknown keys are an error).
    pub fn from_toml(text: &str) -> Result<Workload> {
        toml::from_str(text).context("invalid workload")
    }

    /// Reads and parses a workload file.
    pub fn from_file(path: &Path) -> Result<Workload> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading workload {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Topic names, in order.
    pub fn topic_names(&self) -> Vec<String> {
        (0..self.topics)
            .map(|i| format!("{}-{}", self.topic_prefix, i))
            .collect()
    }

    /// Length of the measured phase, in seconds: `duration_s`, or `max_duration_s` when only a
    /// message count bounds the run, never more than `max_duration_s`.
    pub fn measure_s(&self) -> f64 {
        let d = match (self.duration_s, self.messages) {
            (Some(d), _) => d,
            (None, Some(_)) => self.max_duration_s,
            (None, None) => 10.0,
        };
        d.min(self.max_duration_s)
    }

    /// Checks that the workload makes sense; returns a readable error otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.bootstrap.is_empty() {
            bail!("bootstrap must not be empty");
        }
        if self.topics == 0 || self.partitions <= 0 {
            bail!("topics and partitions must be at least 1");
        }
        if self.replication_factor <= 0 {
            bail!("replication_factor must be at least 1");
        }
        if self.producers_per_topic == 0 {
            bail!("producers_per_topic must be at least 1");
        }
        if self.backlog
            && (self.consumers_per_subscription == 0 || self.subscriptions_per_topic == 0)
        {
            bail!("backlog mode needs consumers (consumers_per_subscription and subscriptions_per_topic >= 1)");
        }
        if self.payload_file.is_none() {
            if let MessageSize::Uniform { min, max } = self.message_size {
                if min > max {
                    bail!("message_size: min {min} > max {max}");
                }
            }
            if self.message_size.min_len() < HEADER_LEN {
                bail!("message_size must be at least {HEADER_LEN} bytes (the timestamp header)");
            }
        }
        if self.key_distribution != KeyDistribution::None && self.key_count == 0 {
            bail!("key_count must be at least 1");
        }
        if !self.producer_rate.is_finite() || self.producer_rate < 0.0 {
            bail!("producer_rate must be >= 0 (0 = as fast as possible)");
        }
        for (what, v) in [
            ("warmup_s", self.warmup_s),
            ("max_duration_s", self.max_duration_s),
            ("drain_timeout_s", self.drain_timeout_s),
            ("setup_timeout_s", self.setup_timeout_s),
            ("duration_s", self.duration_s.unwrap_or(0.0)),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!("{what} must be a non-negative number of seconds");
            }
        }
        if self.max_duration_s <= 0.0 || self.max_duration_s > ABSOLUTE_MAX_DURATION_S {
            bail!("max_duration_s must be in (0, {ABSOLUTE_MAX_DURATION_S}]");
        }
        if self.warmup_s > ABSOLUTE_MAX_DURATION_S {
            bail!("warmup_s must be at most {ABSOLUTE_MAX_DURATION_S}");
        }
        if self.messages == Some(0) {
            bail!("messages must be at least 1 when set");
        }
        if !["0", "1", "all", "-1"].contains(&self.acks.as_str()) {
            bail!("acks must be 0, 1, all or -1");
        }
        Ok(())
    }

    /// librdkafka properties for producers, in the order they are applied.
    pub fn producer_properties(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("bootstrap.servers".to_string(), self.bootstrap.clone()),
            ("acks".to_string(), self.acks.clone()),
            ("compression.type".to_string(), self.compression.clone()),
            ("linger.ms".to_string(), self.linger_ms.to_string()),
            ("batch.size".to_string(), self.batch_size.to_string()),
        ];
        p.extend(
            self.producer_config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        p
    }

    /// librdkafka properties for consumers, in the order they are applied (group.id is added by
    /// the consumer itself).
    pub fn consumer_properties(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("bootstrap.servers".to_string(), self.bootstrap.clone()),
            ("auto.offset.reset".to_string(), "earliest".to_string()),
            ("enable.auto.commit".to_string(), "true".to_string()),
        ];
        p.extend(
            self.consumer_config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_workload() {
        let w = Workload::from_toml("").unwrap();
        assert_eq!(w, Workload::default());
        w.validate().unwrap();
        assert_eq!(w.measure_s(), 10.0);
    }

    #[test]
    fn parses_every_kind_of_field() {
        let w = Workload::from_toml(
            r#"
            name = "t"
            bootstrap = "127.0.0.1:19092"
            topics = 2
            partitions = 12
            replication_factor = 3
            message_size = { min = 100, max = 200 }
            key_distribution = "round-robin"
            consumer_mode = "assign"
            producer_rate = 5000
            messages = 1000
            warmup_s = 0
            [producer_config]
            "queue.buffering.max.kbytes" = "65536"
            [topic_config]
            "min.insync.replicas" = "2"
            "#,
        )
        .unwrap();
        w.validate().unwrap();
        assert_eq!(w.message_size, MessageSize::Uniform { min: 100, max: 200 });
        assert_eq!(w.key_distribution, KeyDistribution::RoundRobin);
        assert_eq!(w.consumer_mode, ConsumerMode::Assign);
        assert_eq!(w.topic_names(), vec!["loadgen-0", "loadgen-1"]);
        assert_eq!(w.replication_factor, 3);
        assert_eq!(w.topic_config["min.insync.replicas"], "2");
        // A count-bounded run is still capped in time.
        assert_eq!(w.measure_s(), w.max_duration_s);
        let props = w.producer_properties();
        assert_eq!(props.last().unwrap().0, "queue.buffering.max.kbytes");
        let fixed = Workload::from_toml("message_size = 64").unwrap();
        assert_eq!(fixed.message_size, MessageSize::Fixed(64));
    }

    #[test]
    fn rejects_bad_workloads() {
        assert!(Workload::from_toml("no_such_key = 1").is_err());
        let bad = [
            "message_size = 8",
            "message_size = { min = 300, max = 200 }",
            "partitions = 0",
            "replication_factor = 0",
            "producer_rate = -1",
            "acks = \"some\"",
            "max_duration_s = 100000",
            "messages = 0",
        ];
        for text in bad {
            let w = Workload::from_toml(text).unwrap();
            assert!(w.validate().is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn bundled_workloads_are_valid() {
        let files = [
            include_str!("../workloads/max-rate-1k.toml"),
            include_str!("../workloads/fixed-rate-latency.toml"),
            include_str!("../workloads/many-partitions.toml"),
            include_str!("../workloads/small-100b.toml"),
        ];
        for text in files {
            let w = Workload::from_toml(text).unwrap();
            w.validate().unwrap();
            assert!(w.measure_s() <= 10.0 && w.warmup_s <= 2.0, "{}", w.name);
        }
    }

    #[test]
    fn duration_is_capped() {
        let w = Workload::from_toml("duration_s = 50\nmax_duration_s = 5").unwrap();
        assert_eq!(w.measure_s(), 5.0);
    }
}
