//! The broker's place in the cluster, with Kafka's config names: `process.roles`,
//! `controller.quorum.voters`, the controller listener (a `CONTROLLER://host:port` entry of
//! `listeners`, named by `controller.listener.names`), `broker.rack`,
//! `broker.session.timeout.ms` and `broker.heartbeat.interval.ms` (docs/cluster.md).
//!
//! Everything here is checked at startup: a malformed voters string, an unknown role, a
//! controller whose `node.id` is not a voter or whose listener is not its voter address stop the
//! broker with a message naming the key.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The roles this process plays (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serves Kafka clients (`broker`).
    pub broker: bool,
    /// Is a voter of the controller quorum (`controller`).
    pub controller: bool,
}

/// The controller quorum this node belongs to, and how it takes part.
#[derive(Debug, Clone)]
pub struct QuorumSettings {
    /// `process.roles`.
    pub roles: Roles,
    /// `controller.quorum.voters`, parsed; empty: a one-member quorum of this node alone.
    pub voters: Vec<(u64, SocketAddr)>,
    /// The controller listener's address (`CONTROLLER://host:port` in `listeners`); `None`:
    /// this node's voter address, or a free loopback port for a one-member quorum.
    pub controller_listen: Option<SocketAddr>,
    /// `broker.rack`; `None` when empty.
    pub rack: Option<String>,
    /// `broker.session.timeout.ms`: a broker without a heartbeat this long is fenced.
    pub session_timeout: Duration,
    /// `broker.heartbeat.interval.ms`: how often this broker heartbeats to the controller.
    pub heartbeat_interval: Duration,
    /// The controller listener's TLS material when its protocol is `SSL`; `None`: plaintext
    /// (set by [`super::controller_tls::resolve`]).
    pub tls: Option<super::controller_tls::ControllerTls>,
    /// `auto.leader.rebalance.enable` with `leader.imbalance.check.interval.seconds` and
    /// `leader.imbalance.per.broker.percentage` (`None`: off); used by this node's controller.
    pub leader_rebalance: Option<runnel_controller::LeaderRebalance>,
    /// `unclean.leader.election.enable`, the broker default; used by this node's controller.
    pub unclean_leader_election: bool,
}

/// One entry of a `listeners` list: its name (`PLAINTEXT` when it has none) and `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEntry {
    /// The listener's name (`PLAINTEXT`, `CONTROLLER`, ...).
    pub name: String,
    /// `host:port` as written.
    pub address: String,
}

/// Splits a `listeners` or `advertised.listeners` value into its entries: `NAME://host:port`
/// or plain `host:port` (named `PLAINTEXT`), separated by commas.
pub fn listener_entries(s: &str) -> Vec<ListenerEntry> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match e.split_once("://") {
            Some((name, addr)) => ListenerEntry {
                name: name.trim().to_ascii_uppercase(),
                address: addr.trim().to_string(),
            },
            None => ListenerEntry {
                name: "PLAINTEXT".into(),
                address: e.to_string(),
            },
        })
        .collect()
}

/// `controller.listener.names`, upper-cased.
/// The names of `controller.listener.names`, upper-cased.
pub fn controller_names(s: &str) -> Vec<String> {
    s.split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The client listener of a `listeners` value (its first entry that is not a controller
/// listener) and the controller listener (the first entry named in `controller.listener.names`).
pub fn split_listeners(listeners: &str, names: &str) -> (Option<String>, Option<String>) {
    let names = controller_names(names);
    let entries = listener_entries(listeners);
    let client = entries
        .iter()
        .find(|e| !names.contains(&e.name))
        .map(|e| e.address.clone());
    let controller = entries
        .iter()
        .find(|e| names.contains(&e.name))
        .map(|e| e.address.clone());
    (client, controller)
}

/// Parses `process.roles`: `broker`, `controller`, or both, comma-separated.
pub fn parse_roles(s: &str) -> Result<Roles> {
    let mut roles = Roles {
        broker: false,
        controller: false,
    };
    for role in s.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match role.to_ascii_lowercase().as_str() {
            "broker" => roles.broker = true,
            "controller" => roles.controller = true,
            other => bail!(
                "process.roles: unknown role {other:?} (the roles are broker and controller, \
                 e.g. \"broker,controller\")"
            ),
        }
    }
    if !roles.broker && !roles.controller {
        bail!("process.roles is empty: give broker, controller or broker,controller");
    }
    Ok(roles)
}

fn resolve(what: &str, addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("resolving {what} {addr}"))?
        .next()
        .with_context(|| format!("{what} {addr} resolves to no address"))
}

/// The raw values of the keys, as read from the merged configuration.
pub struct QuorumKeys<'a> {
    /// `node.id`.
    pub node_id: i32,
    /// `process.roles`.
    pub roles: &'a str,
    /// `controller.quorum.voters`.
    pub voters: &'a str,
    /// The controller entry of `listeners`, if any.
    pub controller_listener: Option<&'a str>,
    /// `broker.rack`.
    pub rack: &'a str,
    /// `broker.session.timeout.ms`.
    pub session_timeout_ms: i64,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i64,
}

