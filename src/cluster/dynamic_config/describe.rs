//! What DescribeConfigs reports for resource types BROKER and GROUP: every broker config with
//! the layer its value comes from (`DYNAMIC_BROKER_CONFIG`, `DYNAMIC_DEFAULT_BROKER_CONFIG`,
//! `STATIC_BROKER_CONFIG`, `DEFAULT_CONFIG`) and its synonyms; the cluster-wide default's
//! dynamic values; and a group's configs (`GROUP_CONFIG` or `DEFAULT_CONFIG`).

use std::collections::BTreeSet;

use super::groups::GroupSettings;
use super::keys::{self, KeyMode};
use super::{groups, DynamicConfigs};
use crate::cluster::broker_config::BrokerConfigs;
use crate::cluster::topic_config::describe::{
    broker_docs, broker_synonyms, Described, Synonym, SOURCE_DEFAULT, SOURCE_GROUP,
    SOURCE_STATIC_BROKER,
};
use crate::cluster::topic_config::ConfigType;

fn described(
    key: &str,
    kind: ConfigType,
    statics: &BrokerConfigs,
    dynamic: &DynamicConfigs,
    per_broker: bool,
) -> Described {
    let builtin = crate::cluster::broker_config::builtin_value(key)
        .or_else(|| statics.get(key).map(|e| e.value.clone()))
        .unwrap_or_default();
    let mut synonyms = broker_synonyms(key, statics, dynamic, per_broker, &builtin);
    // A dynamic key Runnel has no built-in value for (one it stores for Kafka's sake) reports
    // no made-up default.
    if builtin.is_empty() && statics.get(key).is_none() && synonyms.len() > 1 {
        synonyms.pop();
    }
    let top = synonyms[0].clone();
    let mode = keys::mode(key, statics.get(key).is_some());
    Described {
        name: key.to_string(),
        value: top.value,
        source: top.source,
        read_only: !matches!(mode, Some(KeyMode::Live | KeyMode::Stored)),
        sensitive: crate::cluster::broker_config::is_sensitive(key),
        kind,
        doc: broker_docs().get(key).cloned().unwrap_or_default(),
        synonyms,
    }
}

/// Every config of this broker, in key order: Runnel's keys, and the dynamic keys Runnel
/// stores for Kafka's sake that are set.
pub fn describe_broker(statics: &BrokerConfigs, dynamic: &DynamicConfigs) -> Vec<Described> {
    let mut names: BTreeSet<&str> = statics.iter().map(|(k, _)| k.as_str()).collect();
    names.extend(dynamic.broker.keys().map(String::as_str));
    names.extend(dynamic.cluster_default.keys().map(String::as_str));
    names
        .into_iter()
        .map(|k| {
            let kind = keys::kind(k)
                .or_else(|| statics.get(k).map(|e| e.kind))
                .unwrap_or(ConfigType::String);
            described(k, kind, statics, dynamic, true)
        })
        .collect()
}

/// The cluster-wide default (broker resource with an empty name): only the configs set there
/// dynamically, as Kafka lists them.
pub fn describe_cluster_default(
    statics: &BrokerConfigs,
    dynamic: &DynamicConfigs,
) -> Vec<Described> {
    dynamic
        .cluster_default
        .keys()
        .map(|k| {
            let kind = keys::kind(k).unwrap_or(ConfigType::String);
            described(k, kind, statics, dynamic, false)
        })
        .collect()
}

/// Every config of group `group`.
pub fn describe_group(
    group: &str,
    dynamic: &DynamicConfigs,
    broker: &GroupSettings,
    statics: &BrokerConfigs,
) -> Vec<Described> {
    let overrides = dynamic.group(group);
    groups::effective(overrides, broker)
        .into_iter()
        .map(|(name, value, set)| {
            let &(_, broker_key, doc) = groups::GROUP_CONFIGS
                .iter()
                .find(|(n, ..)| *n == name)
                .expect("effective lists only known group configs");
            let source = if set { SOURCE_GROUP } else { SOURCE_DEFAULT };
            let mut synonyms = vec![Synonym {
                name: name.to_string(),
                value: value.to_string(),
                source,
            }];
            if let Some(e) = statics.get(broker_key) {
                synonyms.push(Synonym {
                    name: broker_key.to_string(),
                    value: e.value.clone(),
                    source: if e.explicit {
                        SOURCE_STATIC_BROKER
                    } else {
                        SOURCE_DEFAULT
                    },
                });
            }
            Described {
                name: name.to_string(),
                value: value.to_string(),
                source,
                read_only: false,
                sensitive: false,
                kind: ConfigType::Int,
                doc: doc.to_string(),
                synonyms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::topic_config::describe::{
        SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER,
    };

    fn statics(explicit: &[(&str, &str)]) -> BrokerConfigs {
        let mut table = std::collections::BTreeMap::new();
        table.insert(
            "log.retention.ms".to_string(),
            toml::Value::Integer(604800000),
        );
        table.insert("num.partitions".to_string(), toml::Value::Integer(1));
        let mut set = BTreeSet::new();
        for (k, v) in explicit {
            table.insert(k.to_string(), toml::Value::String(v.to_string()));
            set.insert(k.to_string());
        }
        BrokerConfigs::from_table(&table, &set)
    }

    #[test]
    fn sources_follow_the_most_specific_layer() {
        let s = statics(&[("num.partitions", "3")]);
        let mut d = DynamicConfigs::default();
        let all = describe_broker(&s, &d);
        let n = all.iter().find(|c| c.name == "num.partitions").unwrap();
        assert_eq!((n.value.as_str(), n.source), ("3", SOURCE_STATIC_BROKER));
        assert!(n.read_only);
        assert_eq!(n.synonyms.len(), 2);
        assert_eq!(n.synonyms[1].source, SOURCE_DEFAULT);
        let r = all.iter().find(|c| c.name == "log.retention.ms").unwrap();
        assert_eq!(r.source, SOURCE_DEFAULT);
        assert!(!r.read_only);

        d.cluster_default
            .insert("log.retention.ms".into(), "1000".into());
        d.broker.insert("num.io.threads".into(), "4".into());
        let all = describe_broker(&s, &d);
        let r = all.iter().find(|c| c.name == "log.retention.ms").unwrap();
        assert_eq!(
            (r.value.as_str(), r.source),
            ("1000", SOURCE_DYNAMIC_DEFAULT_BROKER)
        );
        let t = all.iter().find(|c| c.name == "num.io.threads").unwrap();
        assert_eq!((t.value.as_str(), t.source), ("4", SOURCE_DYNAMIC_BROKER));
        assert_eq!(t.synonyms.len(), 1);
        assert_eq!(t.kind, ConfigType::Int);

        d.broker.insert("log.retention.ms".into(), "2000".into());
        let all = describe_broker(&s, &d);
        let r = all.iter().find(|c| c.name == "log.retention.ms").unwrap();
        let sources: Vec<i8> = r.synonyms.iter().map(|y| y.source).collect();
        assert_eq!(
            sources,
            [
                SOURCE_DYNAMIC_BROKER,
                SOURCE_DYNAMIC_DEFAULT_BROKER,
                SOURCE_DEFAULT
            ]
        );
        let def = describe_cluster_default(&s, &d);
        assert_eq!(def.len(), 1);
        assert_eq!(def[0].source, SOURCE_DYNAMIC_DEFAULT_BROKER);
    }
}
