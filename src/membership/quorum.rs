//! Starts this node's controller (a voter of the quorum) from the broker's configuration:
//! `controller.quorum.voters`, the controller listener, `broker.session.timeout.ms`, in
//! `<data-dir>/controller`. With no voters configured the node is a one-member quorum of its
//! own on a free loopback port: a single broker needs no setup and no fixed port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use runnel_controller::{Controller, ControllerConfig, ControllerError};

use crate::config::Config;

/// Tries at taking a free port for a one-member quorum (another process may take the port
/// between the probe and the controller's bind).
const FREE_PORT_TRIES: usize = 3;

/// The controller's directory: `<data-dir>/controller`.
pub fn controller_dir(config: &Config) -> PathBuf {
    config.data_dir.join("controller")
}

/// A loopback address whose port was free a moment ago.
fn free_loopback() -> Result<SocketAddr> {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| anyhow!("finding a free port for the controller: {e}"))?;
    Ok(probe.local_addr()?)
}

fn controller_config(config: &Config, voters: Vec<(u64, SocketAddr)>) -> ControllerConfig {
    let id = config.node_id as u64;
    let own = voters
        .iter()
        .find(|(v, _)| *v == id)
        .map(|(_, a)| *a)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    // The controller listener may bind a wildcard address with the voter's port.
    let listen = config.quorum.controller_listen.unwrap_or(own);
    let mut c = ControllerConfig::new(id, voters, listen, controller_dir(config));
    c.session_timeout = config.quorum.session_timeout;
    c
}

/// Says what a failed start means for an operator.
fn explain(config: &Config, e: ControllerError) -> anyhow::Error {
    match e {
        ControllerError::Config(m) if m.starts_with("cannot listen") => anyhow!(
            "controller of node.id {}: {m} (is another node with node.id {} running? each \
             voter of controller.quorum.voters is one process)",
            config.node_id,
            config.node_id
        ),
        other => anyhow!(
            "starting the controller of node.id {}: {other}",
            config.node_id
        ),
    }
}

/// Starts the controller; returns once its storage is open and its listener bound (electing
/// a leader goes on in the background).
pub fn start(config: &Config) -> Result<Controller> {
    let voters = &config.quorum.voters;
    if !voters.is_empty() {
        return Controller::start(controller_config(config, voters.clone()))
            .map_err(|e| explain(config, e));
    }
    let mut last = None;
    for _ in 0..FREE_PORT_TRIES {
        let own = match config.quorum.controller_listen {
            Some(l) if l.port() != 0 && !l.ip().is_unspecified() => l,
            Some(l) if l.port() != 0 => SocketAddr::from((Ipv4Addr::LOCALHOST, l.port())),
            _ => free_loopback()?,
        };
        let fixed = config
            .quorum
            .controller_listen
            .is_some_and(|l| l.port() != 0);
        match Controller::start(controller_config(
            config,
            vec![(config.node_id as u64, own)],
        )) {
            Ok(c) => return Ok(c),
            Err(ControllerError::Config(m)) if m.starts_with("cannot listen") && !fixed => {
                last = Some(ControllerError::Config(m));
            }
            Err(e) => return Err(explain(config, e)),
        }
    }
    Err(explain(
        config,
        last.unwrap_or(ControllerError::Config("no free port".into())),
    ))
}
