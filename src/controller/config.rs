//! A controller's configuration, its checks, and Kafka's `controller.quorum.voters` syntax.

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ControllerError;
use crate::lifecycle::DEFAULT_SESSION_TIMEOUT;
use crate::transport::Transport;

/// How to run one controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// This controller's id (`node.id`); one of `voters`.
    pub node_id: u64,
    /// Every voter of the quorum: id and controller address (`controller.quorum.voters`). Every
    /// member must be started with the same list.
    pub voters: Vec<(u64, SocketAddr)>,
    /// Where this controller listens for its peers (its own entry of `voters`, or a wildcard
    /// address with that port).
    pub listen: SocketAddr,
    /// The controller's directory (its files go in `raft/` below it).
    pub data_dir: PathBuf,
    /// `broker.session.timeout.ms`: a broker without a heartbeat for this long is fenced.
    pub session_timeout: Duration,
    /// The leader's heartbeat to followers.
    pub heartbeat_interval: Duration,
    /// A follower that hears no leader for a random time in this range starts an election.
    pub election_timeout: (Duration, Duration),
    /// A snapshot is taken every this many log entries, and the log purged behind it.
    pub snapshot_every: u64,
    /// Entries kept behind a snapshot for followers that lag a little.
    pub keep_after_snapshot: u64,
    /// How long `propose` and `heartbeat` try (finding and reaching the leader included).
    pub request_timeout: Duration,
    /// How the controller listener and the connections to peers are carried (plaintext or
    /// mutual TLS); a TLS transport must have a server configuration.
    pub transport: Transport,
    /// `auto.leader.rebalance.enable`, `leader.imbalance.check.interval.seconds` and
    /// `leader.imbalance.per.broker.percentage`: how the active controller moves leadership
    /// back to preferred replicas (`None`: it does not).
    pub leader_rebalance: Option<LeaderRebalance>,
    /// The broker default of `unclean.leader.election.enable` (topic configs and the
    /// cluster-wide dynamic default override it).
    pub unclean_leader_election: bool,
}

/// The automatic preferred-leader rebalance's settings (Kafka's defaults: every 300 s, above
/// 10 % per broker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderRebalance {
    /// `leader.imbalance.check.interval.seconds`.
    pub interval: Duration,
    /// `leader.imbalance.per.broker.percentage`.
    pub percentage: u32,
}

impl Default for LeaderRebalance {
    fn default() -> LeaderRebalance {
        LeaderRebalance {
            interval: Duration::from_secs(300),
            percentage: 10,
        }
    }
}

impl ControllerConfig {
    /// A configuration with the defaults for everything but identity, peers and directory.
    pub fn new(
        node_id: u64,
        voters: Vec<(u64, SocketAddr)>,
        listen: SocketAddr,
        data_dir: impl Into<PathBuf>,
    ) -> ControllerConfig {
        ControllerConfig {
            node_id,
            voters,
            listen,
            data_dir: data_dir.into(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(600), Duration::from_millis(1200)),
            snapshot_every: 1000,
            keep_after_snapshot: 100,
            request_timeout: Duration::from_secs(10),
            transport: Transport::Plaintext,
            leader_rebalance: Some(LeaderRebalance::default()),
            unclean_leader_election: false,
        }
    }

    /// Checks the configuration: a clear error for what cannot work.
    pub fn validate(&self) -> Result<(), ControllerError> {
        let bad = |m: String| Err(ControllerError::Config(m));
        if self.voters.is_empty() {
            return bad("controller.quorum.voters is empty".into());
        }
        let mut ids = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        // A one-member quorum dials no peer: it may listen on any free port (port 0).
        let alone = self.voters.len() == 1;
        for (id, addr) in &self.voters {
            if !ids.insert(*id) {
                return bad(format!("voter id {id} appears twice"));
            }
            if !addrs.insert(*addr) {
                return bad(format!("voter address {addr} appears twice"));
            }
            if (addr.port() == 0 && !alone) || addr.ip().is_unspecified() {
                return bad(format!(
                    "voter {id}: {addr} is not an address peers can reach"
                ));
            }
        }
        let Some((_, own)) = self.voters.iter().find(|(id, _)| *id == self.node_id) else {
            return bad(format!(
                "node.id {} is not one of the voters {ids:?}",
                self.node_id
            ));
        };
        if self.listen.port() != own.port() {
            return bad(format!(
                "listen address {} does not have the port of this voter's entry {own}",
                self.listen
            ));
        }
        let (min, max) = self.election_timeout;
        if min >= max || self.heartbeat_interval >= min || self.heartbeat_interval.is_zero() {
            return bad("need 0 < heartbeat interval < election timeout min < max".into());
        }
        if self.snapshot_every == 0 || self.session_timeout.is_zero() {
            return bad("snapshot_every and session_timeout must be above 0".into());
        }
        if let Transport::Tls(tls) = &self.transport {
            if tls.server.is_none() {
                return bad(
                    "the controller listener is TLS but has no server configuration".into(),
                );
            }
        }
        Ok(())
    }
}

/// Parses `controller.quorum.voters`: `id@host:port` entries separated by commas
/// (`1@localhost:9093,2@localhost:9094`). Host names are resolved now.
pub fn parse_voters(s: &str) -> Result<Vec<(u64, SocketAddr)>, ControllerError> {
    let bad = |m: String| ControllerError::Config(format!("controller.quorum.voters: {m}"));
    let mut out = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, addr) = entry
            .split_once('@')
            .ok_or_else(|| bad(format!("{entry:?} is not id@host:port")))?;
        let id: u64 = id
            .parse()
            .map_err(|_| bad(format!("{id:?} is not a node id")))?;
        let resolved = addr
            .to_socket_addrs()
            .map_err(|e| bad(format!("{addr:?}: {e}")))?
            .next()
            .ok_or_else(|| bad(format!("{addr:?} resolves to nothing")))?;
        out.push((id, resolved));
    }
    if out.is_empty() {
        return Err(bad("no voters".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn voters_parse() {
        let v = parse_voters("1@127.0.0.1:9093, 2@127.0.0.1:9094").unwrap();
        assert_eq!(v, vec![(1, addr(9093)), (2, addr(9094))]);
        for bad in ["", "1", "x@127.0.0.1:1", "1@nohost", "1@127.0.0.1"] {
            assert!(
                matches!(parse_voters(bad), Err(ControllerError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_configs_are_named() {
        let ok = ControllerConfig::new(1, vec![(1, addr(9093)), (2, addr(9094))], addr(9093), "d");
        ok.validate().unwrap();
        let mut c = ok.clone();
        c.voters.clear();
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.node_id = 3;
        assert!(format!("{:?}", c.validate()).contains("not one of the voters"));
        let mut c = ok.clone();
        c.voters.push((1, addr(9095)));
        assert!(format!("{:?}", c.validate()).contains("twice"));
        let mut c = ok.clone();
        c.voters[1].1 = addr(9093);
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.voters[1].1 = SocketAddr::from(([0, 0, 0, 0], 9094));
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.listen = addr(1);
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.voters[1].1 = addr(0);
        assert!(c.validate().is_err(), "port 0 for a voter peers must reach");
        let mut c = ok;
        c.election_timeout = (Duration::from_secs(2), Duration::from_secs(1));
        assert!(c.validate().is_err());
        // A one-member quorum may take any free port.
        ControllerConfig::new(1, vec![(1, addr(0))], addr(0), "d")
            .validate()
            .unwrap();
    }
}