impl QuorumSettings {
    /// Checks and resolves the keys.
    pub fn from_keys(k: &QuorumKeys<'_>) -> Result<QuorumSettings> {
        let roles = parse_roles(k.roles)?;
        let voters = if k.voters.trim().is_empty() {
            Vec::new()
        } else {
            runnel_controller::parse_voters(k.voters).map_err(|e| anyhow::anyhow!("{e}"))?
        };
        let controller_listen = match k.controller_listener {
            Some(a) => Some(resolve("controller listener", a)?),
            None => None,
        };
        if !roles.controller {
            if voters.is_empty() {
                bail!(
                    "process.roles = \"broker\" (no controller on this node) needs \
                     controller.quorum.voters: the voters of the quorum this broker joins"
                );
            }
            if voters.iter().any(|(id, _)| *id == k.node_id as u64) {
                bail!(
                    "node.id {} is one of controller.quorum.voters ({}): a broker without a \
                     controller needs a node.id of its own (or process.roles = \
                     \"broker,controller\" to be that voter)",
                    k.node_id,
                    k.voters
                );
            }
            if controller_listen.is_some() {
                bail!(
                    "process.roles = \"broker\": listeners has a controller listener, but this \
                     node runs no controller"
                );
            }
        }
        if roles.controller && !voters.is_empty() {
            let Some((_, own)) = voters.iter().find(|(id, _)| *id == k.node_id as u64) else {
                bail!(
                    "node.id {} is not one of controller.quorum.voters ({}): a controller must \
                     be a voter",
                    k.node_id,
                    k.voters
                );
            };
            if let Some(l) = controller_listen {
                if l.port() != own.port() {
                    bail!(
                        "the controller listener {l} does not have the port of this node's \
                         voter entry {own} in controller.quorum.voters"
                    );
                }
            }
        }
        if k.heartbeat_interval_ms >= k.session_timeout_ms {
            bail!(
                "broker.heartbeat.interval.ms ({}) must be below broker.session.timeout.ms ({})",
                k.heartbeat_interval_ms,
                k.session_timeout_ms
            );
        }
        let rack = k.rack.trim();
        Ok(QuorumSettings {
            roles,
            voters,
            controller_listen,
            rack: (!rack.is_empty()).then(|| rack.to_string()),
            session_timeout: Duration::from_millis(k.session_timeout_ms.max(1) as u64),
            heartbeat_interval: Duration::from_millis(k.heartbeat_interval_ms.max(1) as u64),
            tls: None,
            leader_rebalance: Some(runnel_controller::LeaderRebalance::default()),
            unclean_leader_election: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(roles: &'a str, voters: &'a str, ctl: Option<&'a str>) -> QuorumKeys<'a> {
        QuorumKeys {
            node_id: 1,
            roles,
            voters,
            controller_listener: ctl,
            rack: "",
            session_timeout_ms: 9000,
            heartbeat_interval_ms: 2000,
        }
    }

    #[test]
    fn listeners_split_into_client_and_controller() {
        let (c, k) = split_listeners(
            "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19192",
            "CONTROLLER",
        );
        assert_eq!(c.as_deref(), Some("127.0.0.1:19092"));
        assert_eq!(k.as_deref(), Some("127.0.0.1:19192"));
        let (c, k) = split_listeners("127.0.0.1:9092", "CONTROLLER");
        assert_eq!(c.as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(k, None);
        let (c, k) = split_listeners("controller://h:1", "CONTROLLER");
        assert_eq!((c, k.as_deref()), (None, Some("h:1")));
    }

    #[test]
    fn roles_parse_and_unknown_ones_are_named() {
        let both = parse_roles("broker, controller").unwrap();
        assert!(both.broker && both.controller);
        let c = parse_roles("controller").unwrap();
        assert!(!c.broker && c.controller);
        let e = format!("{:#}", parse_roles("broker,zookeeper").unwrap_err());
        assert!(e.contains("zookeeper"), "{e}");
        assert!(parse_roles("").is_err());
    }

    #[test]
    fn quorum_settings_are_checked() {
        let s = QuorumSettings::from_keys(&keys("broker,controller", "", None)).unwrap();
        assert!(s.voters.is_empty() && s.rack.is_none());
        let v = "1@127.0.0.1:19192,2@127.0.0.1:19193";
        let s = QuorumSettings::from_keys(&keys("broker,controller", v, Some("127.0.0.1:19192")))
            .unwrap();
        assert_eq!(s.voters.len(), 2);
        for (roles, voters, ctl, needle) in [
            (
                "broker,controller",
                "1@127.0.0.1",
                None,
                "controller.quorum.voters",
            ),
            (
                "broker,controller",
                "x@127.0.0.1:1",
                None,
                "controller.quorum.voters",
            ),
            ("broker,controller", "2@127.0.0.1:19193", None, "not one of"),
            (
                "broker,controller",
                v,
                Some("127.0.0.1:19999"),
                "voter entry",
            ),
            ("broker", v, None, "a node.id of its own"),
            ("broker", "", None, "needs controller.quorum.voters"),
            (
                "broker",
                "2@127.0.0.1:19193",
                Some("127.0.0.1:19192"),
                "runs no controller",
            ),
            ("brocker", v, None, "unknown role"),
        ] {
            let e = format!(
                "{:#}",
                QuorumSettings::from_keys(&keys(roles, voters, ctl)).unwrap_err()
            );
            assert!(e.contains(needle), "{roles} {voters}: {e}");
        }
        // A broker without a controller, with a node.id that is not a voter's.
        let s = QuorumSettings::from_keys(&keys("broker", "2@127.0.0.1:19193", None)).unwrap();
        assert!(s.roles.broker && !s.roles.controller);
        assert_eq!(s.voters.len(), 1);
        let mut k = keys("broker,controller", "", None);
        k.heartbeat_interval_ms = 9000;
        assert!(QuorumSettings::from_keys(&k).is_err());
    }
}
