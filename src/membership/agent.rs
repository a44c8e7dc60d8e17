//! The membership agent, two tasks on core 0's executor:
//!
//! - **lifecycle**: registers the broker with the quorum (`RegisterBroker`: a new incarnation
//!   id at each start, its client endpoint and rack), then heartbeats every
//!   `broker.heartbeat.interval.ms` (the first heartbeat unfences it). An unreachable quorum is
//!   logged and retried with a backoff of 100 ms doubling to 5 s; a registration refused
//!   because another live incarnation holds this `node.id` is retried until a crashed
//!   predecessor would have been fenced (twice the session timeout, plus a margin), then the
//!   broker stops with that error. Readiness (`/ready`) follows the heartbeats.
//! - **publisher**: builds a [`ClusterState`] from each new image of the controller
//!   (`subscribe()`) and from the active controller (polled), and sends it to every core over
//!   a `watch` channel (cores keep only the newest).
//!
//! Both only await the controller's futures; no core ever blocks on the controller.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runnel_controller::records::{BrokerId, Endpoint, MetadataRecord, RegisterBrokerRecord};
use runnel_controller::{ControllerError, RecordBatch, RejectReason};

use super::Membership;
use crate::cluster::membership::ClusterState;
use crate::config::Config;
use crate::metrics::Registry;

/// First pause after a failed call to the quorum.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the publisher looks at the active controller.
const LEADER_POLL: Duration = Duration::from_millis(200);
/// Granularity of the agent's sleeps (how soon it sees the stop flag).
const STOP_POLL: Duration = Duration::from_millis(100);
/// Longest pause between registrations refused as a duplicate `node.id`.
const DUPLICATE_RETRY: Duration = Duration::from_secs(1);
/// Added to twice the session timeout before a duplicate `node.id` is final.
const DUPLICATE_MARGIN: Duration = Duration::from_secs(5);

/// Starts the agent's tasks on this executor (core 0). They end by themselves soon after `stop`
/// is set; the caller cancels them once the core stops, which drops their references to the
/// controller so that it can be shut down.
pub fn start(
    membership: &Arc<Membership>,
    config: &Arc<Config>,
    registry: &Arc<Registry>,
    stop: &Arc<AtomicBool>,
) -> Vec<glommio::Task<()>> {
    let mut tasks = Vec::new();
    if let Some(publisher) = membership.take_publisher() {
        let mut voters: Vec<(i32, std::net::SocketAddr)> = config
            .quorum
            .voters
            .iter()
            .map(|(id, a)| (*id as i32, *a))
            .collect();
        if voters.is_empty() {
            // A one-member quorum: this node, on the port it took.
            if let Some(addr) = membership.controller.local_addr() {
                voters.push((config.node_id, addr));
            }
        }
        tasks.push(glommio::spawn_local(publish(
            membership.clone(),
            publisher,
            voters,
            stop.clone(),
        )));
    }
    tasks.push(glommio::spawn_local(super::own_credential::ensure(
        membership.controller.clone(),
        config.inter_broker_auth.clone(),
        config.node_id,
        membership.incarnation,
        stop.clone(),
    )));
    tasks.push(glommio::spawn_local(lifecycle(
        membership.clone(),
        config.clone(),
        registry.clone(),
        stop.clone(),
    )));
    tasks
}

/// Sleeps `d`, waking early when `stop` is set; false when stopping.
async fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        glommio::timer::sleep(left.min(STOP_POLL)).await;
    }
    false
}

/// The endpoints this broker registers: one per client listener, the inter-broker listener's
/// first.
fn endpoints(config: &Config) -> Vec<Endpoint> {
    let mut all: Vec<_> = config.listeners.all.iter().collect();
    all.sort_by_key(|l| l.name != config.listeners.inter_broker);
    all.into_iter()
        .map(|l| Endpoint {
            name: l.name.clone(),
            host: l.advertised.0.clone(),
            port: l.advertised.1,
            security_protocol: l.protocol.name().into(),
        })
        .collect()
}

