//! How this broker authenticates to the other brokers of its cluster, from Kafka's keys: the
//! inter-broker listener's security protocol decides TLS (`SSL`, `SASL_SSL`: the listener's own
//! key material and truststore) and SASL (`SASL_PLAINTEXT`, `SASL_SSL`), with the mechanism of
//! `sasl.mechanism.inter.broker.protocol` (empty: the first one the listener enables) and the
//! credentials of its JAAS entry:
//! `listener.name.<listener>.<mechanism>.sasl.jaas.config`, else `sasl.jaas.config` (names in
//! lower case, as on Kafka). The layer that builds the inter-broker client turns this into its
//! connection settings.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use super::listener_tls::ListenerTls;
use super::listeners::Listeners;
use crate::security::jaas::JaasEntry;

/// The `sasl.jaas.config` keys of a configuration file: the global one and per listener and
/// mechanism.
#[derive(Debug, Clone, Default)]
pub struct JaasKeys {
    global: Option<String>,
    /// By (lower-case listener name, lower-case mechanism).
    scoped: BTreeMap<(String, String), String>,
}

impl JaasKeys {
    /// Takes `key` if it is a JAAS key; `false` leaves it to the caller.
    pub fn take(&mut self, key: &str, value: &toml::Value) -> bool {
        let value = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        if key == "sasl.jaas.config" {
            self.global = Some(value);
            return true;
        }
        let scoped = key
            .strip_prefix("listener.name.")
            .and_then(|r| r.strip_suffix(".sasl.jaas.config"))
            .and_then(|r| r.split_once('.'));
        match scoped {
            Some((listener, mechanism)) => {
                self.scoped.insert(
                    (
                        listener.to_ascii_lowercase(),
                        mechanism.to_ascii_lowercase(),
                    ),
                    value,
                );
                true
            }
            None => false,
        }
    }

    /// The entry for `listener` and `mechanism`, with the key it came from.
    fn entry(&self, listener: &str, mechanism: &str) -> Option<(String, &str)> {
        let l = listener.to_ascii_lowercase();
        let m = mechanism.to_ascii_lowercase();
        match self.scoped.get(&(l.clone(), m.clone())) {
            Some(v) => Some((format!("listener.name.{l}.{m}.sasl.jaas.config"), v)),
            None => self
                .global
                .as_deref()
                .map(|v| ("sasl.jaas.config".to_string(), v)),
        }
    }
}

/// This broker's side of inter-broker connections.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct InterBrokerAuth {
    /// The inter-broker listener's name (peers are reached at their endpoint of that name).
    pub listener: String,
    /// TLS with the inter-broker listener's context (`SSL`, `SASL_SSL`).
    pub tls: Option<ListenerTls>,
    /// The SASL login: mechanism name, user name, password (`SASL_*`); `None` also when the
    /// listener is SASL but a one-node broker has no credentials configured (it has no peers).
    pub sasl: Option<(String, String, String)>,
}

impl std::fmt::Debug for InterBrokerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterBrokerAuth")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|(m, u, _)| (m, u)))
            .finish()
    }
}

