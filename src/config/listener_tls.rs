//! TLS settings of the `SSL` and `SASL_SSL` listeners, from Kafka's keys: `ssl.*` for every
//! TLS listener and `listener.name.<name>.ssl.*` for one (the name in lower case, as on Kafka),
//! the latter winning. The key material is loaded when the configuration is (a listener whose
//! files cannot be used stops the broker with the key at fault), into a context every core
//! shares and that reloads rotated files ([`crate::security::tls::TlsContext`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, Result};

use crate::security::tls::{TlsContext, TlsSettings};

/// The `ssl.*` keys of a configuration file: global ones, and per listener.
#[derive(Debug, Clone, Default)]
pub struct TlsKeys {
    global: BTreeMap<String, String>,
    per_listener: BTreeMap<String, BTreeMap<String, String>>,
}

impl TlsKeys {
    /// Takes `key` if it is a TLS key (`ssl.*` or `listener.name.<name>.ssl.*`); `false`
    /// leaves it to the caller.
    pub fn take(&mut self, key: &str, value: &toml::Value) -> bool {
        let value = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        if key.starts_with("ssl.") {
            self.global.insert(key.to_string(), value);
            return true;
        }
        let Some(rest) = key.strip_prefix("listener.name.") else {
            return false;
        };
        let Some((name, ssl_key)) = rest.split_once(".ssl.") else {
            return false;
        };
        self.per_listener
            .entry(name.to_ascii_lowercase())
            .or_default()
            .insert(format!("ssl.{ssl_key}"), value);
        true
    }

    /// The settings of listener `name`: its own keys over the global ones.
    pub fn settings_for(&self, name: &str) -> Result<TlsSettings> {
        self.settings_defaulting(name, &[])
    }

    /// The value of `key` (`ssl.*`) for listener `name`, with the key it was set as
    /// (`listener.name.<name>.ssl.*` or `ssl.*`); `None` when unset.
    pub fn lookup(&self, name: &str, key: &str) -> Option<(String, String)> {
        let lower = name.to_ascii_lowercase();
        if let Some(v) = self.per_listener.get(&lower).and_then(|m| m.get(key)) {
            return Some((format!("listener.name.{lower}.{key}"), v.clone()));
        }
        self.global.get(key).map(|v| (key.to_string(), v.clone()))
    }

    /// [`TlsKeys::settings_for`], with `defaults` (key, value) for keys set nowhere.
    pub fn settings_defaulting(
        &self,
        name: &str,
        defaults: &[(&str, &str)],
    ) -> Result<TlsSettings> {
        let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
        TlsSettings::from_kafka_keys(|k| {
            self.lookup(name, k)
                .map(|(_, v)| v)
                // An empty value is Kafka's way to turn host name checks off; elsewhere it
                // means unset.
                .filter(|v| !v.is_empty() || k == "ssl.endpoint.identification.algorithm")
                .or_else(|| {
                    defaults
                        .iter()
                        .find(|(d, _)| *d == k)
                        .map(|(_, v)| v.to_string())
                })
        })
        .map_err(|e| anyhow!("listener {name} ({prefix}ssl.* or ssl.*): {e}"))
    }
}

/// A TLS listener's context, shared by every core (equal when it is the same context).
#[derive(Clone)]
pub struct ListenerTls(pub Arc<TlsContext>);

impl ListenerTls {
    /// Loads the key material of listener `name`.
    pub fn load(keys: &TlsKeys, name: &str) -> Result<ListenerTls> {
        let settings = keys.settings_for(name)?;
        let ctx = TlsContext::new(settings).map_err(|e| anyhow!("listener {name}: {e}"))?;
        Ok(ListenerTls(Arc::new(ctx)))
    }
}

impl PartialEq for ListenerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ListenerTls {}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ListenerTls")
            .field(&self.0.settings().client_auth)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::tls::settings::Keystore;
    use crate::security::tls::ClientAuth;

    fn s(v: &str) -> toml::Value {
        toml::Value::String(v.into())
    }

    #[test]
    fn listener_keys_override_global_ones() {
        let mut keys = TlsKeys::default();
        assert!(keys.take("ssl.keystore.location", &s("/g.pem")));
        assert!(keys.take("ssl.client.auth", &s("none")));
        assert!(keys.take("listener.name.internal.ssl.keystore.location", &s("/i.pem")));
        assert!(keys.take(
            "listener.name.INTERNAL.ssl.truststore.location",
            &s("/ca.pem")
        ));
        assert!(keys.take("listener.name.internal.ssl.client.auth", &s("required")));
        assert!(!keys.take(
            "listener.name.internal.sasl.enabled.mechanisms",
            &s("PLAIN")
        ));
        assert!(!keys.take("num.partitions", &s("1")));
        let external = keys.settings_for("EXTERNAL").unwrap();
        assert_eq!(external.keystore, Keystore::File("/g.pem".into()));
        assert_eq!(external.client_auth, ClientAuth::None);
        let internal = keys.settings_for("INTERNAL").unwrap();
        assert_eq!(internal.keystore, Keystore::File("/i.pem".into()));
        assert_eq!(internal.client_auth, ClientAuth::Required);
        let err = TlsKeys::default()
            .settings_for("SSL")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listener SSL") && err.contains("ssl.keystore.location"),
            "{err}"
        );
    }
}
