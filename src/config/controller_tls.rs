//! The controller listener's security, as Kafka configures it: its protocol is the
//! `listener.security.protocol.map` entry of the first name of `controller.listener.names`
//! (`CONTROLLER:SSL`), its TLS keys are `listener.name.<name>.ssl.*` over `ssl.*`, exactly as
//! for client listeners ([`super::listener_tls`]).
//!
//! - `PLAINTEXT` (the default, also when the map has no entry for the name): nothing changes.
//! - `SSL`: controllers serve TLS with client certificates **required**: `ssl.client.auth`
//!   defaults to `required` there, and `none` or `requested` is refused (an unauthenticated
//!   controller connection is what TLS on this listener closes). Every node, a broker without
//!   a controller included, connects to the voters with TLS, presenting its own certificate
//!   (the same keystore) and checking theirs against the truststore, host names included per
//!   `ssl.endpoint.identification.algorithm`.
//! - `SASL_PLAINTEXT`, `SASL_SSL`: refused (not supported on the controller listener yet).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

use super::listener_tls::TlsKeys;
use super::listeners::{parse_map, SecurityProtocol};
use crate::security::tls::{client_config, TlsContext};

/// The controller listener's TLS material (only with `SSL`).
#[derive(Clone)]
pub struct ControllerTls {
    /// The listener's name (`CONTROLLER`).
    pub listener: String,
    /// The server side, reloaded when its files change; `None` on a broker without a
    /// controller (it only connects).
    pub server: Option<Arc<TlsContext>>,
    /// The client side: the truststore that voters are checked against, and this node's own
    /// certificate (read at start).
    pub client: Arc<rustls::ClientConfig>,
    /// The host name each voter was written with in `controller.quorum.voters`.
    pub server_names: BTreeMap<SocketAddr, String>,
}

impl std::fmt::Debug for ControllerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerTls")
            .field("listener", &self.listener)
            .field("serves", &self.server.is_some())
            .field("server_names", &self.server_names)
            .finish()
    }
}

/// The raw keys this needs.
pub struct ControllerTlsKeys<'a> {
    /// `listener.security.protocol.map`.
    pub protocol_map: &'a str,
    /// `controller.listener.names`, parsed.
    pub controller_names: &'a [String],
    /// `controller.quorum.voters` as written.
    pub voters: &'a str,
    /// The same, resolved.
    pub resolved_voters: &'a [(u64, SocketAddr)],
    /// Whether this node runs a controller (serves the listener).
    pub serves: bool,
}

/// The controller listener's protocol (see the module comment).
pub fn protocol(
    protocol_map: &str,
    controller_names: &[String],
) -> Result<(String, SecurityProtocol)> {
    let name = controller_names
        .first()
        .cloned()
        .unwrap_or_else(|| "CONTROLLER".to_string());
    let map = parse_map(protocol_map)?;
    let protocol = match map.get(&name) {
        Some(p) => SecurityProtocol::parse(p, "listener.security.protocol.map")?,
        None => SecurityProtocol::Plaintext,
    };
    Ok((name, protocol))
}

