//! The effective configuration once dynamic configs (AlterConfigs on the broker) are applied
//! over the static one: a value set on this broker wins over the cluster-wide dynamic default,
//! which wins over the file, flags and built-in defaults.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Config;
use crate::cluster::dynamic_config::DynamicConfigs;
use crate::cluster::topic_config::TopicDefaults;

impl Config {
    /// This configuration with `dynamic` applied over its static values. Only the settings
    /// Runnel applies live change: the broker defaults of topic configs, `message.max.bytes`,
    /// `max.connections`, `max.connections.per.ip` and the cleaner's backoff and buffer size.
    /// Values were checked when they were set; one that no longer parses keeps the static value.
    pub fn with_dynamic(&self, dynamic: Arc<DynamicConfigs>) -> Config {
        let mut merged: BTreeMap<String, String> = self
            .broker_configs
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect();
        for (k, v) in dynamic.cluster_default.iter().chain(dynamic.broker.iter()) {
            merged.insert(k.clone(), v.clone());
        }
        let int = |k: &str| -> Option<i64> { merged.get(k)?.trim().parse().ok() };
        let mut c = self.clone();
        c.topic_defaults = TopicDefaults::from_broker(&merged);
        if let Some(v) = int("message.max.bytes") {
            c.message_max_bytes = v.max(1) as usize;
        }
        if let Some(v) = int("max.connections") {
            c.limits.max_connections = v.max(1) as usize;
        }
        if let Some(v) = int("max.connections.per.ip") {
            c.limits.max_connections_per_ip = v.max(1) as usize;
        }
        if let Some(v) = int("log.cleaner.backoff.ms") {
            c.log.cleaner_backoff_ms = v.max(10) as u64;
        }
        if let Some(v) = int("log.cleaner.dedupe.buffer.size") {
            c.log.cleaner_dedupe_buffer_bytes = v.max(1 << 20) as usize;
        }
        c.dynamic = dynamic;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::dynamic_config::alter::alter_group;
    use crate::cluster::dynamic_config::describe::describe_group;
    use crate::cluster::dynamic_config::groups;
    use crate::cluster::topic_config::alter::ConfigOp;
    use crate::cluster::topic_config::describe::{SOURCE_DEFAULT, SOURCE_GROUP};
    use crate::cluster::topic_config::Source;
    use crate::config::Overrides;
    use crate::errors::KafkaError;

    #[test]
    fn broker_layer_wins_over_default_layer_over_static() {
        let base = Config::load(None, &Overrides::default()).unwrap();
        let mut d = DynamicConfigs::default();
        d.cluster_default
            .insert("log.retention.ms".into(), "1000".into());
        d.cluster_default
            .insert("max.connections".into(), "50".into());
        d.broker.insert("log.retention.ms".into(), "2000".into());
        let c = base.with_dynamic(Arc::new(d));
        assert_eq!(
            c.topic_defaults.get("retention.ms"),
            Some(("2000", Source::Broker))
        );
        assert_eq!(c.limits.max_connections, 50);
        assert_eq!(
            c.limits.max_connections_per_ip,
            base.limits.max_connections_per_ip
        );
        // Applying again starts from the static values, not from the previous result.
        let c2 = c.with_dynamic(Arc::new(DynamicConfigs::default()));
        assert_eq!(c2.limits.max_connections, base.limits.max_connections);
        assert_eq!(
            c2.topic_defaults.get("retention.ms"),
            base.topic_defaults.get("retention.ms")
        );
    }

    #[test]
    fn group_configs_within_the_broker_bounds() {
        let broker = Config::load(None, &Default::default()).unwrap().groups;
        let d = DynamicConfigs::default();
        let set = |k: &str, v: &str| vec![ConfigOp::Set(k.into(), v.into())];
        let d = alter_group(
            &d,
            "g",
            &set(groups::SESSION_TIMEOUT, "50000"),
            false,
            &broker,
        )
        .unwrap();
        assert_eq!(d.groups["g"][groups::SESSION_TIMEOUT], "50000");
        let e = alter_group(
            &d,
            "g",
            &set(groups::SESSION_TIMEOUT, "1000"),
            false,
            &broker,
        )
        .unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidConfig);
        assert!(
            e.message.contains("greater than or equal to"),
            "{}",
            e.message
        );
        let e = alter_group(
            &d,
            "g",
            &set("share.session.timeout.ms", "50000"),
            false,
            &broker,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Unknown group config name: share.session.timeout.ms"
        );
        assert_eq!(
            alter_group(
                &d,
                "",
                &set(groups::SESSION_TIMEOUT, "50000"),
                false,
                &broker
            )
            .unwrap_err()
            .error,
            KafkaError::InvalidRequest
        );
        let d = alter_group(
            &d,
            "g",
            &[ConfigOp::Delete(groups::SESSION_TIMEOUT.into())],
            false,
            &broker,
        )
        .unwrap();
        assert!(d.groups.is_empty());
    }

    #[test]
    fn group_configs_report_group_or_default() {
        let cfg = Config::load(None, &Default::default()).unwrap();
        let mut d = DynamicConfigs::default();
        d.groups.insert(
            "g".into(),
            [(groups::SESSION_TIMEOUT.to_string(), "50000".to_string())].into(),
        );
        let all = describe_group("g", &d, &cfg.groups, &cfg.broker_configs);
        let s = all
            .iter()
            .find(|c| c.name == groups::SESSION_TIMEOUT)
            .unwrap();
        assert_eq!((s.value.as_str(), s.source), ("50000", SOURCE_GROUP));
        let h = all
            .iter()
            .find(|c| c.name == groups::HEARTBEAT_INTERVAL)
            .unwrap();
        assert_eq!((h.value.as_str(), h.source), ("5000", SOURCE_DEFAULT));
        let other = describe_group("other", &d, &cfg.groups, &cfg.broker_configs);
        assert!(other.iter().all(|c| c.source == SOURCE_DEFAULT));
    }
}
