//! Which broker configs AlterConfigs and IncrementalAlterConfigs may change, and how a new
//! value is checked.
//!
//! Kafka's dynamically updatable broker configs fall in two groups here: those Runnel acts on
//! at once ([`KeyMode::Live`]: the broker defaults of topic configs, connection limits, cleaner
//! settings) and those Runnel accepts, stores and reports without acting on them
//! ([`KeyMode::Stored`]: thread counts and other settings of Kafka's own machinery). Every
//! other key of Runnel's configuration is [`KeyMode::ReadOnly`]: Kafka refuses it with
//! "Cannot update these configs dynamically" and so does Runnel. Keys Runnel does not know are
//! refused too (Kafka would store them as custom configs).

use crate::cluster::topic_config::{self, ConfigType, TOPIC_CONFIGS};
use crate::errors::{ErrorMessage, KafkaError};

/// How a broker config may change at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Dynamic, and a new value takes effect at once.
    Live,
    /// Dynamic on Kafka; Runnel stores and reports the value but does not act on it.
    Stored,
    /// Fixed at startup.
    ReadOnly,
}

/// Dynamic broker configs Runnel acts on that are not the broker default of a topic config:
/// key, type.
const LIVE: &[(&str, ConfigType)] = &[
    ("max.connections", ConfigType::Int),
    ("max.connections.per.ip", ConfigType::Int),
    ("log.cleaner.backoff.ms", ConfigType::Long),
    ("log.cleaner.dedupe.buffer.size", ConfigType::Long),
];

/// Kafka's other dynamic broker configs, which Runnel stores without acting on: key, type, and
/// the allowed range of numbers (Kafka's validators).
const STORED: &[(&str, ConfigType, f64, f64)] = &[
    ("background.threads", ConfigType::Int, 1.0, I32),
    ("num.io.threads", ConfigType::Int, 1.0, I32),
    ("num.network.threads", ConfigType::Int, 1.0, I32),
    ("num.replica.fetchers", ConfigType::Int, 1.0, I32),
    (
        "num.recovery.threads.per.data.dir",
        ConfigType::Int,
        1.0,
        I32,
    ),
    ("log.cleaner.threads", ConfigType::Int, 0.0, I32),
    ("log.cleaner.io.buffer.size", ConfigType::Int, 0.0, I32),
    (
        "log.cleaner.io.buffer.load.factor",
        ConfigType::Double,
        0.0,
        F64,
    ),
    (
        "log.cleaner.io.max.bytes.per.second",
        ConfigType::Double,
        0.0,
        F64,
    ),
    ("max.connection.creation.rate", ConfigType::Int, 0.0, I32),
    (
        "max.connections.per.ip.overrides",
        ConfigType::String,
        0.0,
        0.0,
    ),
    ("metric.reporters", ConfigType::List, 0.0, 0.0),
    ("producer.id.expiration.ms", ConfigType::Int, 1.0, I32),
    (
        "transaction.partition.verification.enable",
        ConfigType::Boolean,
        0.0,
        0.0,
    ),
    ("compression.gzip.level", ConfigType::Int, -1.0, 9.0),
    ("compression.lz4.level", ConfigType::Int, 1.0, 17.0),
    ("compression.zstd.level", ConfigType::Int, -131072.0, 22.0),
    ("log.local.retention.ms", ConfigType::Long, -2.0, F64),
    ("log.local.retention.bytes", ConfigType::Long, -2.0, F64),
];

const I32: f64 = i32::MAX as f64;
const F64: f64 = f64::MAX;

/// The topic config whose broker default `key` is.
fn topic_def(key: &str) -> Option<&'static topic_config::ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.broker_key == key)
}

/// How `key` may change; `None` for keys Runnel does not know. `static_keys` says whether a key
/// is one of Runnel's own (read-only unless dynamic).
pub fn mode(key: &str, is_static_key: bool) -> Option<KeyMode> {
    if let Some(d) = topic_def(key) {
        return Some(if d.honoured {
            KeyMode::Live
        } else {
            KeyMode::Stored
        });
    }
    if LIVE.iter().any(|(k, _)| *k == key) {
        return Some(KeyMode::Live);
    }
    if STORED.iter().any(|(k, ..)| *k == key) {
        return Some(KeyMode::Stored);
    }
    is_static_key.then_some(KeyMode::ReadOnly)
}

