//! Group configs (KIP-848): per-group overrides of the consumer-group protocol's session
//! timeout and heartbeat interval, set with IncrementalAlterConfigs on resource type GROUP and
//! checked against the broker's bounds as Kafka's `GroupConfig` does.

use std::collections::BTreeMap;

use crate::errors::{ErrorMessage, KafkaError};

/// `consumer.session.timeout.ms`: the group's member session timeout.
pub const SESSION_TIMEOUT: &str = "consumer.session.timeout.ms";
/// `consumer.heartbeat.interval.ms`: the group's heartbeat interval.
pub const HEARTBEAT_INTERVAL: &str = "consumer.heartbeat.interval.ms";

/// Every group config: name, broker key of its default, documentation.
pub const GROUP_CONFIGS: &[(&str, &str, &str)] = &[
    (
        HEARTBEAT_INTERVAL,
        "group.consumer.heartbeat.interval.ms",
        "The heartbeat interval given to the members of this consumer group.",
    ),
    (
        SESSION_TIMEOUT,
        "group.consumer.session.timeout.ms",
        "The timeout to detect client failures when using the consumer group protocol.",
    ),
];

/// Group coordinator settings (Kafka's names in `config/runnel.toml`).
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// offsets.topic.num.partitions
    pub offsets_partitions: i32,
    /// offsets.topic.replication.factor (capped by the live brokers at creation)
    pub offsets_replication_factor: usize,
    /// group.initial.rebalance.delay.ms
    pub initial_rebalance_delay_ms: u64,
    /// group.min.session.timeout.ms
    pub min_session_timeout_ms: i32,
    /// group.max.session.timeout.ms
    pub max_session_timeout_ms: i32,
    /// group.max.size
    pub max_size: usize,
    /// offsets.retention.minutes, in ms
    pub offsets_retention_ms: u64,
    /// offset.metadata.max.bytes
    pub offset_metadata_max_bytes: usize,
    /// group.consumer.session.timeout.ms
    pub consumer_session_timeout_ms: i32,
    /// group.consumer.heartbeat.interval.ms
    pub consumer_heartbeat_interval_ms: i32,
    /// group.consumer.min.session.timeout.ms: lowest per-group session timeout
    pub consumer_min_session_timeout_ms: i32,
    /// group.consumer.max.session.timeout.ms: highest per-group session timeout
    pub consumer_max_session_timeout_ms: i32,
    /// group.consumer.min.heartbeat.interval.ms: lowest per-group heartbeat interval
    pub consumer_min_heartbeat_interval_ms: i32,
    /// group.consumer.max.heartbeat.interval.ms: highest per-group heartbeat interval
    pub consumer_max_heartbeat_interval_ms: i32,
    /// group.consumer.assignors, in order of preference
    pub consumer_assignors: Vec<String>,
}

/// The effective value of each group config for a group with `overrides`: (name, value,
/// whether the group sets it).
pub fn effective(
    overrides: Option<&BTreeMap<String, String>>,
    broker: &GroupSettings,
) -> Vec<(&'static str, i32, bool)> {
    let s = broker.for_group(overrides);
    GROUP_CONFIGS
        .iter()
        .map(|&(name, ..)| {
            let v = if name == SESSION_TIMEOUT {
                s.consumer_session_timeout_ms
            } else {
                s.consumer_heartbeat_interval_ms
            };
            let set = overrides.is_some_and(|o| o.contains_key(name));
            (name, v, set)
        })
        .collect()
}

/// Checks a group's overrides after a change: known names, integers within the broker's
/// bounds, and a session timeout above the heartbeat interval. Errors are INVALID_CONFIG, as
/// Kafka's InvalidConfigurationException.
pub fn validate(
    overrides: &BTreeMap<String, String>,
    broker: &GroupSettings,
) -> Result<(), ErrorMessage> {
    let bad = |m: String| Err(ErrorMessage::new(KafkaError::InvalidConfig, m));
    for (k, v) in overrides {
        if !GROUP_CONFIGS.iter().any(|(n, ..)| n == k) {
            return bad(format!("Unknown group config name: {k}"));
        }
        match v.trim().parse::<i32>() {
            Ok(n) if n >= 1 => {}
            _ => {
                return bad(format!(
                "Invalid value {v} for configuration {k}: Value must be an integer of at least 1"
            ))
            }
        }
    }
    let s = broker.for_group(Some(overrides));
    let (hb, session) = (
        s.consumer_heartbeat_interval_ms,
        s.consumer_session_timeout_ms,
    );
    if hb < broker.consumer_min_heartbeat_interval_ms {
        return bad(format!("{HEARTBEAT_INTERVAL} must be greater than or equal to group.consumer.min.heartbeat.interval.ms"));
    }
    if hb > broker.consumer_max_heartbeat_interval_ms {
        return bad(format!("{HEARTBEAT_INTERVAL} must be less than or equal to group.consumer.max.heartbeat.interval.ms"));
    }
    if session < broker.consumer_min_session_timeout_ms {
        return bad(format!("{SESSION_TIMEOUT} must be greater than or equal to group.consumer.min.session.timeout.ms"));
    }
    if session > broker.consumer_max_session_timeout_ms {
        return bad(format!(
            "{SESSION_TIMEOUT} must be less than or equal to group.consumer.max.session.timeout.ms"
        ));
    }
    if session <= hb {
        return bad(format!(
            "{SESSION_TIMEOUT} must be greater than {HEARTBEAT_INTERVAL}"
        ));
    }
    Ok(())
}

impl GroupSettings {
    /// These settings with a group's overrides applied (values that do not parse are ignored;
    /// they were checked when set).
    pub fn for_group(&self, overrides: Option<&BTreeMap<String, String>>) -> GroupSettings {
        let mut s = self.clone();
        if let Some(o) = overrides {
            let get = |k: &str| o.get(k).and_then(|v| v.trim().parse::<i32>().ok());
            if let Some(v) = get(SESSION_TIMEOUT) {
                s.consumer_session_timeout_ms = v;
            }
            if let Some(v) = get(HEARTBEAT_INTERVAL) {
                s.consumer_heartbeat_interval_ms = v;
            }
        }
        s
    }
}
