//! Topic-level configs: the known keys ([`defs::TOPIC_CONFIGS`]), validation of values given to
//! CreateTopics and the alter APIs, and resolution of a topic's overrides over the broker's
//! defaults into the typed [`TopicConfig`] the storage engine runs with.

pub mod alter;
pub mod defs;
pub mod describe;

use std::collections::BTreeMap;

use crate::errors::{ErrorMessage, KafkaError};

pub use defs::{Check, ConfigDef, ConfigType, TOPIC_CONFIGS};

/// Looks up a topic-level config by name.
pub fn def(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Checks `value` for the topic config `name`: INVALID_CONFIG with Kafka's message otherwise.
pub fn validate(name: &str, value: &str) -> Result<(), ErrorMessage> {
    let invalid = |m: String| ErrorMessage::new(KafkaError::InvalidConfig, m);
    let d = def(name).ok_or_else(|| invalid(format!("Unknown topic config name: {name}")))?;
    let bad = |why: &str| {
        Err(invalid(format!(
            "Invalid value {value} for configuration {name}: {why}"
        )))
    };
    let v = value.trim();
    match d.kind {
        ConfigType::Boolean => {
            if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                return bad("Expected value to be either true or false");
            }
        }
        ConfigType::Int | ConfigType::Long => {
            let n: i64 = match v.parse() {
                Ok(n) => n,
                Err(_) => return bad("Not a number of type LONG"),
            };
            if d.kind == ConfigType::Int && i32::try_from(n).is_err() {
                return bad("Not a number of type INT");
            }
            if let Check::AtLeast(min) = d.check {
                if n < min {
                    return bad(&format!("Value must be at least {min}"));
                }
            }
        }
        ConfigType::Double => {
            let x: f64 = match v.parse() {
                Ok(x) => x,
                Err(_) => return bad("Not a number of type DOUBLE"),
            };
            if let Check::Between(lo, hi) = d.check {
                if !(lo..=hi).contains(&x) {
                    return bad(&format!("Value must be between {lo} and {hi}"));
                }
            }
        }
        ConfigType::String => {
            if let Check::OneOf(words) = d.check {
                if !words.contains(&v) {
                    return bad(&format!("String must be one of: {}", words.join(", ")));
                }
            }
        }
        ConfigType::List => {
            if let Check::ListOf(words) = d.check {
                let items: Vec<&str> = v.split(',').map(str::trim).collect();
                if items.iter().any(|i| !words.contains(i)) || items.is_empty() {
                    return bad(&format!("List items must be among: {}", words.join(", ")));
                }
            }
        }
    }
    Ok(())
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Set on the topic.
    Topic,
    /// Set in the broker configuration (its `broker_key`).
    Broker,
    /// Built-in default.
    Default,
}

/// The broker's defaults for topic configs: topic key → value, from the broker configuration
/// (`broker_key` of each def) or the built-in default.
#[derive(Debug, Clone, Default)]
pub struct TopicDefaults {
    values: BTreeMap<&'static str, (String, Source)>,
}

impl TopicDefaults {
    /// Builds the defaults, taking each def's broker key from `broker` when present there.
    pub fn from_broker(broker: &BTreeMap<String, String>) -> TopicDefaults {
        let mut values = BTreeMap::new();
        for d in TOPIC_CONFIGS {
            let v = match broker.get(d.broker_key) {
                Some(v) if validate(d.name, v).is_ok() => (v.clone(), Source::Broker),
                _ => (d.default.to_string(), Source::Default),
            };
            values.insert(d.name, v);
        }
        TopicDefaults { values }
    }

    /// The broker-level value of topic config `name`, and where it comes from.
    pub fn get(&self, name: &str) -> Option<(&str, Source)> {
        self.values.get(name).map(|(v, s)| (v.as_str(), *s))
    }
}

/// The effective value of `name` for a topic with `overrides`.
pub fn effective<'a>(
    name: &str,
    overrides: &'a BTreeMap<String, String>,
    defaults: &'a TopicDefaults,
) -> Option<(&'a str, Source)> {
    match overrides.get(name) {
        Some(v) if validate(name, v).is_ok() => Some((v.as_str(), Source::Topic)),
        _ => defaults.get(name),
    }
}

