//! Named client listeners, configured the Kafka way: `listeners` (`NAME://host:port`, a plain
//! `host:port` being `PLAINTEXT`), `listener.security.protocol.map` (Kafka's default map),
//! `advertised.listeners` per listener name, `inter.broker.listener.name`,
//! `sasl.enabled.mechanisms` and its per-listener override
//! `listener.name.<name>.sasl.enabled.mechanisms`, `connections.max.reauth.ms` (KIP-368) and
//! its per-listener override `listener.name.<name>.connections.max.reauth.ms`. Controller
//! listeners (named in `controller.listener.names`) are left to [`super::quorum`].
//!
//! Everything is checked at startup: an unknown protocol, a listener name twice, a port twice,
//! an advertised listener naming no listener, and SASL mechanisms Runnel does not have stop the
//! broker with a message naming the key. TLS listeners' key material comes from
//! [`super::listener_tls`].

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::parse_host_port as parse_host_port_str;
use super::quorum::listener_entries;

/// Kafka's default `listener.security.protocol.map`.
pub const DEFAULT_PROTOCOL_MAP: &str =
    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";
/// The SASL mechanisms Runnel implements, in the order `sasl.enabled.mechanisms` defaults to.
pub const SASL_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// A listener's security protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// No authentication, no encryption: clients are `User:ANONYMOUS`.
    Plaintext,
    /// SASL authentication without encryption.
    SaslPlaintext,
    /// TLS: clients are `User:ANONYMOUS`, or their certificate's subject (mTLS).
    Ssl,
    /// SASL authentication inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name of the protocol.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether clients must authenticate with SASL first.
    pub fn is_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// Whether the connection is TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub(super) fn parse(s: &str, key: &str) -> Result<SecurityProtocol> {
        match s {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            other => bail!(
                "{key}: unknown security protocol {other:?} (PLAINTEXT, SSL, SASL_PLAINTEXT, \
                 SASL_SSL)"
            ),
        }
    }
}

/// One client listener, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Its name (`PLAINTEXT`, `SASL_PLAINTEXT`, or a custom one).
    pub name: String,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// The address it binds.
    pub bind: SocketAddr,
    /// Host and port clients are given for it.
    pub advertised: (String, u16),
    /// The SASL mechanisms it offers (empty unless `protocol` is SASL).
    pub sasl_mechanisms: Vec<String>,
    /// Its TLS context (`SSL` and `SASL_SSL` listeners).
    pub tls: Option<super::listener_tls::ListenerTls>,
    /// Longest SASL session before the client must re-authenticate
    /// (`connections.max.reauth.ms`, KIP-368); `None`: sessions never expire. Only SASL
    /// listeners have one.
    pub max_reauth: Option<Duration>,
}

/// The raw values of the keys, as read from the merged configuration.
pub struct ListenerKeys<'a> {
    /// `listeners`.
    pub listeners: &'a str,
    /// `advertised.listeners`.
    pub advertised: &'a str,
    /// `listener.security.protocol.map`.
    pub protocol_map: &'a str,
    /// `controller.listener.names`.
    pub controller_names: &'a [String],
    /// `inter.broker.listener.name` (empty: the first client listener).
    pub inter_broker: &'a str,
    /// `sasl.enabled.mechanisms`.
    pub sasl_mechanisms: &'a str,
    /// `listener.name.<name>.sasl.enabled.mechanisms`, by lower-case listener name.
    pub per_listener_mechanisms: &'a BTreeMap<String, String>,
    /// `connections.max.reauth.ms` (0 or negative: off).
    pub max_reauth_ms: i64,
    /// `listener.name.<name>.connections.max.reauth.ms`, by lower-case listener name, as
    /// written.
    pub per_listener_reauth: &'a BTreeMap<String, String>,
    /// `--listen`: replaces the address of the first client listener.
    pub listen_flag: Option<&'a str>,
    /// `--advertised-listener`: replaces the advertised address of the first client listener.
    pub advertised_flag: Option<&'a str>,
}

/// The client listeners, in `listeners` order, and the inter-broker listener's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    /// Every client listener; the first one is what `--listen` changes.
    pub all: Vec<Listener>,
    /// `inter.broker.listener.name`, resolved.
    pub inter_broker: String,
}

impl Listeners {
    /// The listener named `name`.
    pub fn get(&self, name: &str) -> Option<&Listener> {
        self.all.iter().find(|l| l.name == name)
    }

    /// These listeners with the key material of each TLS listener loaded from `keys`.
    pub fn with_tls(mut self, keys: &super::listener_tls::TlsKeys) -> Result<Listeners> {
        for l in &mut self.all {
            if l.protocol.is_tls() {
                l.tls = Some(super::listener_tls::ListenerTls::load(keys, &l.name)?);
            }
        }
        Ok(self)
    }
}

/// `listener.security.protocol.map`: upper-case listener name to upper-case protocol name.
pub(super) fn parse_map(map: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for entry in map.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, proto)) = entry.split_once(':') else {
            bail!("listener.security.protocol.map: {entry:?} is not NAME:PROTOCOL");
        };
        out.insert(
            name.trim().to_ascii_uppercase(),
            proto.trim().to_ascii_uppercase(),
        );
    }
    Ok(out)
}

