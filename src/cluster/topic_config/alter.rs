//! Changes to a topic's config overrides, as AlterConfigs (replace the whole set) and
//! IncrementalAlterConfigs (set, delete, append to or subtract from a list) ask for them. Every
//! resulting value is validated; nothing is changed when any operation fails.

use std::collections::BTreeMap;

use super::{def, effective, validate, ConfigType, TopicDefaults};
use crate::errors::{ErrorMessage, KafkaError};

/// One operation on one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set the value.
    Set(String, String),
    /// Remove the override: the broker default applies again.
    Delete(String),
    /// Add items to a list config.
    Append(String, String),
    /// Remove items from a list config.
    Subtract(String, String),
}

impl ConfigOp {
    /// Name of the config the operation touches.
    pub fn name(&self) -> &str {
        match self {
            ConfigOp::Set(n, _)
            | ConfigOp::Delete(n)
            | ConfigOp::Append(n, _)
            | ConfigOp::Subtract(n, _) => n,
        }
    }
}

/// A failed change: the error and its message.
pub type AlterError = ErrorMessage;

fn items(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Refuses a request that names a key twice, with Kafka's message.
pub fn check_duplicates(ops: &[ConfigOp]) -> Result<(), AlterError> {
    let mut seen = std::collections::BTreeSet::new();
    for op in ops {
        if !seen.insert(op.name()) {
            return Err(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("Error due to duplicate config keys: {}", op.name()),
            ));
        }
    }
    Ok(())
}

/// Applies `ops` to a map of configs (a topic's overrides, a dynamic broker or group layer)
/// without checking names or values. With `replace` (legacy AlterConfigs) the result holds
/// only what `ops` set. `is_list` tells list configs (APPEND and SUBTRACT allowed) apart;
/// `current_of` gives the value a list operation starts from when the map has none.
pub fn apply_to_map(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
    replace: bool,
    is_list: &dyn Fn(&str) -> bool,
    current_of: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, AlterError> {
    check_duplicates(ops)?;
    let mut out = if replace {
        BTreeMap::new()
    } else {
        current.clone()
    };
    for op in ops {
        let name = op.name();
        match op {
            ConfigOp::Set(_, v) => {
                out.insert(name.to_string(), v.trim().to_string());
            }
            ConfigOp::Delete(_) => {
                out.remove(name);
            }
            ConfigOp::Append(_, v) | ConfigOp::Subtract(_, v) => {
                if !is_list(name) {
                    let verb = if matches!(op, ConfigOp::Append(..)) {
                        "append"
                    } else {
                        "subtract"
                    };
                    return Err(ErrorMessage::new(
                        KafkaError::InvalidConfig,
                        format!("Config value {verb} is not allowed for config key: {name}"),
                    ));
                }
                let old = out
                    .get(name)
                    .cloned()
                    .or_else(|| current_of(name))
                    .unwrap_or_default();
                let mut list = items(&old);
                let given = items(v);
                if matches!(op, ConfigOp::Append(..)) {
                    for i in given {
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    }
                } else {
                    list.retain(|i| !given.contains(i));
                }
                out.insert(name.to_string(), list.join(","));
            }
        }
    }
    Ok(out)
}

/// Applies `ops` to `current`. With `replace` (legacy AlterConfigs) the result holds only what
/// `ops` set; otherwise untouched overrides stay.
pub fn apply_ops(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
    replace: bool,
    defaults: &TopicDefaults,
) -> Result<BTreeMap<String, String>, AlterError> {
    check_duplicates(ops)?;
    if let Some(op) = ops.iter().find(|op| def(op.name()).is_none()) {
        return Err(ErrorMessage::new(
            KafkaError::InvalidConfig,
            format!("Unknown topic config name: {}", op.name()),
        ));
    }
    let is_list = |name: &str| def(name).is_some_and(|d| d.kind == ConfigType::List);
    let current_of = |name: &str| effective(name, current, defaults).map(|(v, _)| v.to_string());
    let out = apply_to_map(current, ops, replace, &is_list, &current_of)?;
    for (k, v) in &out {
        // Overrides stored before validation existed are re-checked only when they change.
        if current.get(k) == Some(v) {
            continue;
        }
        validate(k, v)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: &str, v: &str) -> ConfigOp {
        ConfigOp::Set(n.into(), v.into())
    }

    #[test]
    fn incremental_keeps_other_overrides_and_validates() {
        let d = TopicDefaults::default();
        let mut cur = BTreeMap::new();
        cur.insert("retention.ms".to_string(), "10".to_string());
        let out = apply_ops(&cur, &[set("segment.bytes", "4096")], false, &d).unwrap();
        assert_eq!(out.len(), 2);
        let out = apply_ops(&cur, &[ConfigOp::Delete("retention.ms".into())], false, &d).unwrap();
        assert!(out.is_empty());
        let e = apply_ops(&cur, &[set("retention.ms", "x")], false, &d).unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidConfig);
        let e = apply_ops(&cur, &[set("bogus", "1")], false, &d).unwrap_err();
        assert_eq!(
            e,
            ErrorMessage::new(
                KafkaError::InvalidConfig,
                "Unknown topic config name: bogus"
            )
        );
        let e = apply_ops(
            &cur,
            &[set("retention.ms", "1"), set("retention.ms", "2")],
            false,
            &d,
        )
        .unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidRequest);
    }

    #[test]
    fn replace_drops_what_is_not_given() {
        let d = TopicDefaults::default();
        let mut cur = BTreeMap::new();
        cur.insert("retention.ms".to_string(), "10".to_string());
        let out = apply_ops(&cur, &[set("segment.ms", "100")], true, &d).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), vec!["segment.ms"]);
    }

    #[test]
    fn append_and_subtract_lists_only() {
        let d = TopicDefaults::from_broker(&BTreeMap::new());
        let cur = BTreeMap::new();
        let out = apply_ops(
            &cur,
            &[ConfigOp::Append("cleanup.policy".into(), "compact".into())],
            false,
            &d,
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "delete,compact");
        let out2 = apply_ops(
            &out,
            &[ConfigOp::Subtract("cleanup.policy".into(), "delete".into())],
            false,
            &d,
        )
        .unwrap();
        assert_eq!(out2["cleanup.policy"], "compact");
        let e = apply_ops(
            &cur,
            &[ConfigOp::Append("retention.ms".into(), "1".into())],
            false,
            &d,
        )
        .unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidConfig);
    }
}