/// A topic's configs, typed, as the storage engine uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// `cleanup.policy` includes delete.
    pub delete: bool,
    /// `cleanup.policy` includes compact.
    pub compact: bool,
    /// `retention.ms` (-1: forever).
    pub retention_ms: i64,
    /// `retention.bytes` (-1: no limit).
    pub retention_bytes: i64,
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `segment.ms`.
    pub segment_ms: i64,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_ratio: f64,
    /// `max.message.bytes`.
    pub max_message_bytes: usize,
    /// `flush.messages`.
    pub flush_messages: u64,
    /// `index.interval.bytes`.
    pub index_interval_bytes: u64,
    /// `preallocate`.
    pub preallocate: bool,
    /// `message.timestamp.type` is LogAppendTime.
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`.
    pub timestamp_after_max_ms: i64,
    /// `compression.type` as a batch codec id; `None` for `producer`.
    pub codec: Option<i16>,
    /// `min.insync.replicas`.
    pub min_insync_replicas: i64,
}

/// What the produce path needs to know about a topic, resolved once per topic-table change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProducePolicy {
    /// Largest batch accepted (`max.message.bytes`).
    pub max_message_bytes: usize,
    /// Stamp batches with the append time (`message.timestamp.type=LogAppendTime`).
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`.
    pub timestamp_after_max_ms: i64,
    /// Codec batches are stored with; `None` keeps the producer's.
    pub codec: Option<i16>,
    /// `min.insync.replicas`: above 1, acks=all cannot be satisfied by a single node.
    pub min_insync_replicas: i64,
    /// `cleanup.policy` includes compact: every record must carry a key.
    pub requires_keys: bool,
}

impl From<&TopicConfig> for ProducePolicy {
    fn from(t: &TopicConfig) -> ProducePolicy {
        ProducePolicy {
            max_message_bytes: t.max_message_bytes,
            log_append_time: t.log_append_time,
            timestamp_before_max_ms: t.timestamp_before_max_ms,
            timestamp_after_max_ms: t.timestamp_after_max_ms,
            codec: t.codec,
            min_insync_replicas: t.min_insync_replicas,
            requires_keys: t.compact,
        }
    }
}

impl TopicConfig {
    /// Resolves `overrides` over `defaults`; invalid overrides fall back to the default.
    pub fn resolve(overrides: &BTreeMap<String, String>, defaults: &TopicDefaults) -> TopicConfig {
        let s = |n: &str| effective(n, overrides, defaults).map_or("", |(v, _)| v);
        let i = |n: &str| {
            s(n).trim().parse::<i64>().unwrap_or_else(|_| {
                def(n)
                    .and_then(|d| d.default.parse().ok())
                    .unwrap_or_default()
            })
        };
        let policy = s("cleanup.policy");
        TopicConfig {
            delete: policy.split(',').any(|p| p.trim() == "delete"),
            compact: policy.split(',').any(|p| p.trim() == "compact"),
            retention_ms: i("retention.ms"),
            retention_bytes: i("retention.bytes"),
            // Below a few KiB a segment holds too little to be useful with aligned writes.
            segment_bytes: i("segment.bytes").max(1024) as u64,
            segment_ms: i("segment.ms").max(1),
            delete_retention_ms: i("delete.retention.ms").max(0),
            min_compaction_lag_ms: i("min.compaction.lag.ms").max(0),
            max_compaction_lag_ms: i("max.compaction.lag.ms").max(1),
            min_cleanable_ratio: s("min.cleanable.dirty.ratio").trim().parse().unwrap_or(0.5),
            max_message_bytes: i("max.message.bytes").max(0) as usize,
            flush_messages: i("flush.messages").max(1) as u64,
            index_interval_bytes: i("index.interval.bytes").max(1) as u64,
            preallocate: s("preallocate").trim().eq_ignore_ascii_case("true"),
            log_append_time: s("message.timestamp.type").trim() == "LogAppendTime",
            timestamp_before_max_ms: i("message.timestamp.before.max.ms").max(0),
            timestamp_after_max_ms: i("message.timestamp.after.max.ms").max(0),
            codec: crate::storage::convert::codec_by_name(s("compression.type")),
            min_insync_replicas: i("min.insync.replicas").max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_types_and_checks() {
        assert!(validate("retention.ms", "1000").is_ok());
        assert!(validate("retention.ms", "-1").is_ok());
        assert!(validate("retention.ms", "-2").is_err());
        assert!(validate("retention.ms", "soon").is_err());
        assert!(validate("segment.bytes", "10000000000").is_err());
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "shred").is_err());
        assert!(validate("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate("message.timestamp.type", "LogAppendTime").is_ok());
        assert!(validate("no.such.config", "1").is_err());
        assert!(validate("preallocate", "maybe").is_err());
    }

    #[test]
    fn overrides_beat_broker_values_beat_defaults() {
        let mut broker = BTreeMap::new();
        broker.insert("log.retention.ms".to_string(), "5000".to_string());
        broker.insert("log.segment.bytes".to_string(), "bogus".to_string());
        let d = TopicDefaults::from_broker(&broker);
        assert_eq!(d.get("retention.ms"), Some(("5000", Source::Broker)));
        assert_eq!(
            d.get("segment.bytes"),
            Some(("1073741824", Source::Default))
        );
        let mut topic = BTreeMap::new();
        topic.insert("retention.ms".to_string(), "7".to_string());
        topic.insert("cleanup.policy".to_string(), "compact,delete".to_string());
        let c = TopicConfig::resolve(&topic, &d);
        assert_eq!(c.retention_ms, 7);
        assert!(c.compact && c.delete);
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(
            effective("retention.ms", &topic, &d),
            Some(("7", Source::Topic))
        );
    }
}