fn parse_mechanisms(s: &str, key: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let m = m.to_ascii_uppercase();
        if !SASL_MECHANISMS.contains(&m.as_str()) {
            bail!(
                "{key}: SASL mechanism {m} is not supported (supported: {})",
                SASL_MECHANISMS.join(", ")
            );
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// A session lifetime from milliseconds: 0 or negative is off, as on Kafka.
fn reauth_lifetime(ms: i64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

/// The session lifetime of listener `name`: its own key if set, else `default_ms`.
fn listener_reauth(keys: &ListenerKeys<'_>, name: &str) -> Result<Option<Duration>> {
    let lower = name.to_ascii_lowercase();
    match keys.per_listener_reauth.get(&lower) {
        None => Ok(reauth_lifetime(keys.max_reauth_ms)),
        Some(v) => {
            let key = format!("listener.name.{lower}.connections.max.reauth.ms");
            let ms: i64 = v
                .trim()
                .parse()
                .with_context(|| format!("{key} must be an integer (ms), not {v:?}"))?;
            Ok(reauth_lifetime(ms))
        }
    }
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    let (h, p) = parse_host_port_str(addr)?;
    format!("{h}:{p}")
        .to_socket_addrs()
        .with_context(|| format!("resolving listener {addr}"))?
        .next()
        .with_context(|| format!("listener {addr} resolves to no address"))
}

/// Resolves the client listeners (see the module comment). A controller-only node
/// (`broker == false`) may have none.
pub fn resolve_listeners(keys: &ListenerKeys<'_>, broker: bool) -> Result<Listeners> {
    let map = parse_map(keys.protocol_map)?;
    let mut entries: Vec<_> = listener_entries(keys.listeners)
        .into_iter()
        .filter(|e| !keys.controller_names.contains(&e.name))
        .collect();
    if let Some(flag) = keys.listen_flag {
        let flag = flag.split_once("://").map_or(flag, |(_, a)| a).to_string();
        match entries.first_mut() {
            Some(e) => e.address = flag,
            None => entries.push(super::quorum::ListenerEntry {
                name: "PLAINTEXT".into(),
                address: flag,
            }),
        }
    }
    if entries.is_empty() {
        if broker {
            bail!(
                "listeners has no client listener (only controller listeners named in \
                 controller.listener.names), but process.roles includes broker"
            );
        }
        entries.push(super::quorum::ListenerEntry {
            name: "PLAINTEXT".into(),
            address: "127.0.0.1:0".into(),
        });
    }
    let mut advertised: BTreeMap<String, (String, u16)> = BTreeMap::new();
    for mut e in listener_entries(keys.advertised) {
        if keys.controller_names.contains(&e.name) {
            continue;
        }
        // A bare HOST:PORT (named PLAINTEXT) with no PLAINTEXT listener: the first listener's,
        // as a single-listener configuration always meant.
        if !keys.advertised.contains("://") && !entries.iter().any(|l| l.name == e.name) {
            e.name = entries[0].name.clone();
        }
        if !entries.iter().any(|l| l.name == e.name) {
            bail!(
                "advertised.listeners names listener {} that listeners does not have",
                e.name
            );
        }
        advertised.insert(e.name.clone(), parse_host_port_str(&e.address)?);
    }
    let default_mechs = parse_mechanisms(keys.sasl_mechanisms, "sasl.enabled.mechanisms")?;
    let mut all: Vec<Listener> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if all.iter().any(|l| l.name == e.name) {
            bail!("listeners: listener name {} appears twice", e.name);
        }
        let Some(proto) = map.get(&e.name) else {
            bail!(
                "listeners: listener {} has no security protocol in \
                 listener.security.protocol.map",
                e.name
            );
        };
        let protocol = SecurityProtocol::parse(proto, "listener.security.protocol.map")?;
        let bind = resolve(&e.address)?;
        if bind.port() != 0 && all.iter().any(|l| l.bind.port() == bind.port()) {
            bail!("listeners: port {} is used by two listeners", bind.port());
        }
        let flagged = if i == 0 {
            keys.advertised_flag.map(parse_host_port_str).transpose()?
        } else {
            None
        };
        let advertised = match flagged.or_else(|| advertised.get(&e.name).cloned()) {
            Some(a) => a,
            None => {
                let host = if bind.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    bind.ip().to_string()
                };
                (host, bind.port())
            }
        };
        let sasl_mechanisms = if protocol.is_sasl() {
            let key = format!(
                "listener.name.{}.sasl.enabled.mechanisms",
                e.name.to_ascii_lowercase()
            );
            let mechs = match keys
                .per_listener_mechanisms
                .get(&e.name.to_ascii_lowercase())
            {
                Some(v) => parse_mechanisms(v, &key)?,
                None => default_mechs.clone(),
            };
            if mechs.is_empty() {
                bail!(
                    "listener {} is {} but has no SASL mechanism ({key} / \
                     sasl.enabled.mechanisms)",
                    e.name,
                    protocol.name()
                );
            }
            mechs
        } else {
            Vec::new()
        };
        let max_reauth = if protocol.is_sasl() {
            listener_reauth(keys, &e.name)?
        } else {
            None
        };
        all.push(Listener {
            name: e.name.clone(),
            protocol,
            bind,
            advertised,
            sasl_mechanisms,
            tls: None,
            max_reauth,
        });
    }
    let inter_broker = match keys.inter_broker.trim() {
        // The first PLAINTEXT listener, else the first one (whose TLS and SASL settings the
        // inter-broker client then uses, see `super::inter_broker`).
        "" => all
            .iter()
            .find(|l| l.protocol == SecurityProtocol::Plaintext)
            .unwrap_or(&all[0])
            .name
            .clone(),
        name => name.to_ascii_uppercase(),
    };
    if !all.iter().any(|l| l.name == inter_broker) {
        bail!("inter.broker.listener.name {inter_broker} names no client listener");
    }
    Ok(Listeners { all, inter_broker })
}

#[cfg(test)]
#[path = "listeners_tests.rs"]
mod tests;
