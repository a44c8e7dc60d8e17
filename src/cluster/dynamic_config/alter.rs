//! Checks and applies one AlterConfigs or IncrementalAlterConfigs resource to the dynamic
//! configs: a broker layer (this broker or the cluster-wide default) or a group's configs.
//! Nothing changes when any operation of the resource fails.

use std::collections::BTreeMap;

use super::groups::GroupSettings;
use super::keys::{self, KeyMode};
use super::{apply_to_layer, groups, BrokerLevel, DynamicConfigs, MAX_GROUPS_WITH_CONFIGS};
use crate::cluster::topic_config::alter::{AlterError, ConfigOp};
use crate::errors::{ErrorMessage, KafkaError};

/// One resource's change, as core 0 applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamicChange {
    /// Broker configs of one layer.
    Broker {
        /// This broker or the cluster-wide default.
        level: BrokerLevel,
        /// Operations, in request order.
        ops: Vec<ConfigOp>,
        /// Legacy AlterConfigs: the given configs replace the layer.
        replace: bool,
    },
    /// Configs of one group.
    Group {
        /// Group id.
        group: String,
        /// Operations, in request order.
        ops: Vec<ConfigOp>,
        /// Legacy AlterConfigs: the given configs replace the group's.
        replace: bool,
    },
}

/// Kafka's way of listing config names in an error message.
fn set_of(names: &[&str]) -> String {
    format!("Set({})", names.join(", "))
}

/// Applies a broker-layer change. `is_static_key` tells Runnel's own keys (read-only unless
/// dynamic); `static_value` gives a key's static value (where a list APPEND starts from).
pub fn alter_broker(
    current: &DynamicConfigs,
    level: BrokerLevel,
    ops: &[ConfigOp],
    replace: bool,
    is_static_key: &dyn Fn(&str) -> bool,
    static_value: &dyn Fn(&str) -> Option<String>,
) -> Result<DynamicConfigs, AlterError> {
    let unknown: Vec<&str> = ops
        .iter()
        .map(|o| o.name())
        .filter(|n| keys::mode(n, is_static_key(n)).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ErrorMessage::new(
            KafkaError::InvalidRequest,
            format!("Unknown broker configs: {}", set_of(&unknown)),
        ));
    }
    let fixed: Vec<&str> = ops
        .iter()
        .map(|o| o.name())
        .filter(|n| keys::mode(n, true) == Some(KeyMode::ReadOnly))
        .collect();
    if !fixed.is_empty() {
        return Err(ErrorMessage::new(
            KafkaError::InvalidRequest,
            format!(
                "Cannot update these configs dynamically: {}",
                set_of(&fixed)
            ),
        ));
    }
    let layer = current.layer(level);
    let below = |k: &str| -> Option<String> {
        match level {
            BrokerLevel::Broker => current.cluster_default.get(k).cloned(),
            BrokerLevel::ClusterDefault => None,
        }
        .or_else(|| static_value(k))
    };
    let out = apply_to_layer(layer, ops, replace, &keys::is_list, &below)?;
    for (k, v) in &out {
        if layer.get(k) == Some(v) {
            continue;
        }
        keys::validate(k, v)?;
    }
    let mut next = current.clone();
    match level {
        BrokerLevel::Broker => next.broker = out,
        BrokerLevel::ClusterDefault => next.cluster_default = out,
    }
    Ok(next)
}

/// Applies a group's change, checked against the broker's group settings.
pub fn alter_group(
    current: &DynamicConfigs,
    group: &str,
    ops: &[ConfigOp],
    replace: bool,
    broker: &GroupSettings,
) -> Result<DynamicConfigs, AlterError> {
    if group.is_empty() {
        return Err(ErrorMessage::new(
            KafkaError::InvalidRequest,
            "Group name must not be empty".to_string(),
        ));
    }
    let empty = BTreeMap::new();
    let layer = current.group(group).unwrap_or(&empty);
    let out = apply_to_layer(layer, ops, replace, &|_| false, &|_| None)?;
    groups::validate(&out, broker)?;
    let mut next = current.clone();
    if out.is_empty() {
        next.groups.remove(group);
    } else {
        if !next.groups.contains_key(group) && next.groups.len() >= MAX_GROUPS_WITH_CONFIGS {
            return Err(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("At most {MAX_GROUPS_WITH_CONFIGS} groups may have configs of their own"),
            ));
        }
        next.groups.insert(group.to_string(), out);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runnel_key(k: &str) -> bool {
        matches!(
            k,
            "log.dirs" | "log.retention.ms" | "max.connections" | "log.cleanup.policy"
        )
    }

    fn static_value(k: &str) -> Option<String> {
        (k == "log.cleanup.policy").then(|| "delete".to_string())
    }

    #[test]
    fn read_only_and_unknown_keys_are_refused_whole() {
        let d = DynamicConfigs::default();
        let refused = |ops: &[ConfigOp]| {
            alter_broker(
                &d,
                BrokerLevel::Broker,
                ops,
                false,
                &runnel_key,
                &static_value,
            )
            .unwrap_err()
        };
        let e = refused(&[
            ConfigOp::Set("log.retention.ms".into(), "1000".into()),
            ConfigOp::Set("log.dirs".into(), "/x".into()),
        ]);
        assert_eq!(e.error, KafkaError::InvalidRequest);
        assert_eq!(
            e.message,
            "Cannot update these configs dynamically: Set(log.dirs)"
        );
        let e = refused(&[ConfigOp::Set("no.such".into(), "1".into())]);
        assert_eq!(e.error, KafkaError::InvalidRequest);
    }

    #[test]
    fn layers_change_independently_and_values_are_checked() {
        let d = DynamicConfigs::default();
        let set = |k: &str, v: &str| vec![ConfigOp::Set(k.into(), v.into())];
        let d = alter_broker(
            &d,
            BrokerLevel::ClusterDefault,
            &set("log.retention.ms", "1000"),
            false,
            &runnel_key,
            &static_value,
        )
        .unwrap();
        let d = alter_broker(
            &d,
            BrokerLevel::Broker,
            &set("num.io.threads", "4"),
            false,
            &runnel_key,
            &static_value,
        )
        .unwrap();
        assert_eq!(d.cluster_default["log.retention.ms"], "1000");
        assert_eq!(d.broker["num.io.threads"], "4");
        let e = alter_broker(
            &d,
            BrokerLevel::Broker,
            &set("max.connections", "-5"),
            false,
            &runnel_key,
            &static_value,
        )
        .unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidRequest);
        let d = alter_broker(
            &d,
            BrokerLevel::Broker,
            &[ConfigOp::Append(
                "log.cleanup.policy".into(),
                "compact".into(),
            )],
            false,
            &runnel_key,
            &static_value,
        )
        .unwrap();
        assert_eq!(d.broker["log.cleanup.policy"], "delete,compact");
        // Legacy AlterConfigs replaces the layer.
        let d = alter_broker(
            &d,
            BrokerLevel::Broker,
            &set("max.connections", "10"),
            true,
            &runnel_key,
            &static_value,
        )
        .unwrap();
        assert_eq!(d.broker.len(), 1);
        assert_eq!(d.cluster_default.len(), 1);
    }
}