/// The controller listener's TLS material, `None` when it is `PLAINTEXT`; an error naming the
/// key for what is refused (see the module comment).
pub fn resolve(k: &ControllerTlsKeys<'_>, tls_keys: &TlsKeys) -> Result<Option<ControllerTls>> {
    let (name, protocol) = protocol(k.protocol_map, k.controller_names)?;
    match protocol {
        SecurityProtocol::Plaintext => return Ok(None),
        SecurityProtocol::Ssl => {}
        sasl => bail!(
            "listener.security.protocol.map: the controller listener {name} is {}: SASL is not \
             supported on the controller listener yet (use {name}:SSL, with client \
             certificates, or {name}:PLAINTEXT)",
            sasl.name()
        ),
    }
    if let Some((key, value)) = tls_keys.lookup(&name, "ssl.client.auth") {
        let value = value.trim();
        if !value.is_empty() && !value.eq_ignore_ascii_case("required") {
            bail!(
                "{key} = {value:?}: the controller listener {name} requires client \
                 certificates (an unauthenticated controller connection could change the \
                 cluster's metadata); remove the setting or set \
                 listener.name.{}.ssl.client.auth = \"required\"",
                name.to_ascii_lowercase()
            );
        }
    }
    let settings = tls_keys.settings_defaulting(&name, &[("ssl.client.auth", "required")])?;
    let client =
        client_config(&settings).map_err(|e| anyhow!("controller listener {name}: {e}"))?;
    let server = if k.serves {
        let ctx = TlsContext::new(settings).map_err(|e| anyhow!("listener {name}: {e}"))?;
        Some(Arc::new(ctx))
    } else {
        None
    };
    Ok(Some(ControllerTls {
        listener: name,
        server,
        client,
        server_names: server_names(k.voters, k.resolved_voters),
    }))
}

/// The host each voter was written with (`1@host:port`), by its resolved address.
fn server_names(voters: &str, resolved: &[(u64, SocketAddr)]) -> BTreeMap<SocketAddr, String> {
    let mut out = BTreeMap::new();
    for entry in voters.split(',').map(str::trim) {
        let Some((id, addr)) = entry.split_once('@') else {
            continue;
        };
        let (Ok(id), Some((host, _))) = (id.trim().parse::<u64>(), addr.rsplit_once(':')) else {
            continue;
        };
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        if let Some((_, a)) = resolved.iter().find(|(v, _)| *v == id) {
            out.insert(*a, host.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_comes_from_the_map_and_sasl_is_refused() {
        let names = vec!["CONTROLLER".to_string()];
        let (n, p) = protocol("CONTROLLER:SSL,PLAINTEXT:PLAINTEXT", &names).unwrap();
        assert_eq!((n.as_str(), p), ("CONTROLLER", SecurityProtocol::Ssl));
        let (_, p) = protocol("PLAINTEXT:PLAINTEXT", &names).unwrap();
        assert_eq!(p, SecurityProtocol::Plaintext);
        let keys = ControllerTlsKeys {
            protocol_map: "CONTROLLER:SASL_SSL",
            controller_names: &names,
            voters: "",
            resolved_voters: &[],
            serves: true,
        };
        let e = resolve(&keys, &TlsKeys::default()).unwrap_err().to_string();
        assert!(
            e.contains("listener.security.protocol.map") && e.contains("SASL"),
            "{e}"
        );
        let plain = ControllerTlsKeys {
            protocol_map: "CONTROLLER:PLAINTEXT",
            ..keys
        };
        assert!(resolve(&plain, &TlsKeys::default()).unwrap().is_none());
    }

    #[test]
    fn client_auth_other_than_required_is_refused_by_its_key() {
        let names = vec!["CONTROLLER".to_string()];
        let keys = ControllerTlsKeys {
            protocol_map: "CONTROLLER:SSL",
            controller_names: &names,
            voters: "",
            resolved_voters: &[],
            serves: true,
        };
        for (key, value) in [
            ("listener.name.controller.ssl.client.auth", "none"),
            ("ssl.client.auth", "requested"),
        ] {
            let mut tls = TlsKeys::default();
            assert!(tls.take(key, &toml::Value::String(value.into())));
            let e = resolve(&keys, &tls).unwrap_err().to_string();
            assert!(
                e.contains(key) && e.contains("requires client certificates"),
                "{e}"
            );
        }
    }

    #[test]
    fn voters_keep_their_host_names() {
        let a: SocketAddr = "127.0.0.1:9093".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:9094".parse().unwrap();
        let names = server_names("1@localhost:9093, 2@127.0.0.1:9094", &[(1, a), (2, b)]);
        assert_eq!(names.get(&a).map(String::as_str), Some("localhost"));
        assert_eq!(names.get(&b).map(String::as_str), Some("127.0.0.1"));
    }
}