/// Resolves the inter-broker side from the listeners (TLS already loaded), the value of
/// `sasl.mechanism.inter.broker.protocol` and the JAAS keys. `needs_peers`: whether this node
/// may have peers (a quorum of several voters, or a broker of a remote quorum); without, a
/// SASL inter-broker listener may lack credentials (logged), since nothing uses them.
pub fn resolve(
    listeners: &Listeners,
    mechanism: &str,
    jaas: &JaasKeys,
    needs_peers: bool,
) -> Result<InterBrokerAuth> {
    let name = &listeners.inter_broker;
    let l = listeners
        .get(name)
        .ok_or_else(|| anyhow!("inter.broker.listener.name {name} names no client listener"))?;
    let tls = if l.protocol.is_tls() {
        let tls = l
            .tls
            .clone()
            .ok_or_else(|| anyhow!("inter-broker listener {name} has no TLS context"))?;
        if needs_peers {
            // Refused now rather than at the first connection to a peer.
            tls.0
                .client_config()
                .map_err(|e| anyhow!("inter-broker listener {name}: {e}"))?;
        }
        Some(tls)
    } else {
        None
    };
    let mut auth = InterBrokerAuth {
        listener: name.clone(),
        tls,
        sasl: None,
    };
    if !l.protocol.is_sasl() {
        return Ok(auth);
    }
    let mechanism = match mechanism.trim() {
        "" => l
            .sasl_mechanisms
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("inter-broker listener {name} enables no SASL mechanism"))?,
        m => m.to_ascii_uppercase(),
    };
    if !l.sasl_mechanisms.contains(&mechanism) {
        bail!(
            "sasl.mechanism.inter.broker.protocol {mechanism} is not enabled on the inter-broker \
             listener {name} (it enables {:?})",
            l.sasl_mechanisms
        );
    }
    let Some((key, text)) = jaas.entry(name, &mechanism) else {
        let key = format!(
            "listener.name.{}.{}.sasl.jaas.config",
            name.to_ascii_lowercase(),
            mechanism.to_ascii_lowercase()
        );
        if needs_peers {
            bail!(
                "the inter-broker listener {name} is {}: set {key} (or sasl.jaas.config) to the \
                 credentials this broker logs in to the other brokers with",
                l.protocol.name()
            );
        }
        tracing::info!(listener = %name, "no inter-broker SASL credentials ({key}); a single \
            node has no other brokers to log in to");
        return Ok(auth);
    };
    let entry = JaasEntry::parse(text).map_err(|e| anyhow!("{key}: {e}"))?;
    let (user, password) = entry.credentials().map_err(|e| anyhow!("{key}: {e}"))?;
    auth.sasl = Some((mechanism, user, password));
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::listeners::{Listener, SecurityProtocol};

    fn listeners(protocol: SecurityProtocol, mechanisms: &[&str]) -> Listeners {
        Listeners {
            all: vec![Listener {
                name: "INTERNAL".into(),
                protocol,
                bind: "127.0.0.1:9092".parse().unwrap(),
                advertised: ("127.0.0.1".into(), 9092),
                sasl_mechanisms: mechanisms.iter().map(|m| m.to_string()).collect(),
                tls: None,
                max_reauth: None,
            }],
            inter_broker: "INTERNAL".into(),
        }
    }

    fn jaas(pairs: &[(&str, &str)]) -> JaasKeys {
        let mut k = JaasKeys::default();
        for (key, v) in pairs {
            assert!(k.take(key, &toml::Value::String(v.to_string())));
        }
        assert!(!k.take("sasl.enabled.mechanisms", &toml::Value::String("x".into())));
        k
    }

    const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                         username=\"broker\" password=\"pw\";";

    #[test]
    fn kafkas_keys_pick_mechanism_and_credentials() {
        let l = listeners(SecurityProtocol::SaslPlaintext, &["SCRAM-SHA-512", "PLAIN"]);
        // The listener- and mechanism-scoped entry wins over the global one.
        let k = jaas(&[
            (
                "listener.name.internal.scram-sha-512.sasl.jaas.config",
                SCRAM,
            ),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"other\" password=\"x\";",
            ),
        ]);
        let a = resolve(&l, "", &k, true).unwrap();
        assert_eq!(
            a.sasl,
            Some(("SCRAM-SHA-512".into(), "broker".into(), "pw".into()))
        );
        assert!(a.tls.is_none());
        assert_eq!(a.listener, "INTERNAL");
        // PLAIN named explicitly: no scoped entry for it, so the global one.
        let a = resolve(&l, "plain", &k, true).unwrap();
        assert_eq!(a.sasl, Some(("PLAIN".into(), "other".into(), "x".into())));
    }

    #[test]
    fn what_cannot_work_is_refused_at_startup() {
        let l = listeners(SecurityProtocol::SaslPlaintext, &["SCRAM-SHA-512"]);
        let k = jaas(&[("sasl.jaas.config", SCRAM)]);
        let e = resolve(&l, "SCRAM-SHA-256", &k, true).unwrap_err();
        assert!(e.to_string().contains("not enabled"), "{e}");
        let e = resolve(&l, "", &JaasKeys::default(), true).unwrap_err();
        assert!(
            e.to_string()
                .contains("listener.name.internal.scram-sha-512.sasl.jaas.config"),
            "{e}"
        );
        let bad = jaas(&[("sasl.jaas.config", "M required password=\"p\";")]);
        let e = resolve(&l, "", &bad, true).unwrap_err();
        assert!(e.to_string().contains("sasl.jaas.config"), "{e}");
        // A single node has no peers: no credentials is fine there.
        let a = resolve(&l, "", &JaasKeys::default(), false).unwrap();
        assert!(a.sasl.is_none());
        // A plaintext inter-broker listener needs nothing.
        let a = resolve(
            &listeners(SecurityProtocol::Plaintext, &[]),
            "",
            &JaasKeys::default(),
            true,
        )
        .unwrap();
        assert_eq!(a.sasl, None);
    }
}
