//! What DescribeConfigs (and CreateTopics v5+) report for each config: value, where it comes
//! from, synonyms in precedence order, type, documentation, and the read-only and sensitive
//! flags, for a topic (every topic-level config) or for the broker (every broker key).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::{effective, ConfigType, Source, TopicDefaults, TOPIC_CONFIGS};
use crate::cluster::broker_config::{docs_from_comments, BrokerConfigs};

/// Kafka's config source: set on the topic.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// Kafka's config source: set in the broker's configuration file (or by a flag).
pub const SOURCE_STATIC_BROKER: i8 = 4;
/// Kafka's config source: the built-in default.
pub const SOURCE_DEFAULT: i8 = 5;

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
            if broker.is_explicit(d.broker_key) {
                if let Some((v, Source::Broker)) = defaults.get(d.name) {
                    synonyms.push(Synonym {
                        name: d.broker_key.to_string(),
                        value: v.to_string(),
                        source: SOURCE_STATIC_BROKER,
                    });
                }
            }
            // Without an operator's setting the broker runs with its built-in default, which is
            // the embedded config file's value when it has the key.
            let builtin = broker
                .get(d.broker_key)
                .filter(|e| !e.explicit)
                .map_or(d.default, |e| e.value.as_str());
            synonyms.push(Synonym {
                name: d.broker_key.to_string(),
                value: builtin.to_string(),
                source: SOURCE_DEFAULT,
            });
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

fn broker_docs() -> &'static BTreeMap<String, String> {
    static DOCS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DOCS.get_or_init(|| docs_from_comments(crate::config::DEFAULT_CONFIG))
}

/// Every broker config, in key order. All are read-only: Runnel takes broker configs from its
/// file and flags at startup and does not change them while running.
pub fn describe_broker(broker: &BrokerConfigs) -> Vec<Described> {
    broker
        .iter()
        .map(|(k, e)| {
            let source = if e.explicit {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            Described {
                name: k.clone(),
                value: e.value.clone(),
                source,
                read_only: true,
                sensitive: false,
                kind: e.kind,
                doc: broker_docs().get(k).cloned().unwrap_or_default(),
                synonyms: vec![Synonym {
                    name: k.clone(),
                    value: e.value.clone(),
                    source,
                }],
            }
        })
        .collect()
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
        let all = describe_topic(&o, &d, &b);
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

    #[test]
    fn broker_configs_are_read_only_with_their_source() {
        let (b, _) = broker(&[("num.partitions", "3")]);
        let all = describe_broker(&b);
        let n = all.iter().find(|c| c.name == "num.partitions").unwrap();
        assert_eq!((n.value.as_str(), n.source), ("3", SOURCE_STATIC_BROKER));
        assert!(n.read_only);
        assert!(!n.doc.is_empty());
        let r = all.iter().find(|c| c.name == "log.retention.ms").unwrap();
        assert_eq!(r.source, SOURCE_DEFAULT);
    }
}