fn registration(config: &Config, incarnation: uuid::Uuid) -> RecordBatch {
    RecordBatch::one(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: config.node_id as BrokerId,
        incarnation_id: incarnation,
        // Every client listener, the inter-broker one first (older brokers read the first
        // endpoint, or the one named PLAINTEXT).
        endpoints: endpoints(config),
        rack: config.quorum.rack.clone(),
    }))
}

/// Registers, then heartbeats until `stop`; registers again when the quorum no longer knows
/// this registration.
async fn lifecycle(
    membership: Arc<Membership>,
    config: Arc<Config>,
    registry: Arc<Registry>,
    stop: Arc<AtomicBool>,
) {
    let controller = membership.controller.clone();
    let id = config.node_id as BrokerId;
    let incarnation = membership.incarnation;
    let started = Instant::now();
    let duplicate_limit = config.quorum.session_timeout * 2 + DUPLICATE_MARGIN;
    let mut backoff = MIN_BACKOFF;
    'register: while !stop.load(Ordering::Relaxed) {
        let epoch = match controller.propose(registration(&config, incarnation)).await {
            Ok(epoch) => epoch,
            Err(ControllerError::Shutdown) => return,
            Err(ControllerError::Rejected(RejectReason::DuplicateBrokerId(_))) => {
                if started.elapsed() > duplicate_limit {
                    let why = format!(
                        "node.id {id} is registered by another live broker (another process \
                         runs with node.id {id}); each broker needs its own node.id"
                    );
                    tracing::error!("{why}; stopping");
                    membership.set_fatal(why);
                    stop.store(true, Ordering::SeqCst);
                    return;
                }
                tracing::warn!(
                    node_id = id,
                    "node.id is still registered by another incarnation (a crashed previous \
                     run is fenced after broker.session.timeout.ms); retrying"
                );
                if !pause(backoff, &stop).await {
                    return;
                }
                // The predecessor's fence is a session away at most: look again often.
                backoff = (backoff * 2).min(DUPLICATE_RETRY);
                continue;
            }
            Err(e) => {
                tracing::warn!(node_id = id, error = %e, retry_ms = backoff.as_millis() as u64,
                    "cannot register with the controller quorum; retrying");
                if !pause(backoff, &stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        tracing::info!(node_id = id, broker_epoch = epoch, rack = ?config.quorum.rack,
            "registered with the controller quorum");
        membership.set_epoch(Some(epoch));
        let mut last_ok: Option<Instant> = None;
        loop {
            let wait = match controller.heartbeat(id, epoch).await {
                Ok(()) => {
                    if last_ok.is_none() {
                        tracing::info!(node_id = id, broker_epoch = epoch, "broker unfenced");
                    }
                    last_ok = Some(Instant::now());
                    registry.set_registered(true);
                    backoff = MIN_BACKOFF;
                    config.quorum.heartbeat_interval
                }
                Err(ControllerError::Shutdown) => return,
                Err(ControllerError::Rejected(reason)) => {
                    // Fenced and replaced, or unregistered: register again.
                    tracing::warn!(node_id = id, %reason, "heartbeat refused; registering again");
                    registry.set_registered(false);
                    membership.set_epoch(None);
                    // Paced like any retry, so that a refusal that repeats cannot fill the log.
                    if !pause(backoff, &stop).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue 'register;
                }
                Err(e) => {
                    tracing::warn!(node_id = id, error = %e, retry_ms = backoff.as_millis() as u64,
                        "heartbeat to the controller quorum failed; retrying");
                    if last_ok.is_none_or(|t| t.elapsed() > config.quorum.session_timeout) {
                        registry.set_registered(false);
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait.min(config.quorum.heartbeat_interval)
                }
            };
            if !pause(wait, &stop).await {
                registry.set_registered(false);
                return;
            }
        }
    }
}

/// Sends a new [`ClusterState`] to the cores whenever the image or the active controller
/// changes, until `stop`.
async fn publish(
    membership: Arc<Membership>,
    publisher: tokio::sync::watch::Sender<Arc<ClusterState>>,
    voters: Vec<(i32, std::net::SocketAddr)>,
    stop: Arc<AtomicBool>,
) {
    let controller = membership.controller.clone();
    let mut images = controller.subscribe();
    let mut last: Option<(u64, Option<i32>)> = None;
    while !stop.load(Ordering::Relaxed) {
        let image = images.borrow_and_update().clone();
        let leader = controller.leader().map(|l| l as i32);
        let key = (image.applied_index(), leader);
        if last != Some(key) {
            if last.is_none_or(|(_, l)| l != leader) {
                match leader {
                    Some(id) => tracing::info!(controller = id, "active controller"),
                    None => tracing::info!("no active controller (electing, or no quorum)"),
                }
            }
            last = Some(key);
            publisher.send_replace(Arc::new(ClusterState {
                image,
                controller: leader,
                voters: voters.clone(),
            }));
        }
        let changed = async {
            // An error means the controller stopped: the timer then paces the loop.
            if images.changed().await.is_err() {
                futures_lite::future::pending::<()>().await;
            }
        };
        let poll = async {
            glommio::timer::sleep(LEADER_POLL).await;
        };
        futures_lite::future::or(changed, poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    /// A broker with a config and the membership of a real one-node controller in `dir`.
    fn setup(dir: &std::path::Path, node_id: i32) -> (Arc<Config>, Arc<Membership>) {
        let ov = Overrides {
            node_id: Some(node_id),
            data_dir: Some(dir.to_path_buf()),
            cores: Some("1".into()),
            ..Default::default()
        };
        let mut config = Config::load(None, &ov).unwrap();
        config.quorum.session_timeout = Duration::from_millis(400);
        config.quorum.heartbeat_interval = Duration::from_millis(100);
        let controller = super::super::quorum::start(&config).unwrap();
        (Arc::new(config), Membership::new(controller))
    }

    #[test]
    fn registers_heartbeats_and_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let (config, membership) = setup(dir.path(), 4);
        let registry = Registry::new(1, Arc::new(AtomicBool::new(false)));
        let stop = Arc::new(AtomicBool::new(false));
        let mut updates = membership.updates();
        let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
        ex.run(async {
            let tasks = start(&membership, &config, &registry, &stop);
            let end = Instant::now() + Duration::from_secs(20);
            loop {
                let state = updates.borrow_and_update().clone();
                let live = state.image.broker(4).is_some_and(|b| !b.fenced);
                if live && registry.is_registered() && state.controller == Some(4) {
                    assert_eq!(state.voters.len(), 1);
                    assert_ne!(state.voters[0].1.port(), 0);
                    break;
                }
                assert!(Instant::now() < end, "not registered: {state:?}");
                glommio::timer::sleep(Duration::from_millis(20)).await;
            }
            stop.store(true, Ordering::SeqCst);
            for t in tasks {
                t.cancel().await;
            }
        });
        assert!(membership.fatal().is_none());
    }

    #[test]
    fn a_live_duplicate_node_id_stops_the_broker() {
        let dir = tempfile::tempdir().unwrap();
        let (config, membership) = setup(dir.path(), 7);
        let registry = Registry::new(1, Arc::new(AtomicBool::new(false)));
        let stop = Arc::new(AtomicBool::new(false));
        let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
        let controller = membership.controller.clone();
        ex.run(async {
            // Another incarnation of node.id 7 registers first and keeps heartbeating.
            let other = registration(&config, uuid::Uuid::new_v4());
            let epoch = controller.propose(other).await.unwrap();
            // Its first heartbeat unfences it before this broker's agent starts.
            controller.heartbeat(7, epoch).await.unwrap();
            let keep = controller.clone();
            let rival = glommio::spawn_local(async move {
                loop {
                    let _ = keep.heartbeat(7, epoch).await;
                    glommio::timer::sleep(Duration::from_millis(50)).await;
                }
            });
            let tasks = start(&membership, &config, &registry, &stop);
            let end = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::SeqCst) {
                assert!(Instant::now() < end, "the duplicate was not refused");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
            rival.cancel().await;
            for t in tasks {
                t.cancel().await;
            }
        });
        let why = membership.fatal().expect("a fatal reason");
        assert!(why.contains("node.id 7"), "{why}");
        assert!(!registry.is_registered());
    }
}