/// The type of a dynamic key (`None` for keys that are not dynamic).
pub fn kind(key: &str) -> Option<ConfigType> {
    if let Some(d) = topic_def(key) {
        return Some(d.kind);
    }
    if let Some((_, t)) = LIVE.iter().find(|(k, _)| *k == key) {
        return Some(*t);
    }
    STORED.iter().find(|(k, ..)| *k == key).map(|(_, t, ..)| *t)
}

/// Whether `key` is a dynamic list config (APPEND and SUBTRACT allowed).
pub fn is_list(key: &str) -> bool {
    kind(key) == Some(ConfigType::List)
}

/// Checks a new value of dynamic key `key`: INVALID_REQUEST with Kafka's message otherwise
/// (Kafka answers a bad dynamic broker value with INVALID_REQUEST).
pub fn validate(key: &str, value: &str) -> Result<(), ErrorMessage> {
    let invalid = |m: String| ErrorMessage::new(KafkaError::InvalidRequest, m);
    if let Some(d) = topic_def(key) {
        topic_config::validate(d.name, value)
            .map_err(|e| invalid(e.message.replace(d.name, key)))?;
        return crate::cluster::bounds::check_one(key, value);
    }
    if LIVE.iter().any(|(k, _)| *k == key) {
        return crate::cluster::bounds::check_one(key, value);
    }
    let Some(&(_, t, lo, hi)) = STORED.iter().find(|(k, ..)| *k == key) else {
        return Err(invalid(format!("{key} is not a dynamic broker config")));
    };
    let v = value.trim();
    let bad = |why: String| {
        Err(invalid(format!(
            "Invalid value {v} for configuration {key}: {why}"
        )))
    };
    match t {
        ConfigType::Int | ConfigType::Long => match v.parse::<i64>() {
            Err(_) => bad("Not a number".into()),
            Ok(n) if t == ConfigType::Int && i32::try_from(n).is_err() => {
                bad("Not a number of type INT".into())
            }
            Ok(n) if (n as f64) < lo || (n as f64) > hi => {
                bad(format!("Value must be between {lo} and {hi}"))
            }
            Ok(_) => Ok(()),
        },
        ConfigType::Double => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= lo && x <= hi => Ok(()),
            _ => bad(format!("Value must be a number of at least {lo}")),
        },
        ConfigType::Boolean => match v.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => bad("Expected value to be either true or false".into()),
        },
        ConfigType::String | ConfigType::List => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_kafka_and_what_runnel_honours() {
        assert_eq!(mode("log.retention.ms", true), Some(KeyMode::Live));
        assert_eq!(mode("message.max.bytes", true), Some(KeyMode::Live));
        assert_eq!(mode("max.connections", true), Some(KeyMode::Live));
        assert_eq!(mode("log.roll.jitter.ms", false), Some(KeyMode::Stored));
        assert_eq!(mode("num.io.threads", false), Some(KeyMode::Stored));
        assert_eq!(mode("log.dirs", true), Some(KeyMode::ReadOnly));
        assert_eq!(mode("num.partitions", true), Some(KeyMode::ReadOnly));
        assert_eq!(mode("no.such.key", false), None);
        assert!(is_list("log.cleanup.policy"));
        assert!(!is_list("log.retention.ms"));
    }

    #[test]
    fn values_are_checked_with_the_broker_key_in_the_message() {
        validate("log.retention.ms", "60000").unwrap();
        let e = validate("log.retention.ms", "abc").unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidRequest);
        assert!(e.message.contains("log.retention.ms"), "{e}");
        assert!(validate("log.segment.bytes", "1000").is_err());
        validate("log.segment.bytes", "2097152").unwrap();
        assert!(validate("log.cleanup.policy", "delete,nope").is_err());
        assert!(validate("max.connections", "0").is_err());
        validate("max.connections", "100").unwrap();
        assert!(validate("num.io.threads", "0").is_err());
        validate("num.io.threads", "8").unwrap();
        assert!(validate("compression.gzip.level", "12").is_err());
        assert!(validate("transaction.partition.verification.enable", "maybe").is_err());
        assert!(validate("log.dirs", "/x").is_err());
    }
}
