//! What DescribeConfigs (and CreateTopics v5+) report for each config: value, where it comes
//! from, synonyms in precedence order, type, documentation, and the read-only and sensitive
//! flags, for a topic (every topic-level config) or for the broker (every broker key).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::{effective, ConfigType, Source, TopicDefaults, TOPIC_CONFIGS};
use crate::cluster::broker_config::{docs_from_comments, BrokerConfigs};
use crate::cluster::dynamic_config::DynamicConfigs;

/// Kafka's config source: set on the topic.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// Kafka's config source: set dynamically on this broker.
pub const SOURCE_DYNAMIC_BROKER: i8 = 2;
/// Kafka's config source: set dynamically on the cluster-wide broker default.
pub const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
/// Kafka's config source: set in the broker's configuration file (or by a flag).
pub const SOURCE_STATIC_BROKER: i8 = 4;
/// Kafka's config source: the built-in default.
pub const SOURCE_DEFAULT: i8 = 5;
/// Kafka's config source: set on a group.
pub const SOURCE_GROUP: i8 = 8;

/// One synonym of a config: a name whose value the config takes when nothing more specific is
/// set.
#[derive(Debug, Clone, PartialEq)]
pub struct Synonym {
    /// Config name at that level (`retention.ms`, `log.retention.ms`).
    pub name: String,
    /// Value at that level.
    pub value: String,
    /// Kafka config source code.
    pub source: i8,
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// Config name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Kafka config source code of the effective value.
    pub source: i8,
    /// Whether the alter APIs may change it.
    pub read_only: bool,
    /// Whether the value is secret (never, in Runnel).
    pub sensitive: bool,
    /// Value type.
    pub kind: ConfigType,
    /// Documentation.
    pub doc: String,
    /// Synonyms, most specific first (the first is where the value comes from).
    pub synonyms: Vec<Synonym>,
}

/// Kafka's DescribeConfigs type code of a [`ConfigType`].
pub fn type_code(kind: ConfigType) -> i8 {
    match kind {
        ConfigType::Boolean => 1,
        ConfigType::String => 2,
        ConfigType::Int => 3,
        ConfigType::Long => 5,
        ConfigType::Double => 6,
        ConfigType::List => 7,
    }
}

/// Every topic-level config of a topic with `overrides`, in name order.
pub fn describe_topic(
    overrides: &BTreeMap<String, String>,
    defaults: &TopicDefaults,
    broker: &BrokerConfigs,
    dynamic: &DynamicConfigs,
) -> Vec<Described> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let mut synonyms = Vec::new();
            if let Some((v, Source::Topic)) = effective(d.name, overrides, defaults) {
                synonyms.push(Synonym {
                    name: d.name.to_string(),
                    value: v.to_string(),
                    source: SOURCE_DYNAMIC_TOPIC,
                });
            }
            // Without an operator's setting the broker runs with its built-in default, which is
            // the embedded config file's value when it has the key.
            let builtin = crate::cluster::broker_config::builtin_value(d.broker_key)
                .unwrap_or_else(|| d.default.to_string());
            synonyms.extend(broker_synonyms(
                d.broker_key,
                broker,
                dynamic,
                true,
                &builtin,
            ));
            let top = &synonyms[0];
            Described {
                name: d.name.to_string(),
                value: top.value.clone(),
                source: top.source,
                read_only: false,
                sensitive: false,
                kind: d.kind,
                doc: d.doc.to_string(),
                synonyms,
            }
        })
        .collect()
}

/// The broker-level synonyms of broker key `key`, most specific first: set on this broker
/// (only when `per_broker`), on the cluster-wide default, in the file or by a flag, and the
/// built-in default `builtin`.
pub fn broker_synonyms(
    key: &str,
    broker: &BrokerConfigs,
    dynamic: &DynamicConfigs,
    per_broker: bool,
    builtin: &str,
) -> Vec<Synonym> {
    let mut out = Vec::new();
    let mut push = |value: &str, source: i8| {
        out.push(Synonym {
            name: key.to_string(),
            value: value.to_string(),
            source,
        })
    };
    if let (true, Some(v)) = (per_broker, dynamic.broker.get(key)) {
        push(v, SOURCE_DYNAMIC_BROKER);
    }
    if let Some(v) = dynamic.cluster_default.get(key) {
        push(v, SOURCE_DYNAMIC_DEFAULT_BROKER);
    }
    if let Some(e) = broker.get(key).filter(|e| e.explicit) {
        push(&e.value, SOURCE_STATIC_BROKER);
    }
    push(builtin, SOURCE_DEFAULT);
    out
}

/// Documentation of Runnel's broker keys, from the comments of the embedded config file.
pub fn broker_docs() -> &'static BTreeMap<String, String> {
    static DOCS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DOCS.get_or_init(|| docs_from_comments(crate::cluster::broker_config::DEFAULT_CONFIG))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(explicit: &[(&str, &str)]) -> (BrokerConfigs, TopicDefaults) {
        let mut table: BTreeMap<String, toml::Value> = BTreeMap::new();
        table.insert("log.retention.ms".into(), toml::Value::Integer(604800000));
        let mut set = std::collections::BTreeSet::new();
        for (k, v) in explicit {
            table.insert(k.to_string(), toml::Value::String(v.to_string()));
            set.insert(k.to_string());
        }
        let flat: BTreeMap<String, String> = table
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    o => o.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        (
            BrokerConfigs::from_table(&table, &set),
            TopicDefaults::from_broker(&flat),
        )
    }

    #[test]
    fn topic_override_then_broker_then_default() {
        let (b, d) = broker(&[("log.segment.bytes", "2048")]);
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "5".to_string());
        let all = describe_topic(&o, &d, &b, &DynamicConfigs::default());
        assert_eq!(all.len(), TOPIC_CONFIGS.len());
        let r = all.iter().find(|c| c.name == "retention.ms").unwrap();
        assert_eq!((r.value.as_str(), r.source), ("5", SOURCE_DYNAMIC_TOPIC));
        assert_eq!(r.synonyms.len(), 2);
        assert_eq!(r.synonyms[1].name, "log.retention.ms");
        assert_eq!(r.synonyms[1].source, SOURCE_DEFAULT);
        let s = all.iter().find(|c| c.name == "segment.bytes").unwrap();
        assert_eq!((s.value.as_str(), s.source), ("2048", SOURCE_STATIC_BROKER));
        assert_eq!(s.synonyms.last().unwrap().value, "1073741824");
        let c = all.iter().find(|c| c.name == "cleanup.policy").unwrap();
        assert_eq!((c.value.as_str(), c.source), ("delete", SOURCE_DEFAULT));
        assert_eq!(type_code(c.kind), 7);
        assert!(!c.read_only && !c.doc.is_empty());
    }
}
