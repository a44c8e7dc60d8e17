//! Dynamic configs: values changed at run time with AlterConfigs and IncrementalAlterConfigs,
//! kept in `dynamic-configs.json` in the data directory and applied over the static
//! configuration (file and flags) at every start.
//!
//! Three layers, as on Kafka: broker configs set on this broker (`DYNAMIC_BROKER_CONFIG`), the
//! cluster-wide broker default set on the empty broker name (`DYNAMIC_DEFAULT_BROKER_CONFIG`),
//! and per-group configs of KIP-848 consumer groups (`GROUP_CONFIG`). Which broker keys may
//! change, and how each is checked, is in [`keys`]; group keys are in [`groups`].

pub mod alter;
pub mod describe;
pub mod groups;
pub mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cluster::topic_config::alter::{apply_to_map, AlterError, ConfigOp};
use crate::errors::{ErrorMessage, KafkaError};

/// File name of the persisted dynamic configs, in the data directory.
pub const FILE_NAME: &str = "dynamic-configs.json";

/// Most groups that may carry dynamic configs at once: the file is rewritten on every change,
/// so it must stay small.
pub const MAX_GROUPS_WITH_CONFIGS: usize = 10_000;

/// Most dynamic keys in one layer.
pub const MAX_KEYS_PER_LAYER: usize = 1_000;

/// Every dynamic config of this broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamicConfigs {
    /// Set on this broker (`DYNAMIC_BROKER_CONFIG`).
    #[serde(default)]
    pub broker: BTreeMap<String, String>,
    /// Set on the cluster-wide default (`DYNAMIC_DEFAULT_BROKER_CONFIG`).
    #[serde(default)]
    pub cluster_default: BTreeMap<String, String>,
    /// Per-group overrides (`GROUP_CONFIG`), by group id.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeMap<String, String>>,
}

/// Which layer a broker-config change addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerLevel {
    /// This broker (resource name = its node id).
    Broker,
    /// The cluster-wide default (empty resource name).
    ClusterDefault,
}

/// Where an effective broker value comes from, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically on the cluster-wide default.
    DynamicDefault,
}

impl DynamicConfigs {
    /// Path of the file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Reads the file in `data_dir`; no file means no dynamic configs.
    pub fn load(data_dir: &Path) -> Result<DynamicConfigs> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DynamicConfigs::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file in `data_dir` durably (synced temporary file, rename, synced directory),
    /// on the blocking pool.
    pub async fn store(&self, data_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        crate::storage::durable::replace(Self::path(data_dir), bytes).await
    }

    /// The layer map of `level`.
    pub fn layer(&self, level: BrokerLevel) -> &BTreeMap<String, String> {
        match level {
            BrokerLevel::Broker => &self.broker,
            BrokerLevel::ClusterDefault => &self.cluster_default,
        }
    }

    /// The dynamic value of broker key `key` and its layer, if one is set.
    pub fn broker_value(&self, key: &str) -> Option<(&str, Layer)> {
        if let Some(v) = self.broker.get(key) {
            return Some((v, Layer::DynamicBroker));
        }
        self.cluster_default
            .get(key)
            .map(|v| (v.as_str(), Layer::DynamicDefault))
    }

    /// The overrides of group `group`, if any.
    pub fn group(&self, group: &str) -> Option<&BTreeMap<String, String>> {
        self.groups.get(group)
    }
}

/// Applies `ops` to one layer's map, without checking values: `replace` (legacy AlterConfigs)
/// starts from an empty map. `current_of` gives the value a list APPEND or SUBTRACT starts
/// from when the layer has none; `is_list` tells list configs apart. A layer holds at most
/// [`MAX_KEYS_PER_LAYER`] keys.
pub fn apply_to_layer(
    layer: &BTreeMap<String, String>,
    ops: &[ConfigOp],
    replace: bool,
    is_list: &dyn Fn(&str) -> bool,
    current_of: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, AlterError> {
    let out = apply_to_map(layer, ops, replace, is_list, current_of)?;
    if out.len() > MAX_KEYS_PER_LAYER {
        return Err(ErrorMessage::new(
            KafkaError::InvalidRequest,
            format!("At most {MAX_KEYS_PER_LAYER} dynamic configs may be set on one resource"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_missing_file() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            DynamicConfigs::load(d.path()).unwrap(),
            DynamicConfigs::default()
        );
        let mut c = DynamicConfigs::default();
        c.broker.insert("log.retention.ms".into(), "1000".into());
        c.cluster_default
            .insert("log.retention.ms".into(), "2000".into());
        c.groups.insert(
            "g".into(),
            [(
                "consumer.session.timeout.ms".to_string(),
                "50000".to_string(),
            )]
            .into(),
        );
        glommio::LocalExecutorBuilder::default()
            .spawn({
                let c = c.clone();
                let p = d.path().to_path_buf();
                move || async move { c.store(&p).await.unwrap() }
            })
            .unwrap()
            .join()
            .unwrap();
        let back = DynamicConfigs::load(d.path()).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            back.broker_value("log.retention.ms"),
            Some(("1000", Layer::DynamicBroker))
        );
        std::fs::write(DynamicConfigs::path(d.path()), b"{not json").unwrap();
        assert!(DynamicConfigs::load(d.path()).is_err());
    }

    #[test]
    fn layer_ops_set_delete_append_subtract_replace() {
        let mut layer = BTreeMap::new();
        layer.insert("a".to_string(), "1".to_string());
        let list = |n: &str| n == "l";
        let cur = |n: &str| (n == "l").then(|| "delete".to_string());
        let out = apply_to_layer(
            &layer,
            &[
                ConfigOp::Set("b".into(), " 2 ".into()),
                ConfigOp::Append("l".into(), "compact".into()),
            ],
            false,
            &list,
            &cur,
        )
        .unwrap();
        assert_eq!(out["a"], "1");
        assert_eq!(out["b"], "2");
        assert_eq!(out["l"], "delete,compact");
        let out = apply_to_layer(
            &out,
            &[ConfigOp::Subtract("l".into(), "delete".into())],
            false,
            &list,
            &cur,
        )
        .unwrap();
        assert_eq!(out["l"], "compact");
        let out =
            apply_to_layer(&out, &[ConfigOp::Delete("a".into())], false, &list, &cur).unwrap();
        assert!(!out.contains_key("a"));
        let out = apply_to_layer(
            &out,
            &[ConfigOp::Set("c".into(), "3".into())],
            true,
            &list,
            &cur,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let dup = [
            ConfigOp::Set("c".into(), "3".into()),
            ConfigOp::Delete("c".into()),
        ];
        assert_eq!(
            apply_to_layer(&out, &dup, false, &list, &cur)
                .unwrap_err()
                .error,
            KafkaError::InvalidRequest
        );
        let bad = [ConfigOp::Append("c".into(), "x".into())];
        assert_eq!(
            apply_to_layer(&out, &bad, false, &list, &cur)
                .unwrap_err()
                .error,
            KafkaError::InvalidConfig
        );
    }
}
