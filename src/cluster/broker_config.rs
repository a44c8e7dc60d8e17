//! The broker's own configs as DescribeConfigs lists them for resource type BROKER: every key of
//! `config/runnel.toml` with its effective value, its type, whether the operator set it (config
//! file or flag) and the documentation taken from the comments above the key in the embedded
//! default file.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::topic_config::ConfigType;

/// The default configuration file, embedded in the binary: every broker key with its built-in
/// default and documentation.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/runnel.toml");

/// One broker config.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerEntry {
    /// Effective value, as text.
    pub value: String,
    /// Value type.
    pub kind: ConfigType,
    /// Set in the configuration file or by a flag (Kafka's STATIC_BROKER_CONFIG), rather than
    /// left at the built-in default.
    pub explicit: bool,
}

/// Every broker config by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerConfigs {
    entries: BTreeMap<String, BrokerEntry>,
}

impl BrokerConfigs {
    /// Builds the listing from the merged TOML table and the keys the operator set.
    pub fn from_table(
        table: &BTreeMap<String, toml::Value>,
        explicit: &std::collections::BTreeSet<String>,
    ) -> BrokerConfigs {
        let entries = table
            .iter()
            .map(|(k, v)| {
                let (value, kind) = match v {
                    toml::Value::String(s) => (s.clone(), ConfigType::String),
                    toml::Value::Integer(i) => (i.to_string(), ConfigType::Long),
                    toml::Value::Float(f) => (f.to_string(), ConfigType::Double),
                    toml::Value::Boolean(b) => (b.to_string(), ConfigType::Boolean),
                    other => (other.to_string(), ConfigType::String),
                };
                let entry = BrokerEntry {
                    value,
                    kind,
                    explicit: explicit.contains(k),
                };
                (k.clone(), entry)
            })
            .collect();
        BrokerConfigs { entries }
    }

    /// Replaces a value given on the command line (it counts as set by the operator).
    pub fn set_from_flag(&mut self, key: &str, value: String) {
        let kind = self.entries.get(key).map_or(ConfigType::String, |e| e.kind);
        self.entries.insert(
            key.to_string(),
            BrokerEntry {
                value,
                kind,
                explicit: true,
            },
        );
    }

    /// The config `key`, if the broker has it.
    pub fn get(&self, key: &str) -> Option<&BrokerEntry> {
        self.entries.get(key)
    }

    /// Whether the operator set `key` (file or flag).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.entries.get(key).is_some_and(|e| e.explicit)
    }

    /// All configs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &BrokerEntry)> {
        self.entries.iter()
    }
}

/// Documentation of each key of a TOML configuration text: the comment lines right above the
/// key (or above the group of keys it belongs to), joined into one line. Section rulers
/// (`# --- ... ---`) are skipped.
pub fn docs_from_comments(text: &str) -> BTreeMap<String, String> {
    let mut docs = BTreeMap::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut after_key = false;
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            comment.clear();
            after_key = false;
        } else if let Some(c) = l.strip_prefix('#') {
            if after_key {
                comment.clear();
                after_key = false;
            }
            let c = c.trim();
            if !c.starts_with("---") {
                comment.push(c);
            }
        } else if let Some((k, _)) = l.split_once('=') {
            let key = k.trim().trim_matches('"').to_string();
            docs.insert(key, comment.join(" "));
            after_key = true;
        }
    }
    docs
}

/// Flattens nested TOML tables into dotted keys.
fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, toml::Value>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The keys of a configuration file's text, flattened to dotted names.
pub fn parse_table(text: &str) -> Result<BTreeMap<String, toml::Value>> {
    let v: toml::Value = toml::from_str(text).context("parsing configuration")?;
    let mut out = BTreeMap::new();
    flatten("", &v, &mut out);
    Ok(out)
}

/// Whether broker key `key` holds a secret (Kafka's PASSWORD-typed configs, with or without a
/// `listener.name.<name>.` or `metrics.` prefix): described with no value, as on Kafka.
pub fn is_sensitive(key: &str) -> bool {
    key.ends_with("password")
        || key.ends_with("password.sha256")
        || key.ends_with("keystore.key")
        || key.ends_with("jaas.config")
}

/// The built-in default of broker key `key`: its value in the embedded configuration file.
pub fn builtin_value(key: &str) -> Option<String> {
    static TABLE: std::sync::OnceLock<BTreeMap<String, toml::Value>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| parse_table(DEFAULT_CONFIG).unwrap_or_default());
    t.get(key).map(|v| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sensitive() {
        for k in [
            "ssl.key.password",
            "listener.name.sasl_ssl.ssl.keystore.password",
            "metrics.ssl.keystore.key",
            "metrics.basic.auth.password.sha256",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
        ] {
            assert!(is_sensitive(k), "{k}");
        }
        for k in [
            "ssl.keystore.location",
            "metrics.basic.auth.user",
            "num.partitions",
        ] {
            assert!(!is_sensitive(k), "{k}");
        }
    }

    #[test]
    fn docs_come_from_the_comments_above_each_key() {
        let text = "# --- Section ---\n\n# First key.\n# Two lines.\na.b = 1\n\n# Pair.\nx = 1\ny = 2\n# Own.\nz = 3\nbare = 4\n";
        let d = docs_from_comments(text);
        assert_eq!(d["a.b"], "First key. Two lines.");
        assert_eq!(d["x"], "Pair.");
        assert_eq!(d["y"], "Pair.");
        assert_eq!(d["z"], "Own.");
        assert_eq!(d["bare"], "Own.");
    }

    #[test]
    fn every_embedded_key_is_documented() {
        let d = docs_from_comments(DEFAULT_CONFIG);
        assert!(d.len() > 30);
        for (k, doc) in &d {
            assert!(!doc.is_empty(), "{k} has no comment in config/runnel.toml");
        }
    }

    #[test]
    fn listing_types_values_and_explicit_keys() {
        let mut t = BTreeMap::new();
        t.insert("num.partitions".to_string(), toml::Value::Integer(3));
        t.insert("log.dirs".to_string(), toml::Value::String("./d".into()));
        let explicit = ["num.partitions".to_string()].into_iter().collect();
        let mut c = BrokerConfigs::from_table(&t, &explicit);
        assert_eq!(
            c.get("num.partitions").map(|e| e.kind),
            Some(ConfigType::Long)
        );
        assert!(c.is_explicit("num.partitions"));
        assert!(!c.is_explicit("log.dirs"));
        c.set_from_flag("log.dirs", "/data".into());
        assert!(c.is_explicit("log.dirs"));
        assert_eq!(c.get("log.dirs").map(|e| e.value.as_str()), Some("/data"));
    }
}
