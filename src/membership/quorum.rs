//! Starts this node's controller (a voter of the quorum) from the broker's configuration:
//! `controller.quorum.voters`, the controller listener, `broker.session.timeout.ms`, in
//! `<data-dir>/controller`. With no voters configured the node is a one-member quorum of its
//! own on a free loopback port (port 0): a single broker needs no setup and no fixed port. A
//! broker without a controller (`process.roles = "broker"`) gets a client of the remote voters
//! instead ([`connect`]).
//!
//! With `CONTROLLER:SSL` both carry their connections over mutual TLS ([`transport`]): the
//! rustls configurations come from the controller listener's keys, and with an authorizer a
//! connecting node's certificate principal must be one of `super.users`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use runnel_controller::{
    Authorize, Controller, ControllerConfig, ControllerError, QuorumHandle, RemoteConfig,
    RemoteQuorum, ServerConfigSource, TlsTransport, Transport,
};

use crate::config::Config;
use crate::security::tls::principal;

/// The controller's directory: `<data-dir>/controller`.
pub fn controller_dir(config: &Config) -> PathBuf {
    config.data_dir.join("controller")
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
    c.leader_rebalance = config.quorum.leader_rebalance;
    c.unclean_leader_election = config.quorum.unclean_leader_election;
    c.transport = transport(config);
    c
}

/// How this node's controller connections are carried: plaintext, or mutual TLS with the
/// controller listener's key material (see the module comment).
pub fn transport(config: &Config) -> Transport {
    let Some(tls) = &config.quorum.tls else {
        return Transport::Plaintext;
    };
    let server = tls.server.clone().map(|ctx| {
        let source: ServerConfigSource = Arc::new(move || ctx.config());
        source
    });
    let authorize = config.authorizer.as_ref().map(|a| {
        let super_users = a.super_users.clone();
        let check: Authorize = Arc::new(move |cert| {
            let p = principal::from_certificate(cert.as_ref())
                .ok_or_else(|| "the client certificate does not parse".to_string())?;
            let p = p.to_string();
            if super_users.contains(&p) {
                Ok(())
            } else {
                Err(format!(
                    "{p} is not one of super.users (brokers and controllers must be super \
                     users to use the controller listener)"
                ))
            }
        });
        check
    });
    Transport::Tls(Arc::new(TlsTransport {
        server,
        client: tls.client.clone(),
        server_names: tls.server_names.clone(),
        authorize,
    }))
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
/// a leader goes on in the background). With no voters configured, the node is a one-member
/// quorum on its controller listener, or on a free loopback port (port 0) without one.
pub fn start(config: &Config) -> Result<Controller> {
    let voters = if config.quorum.voters.is_empty() {
        let own = match config.quorum.controller_listen {
            Some(l) if l.ip().is_unspecified() => SocketAddr::from((Ipv4Addr::LOCALHOST, l.port())),
            Some(l) => l,
            None => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        };
        vec![(config.node_id as u64, own)]
    } else {
        config.quorum.voters.clone()
    };
    Controller::start(controller_config(config, voters)).map_err(|e| explain(config, e))
}

/// How long a call through the client of a remote quorum tries (a controller's default).
const REMOTE_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The broker's way to the quorum: its own controller when it is a voter ([`start`]), the
/// client of the voters of `controller.quorum.voters` otherwise (`process.roles = "broker"`).
pub fn connect(config: &Config) -> Result<QuorumHandle> {
    if config.quorum.roles.controller {
        return Ok(start(config)?.into());
    }
    // No controller here, but the directory keeps the broker's own quorum markers (the import
    // of an old topics.json is done once per data directory).
    let dir = controller_dir(config);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow!("creating {}: {e}", dir.display()))?;
    let client = RemoteQuorum::start(RemoteConfig {
        node_id: config.node_id as u64,
        voters: config.quorum.voters.clone(),
        request_timeout: REMOTE_REQUEST_TIMEOUT,
        transport: transport(config),
    })
    .map_err(|e| anyhow!("node.id {}: {e}", config.node_id))?;
    Ok(client.into())
}
