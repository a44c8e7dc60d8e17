//! [`Peers`]: one core's connections to the other brokers, by broker id. A request names the
//! broker; its endpoint is looked up in the current metadata image, the peer's connection is
//! opened (or reopened, after an error or an endpoint change) and the request waits its turn on
//! it. At most one connection per peer per core; one entry per broker, at most [`MAX_PEERS`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::sync::Semaphore;
use kafka_protocol::protocol::Request;

use super::connection::Connection;
use super::error::PeerError;
use super::security::PeerSecurity;
use crate::cluster::membership::ClusterState;

/// Most peer brokers one core keeps an entry for.
pub const MAX_PEERS: usize = 1024;

/// Timeouts and bounds of the inter-broker client.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Walks an answer's bytes (response header and body, without the size prefix) with its
    /// API's layout before it is decoded, refusing counts and lengths that do not fit the bytes
    /// that follow: kafka-protocol sizes vectors from counts on the wire, and a peer is as
    /// untrusted as a client. Given by the layer that owns the protocol layouts.
    pub check_response: ResponseCheck,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// How long a request may wait for its whole answer (Kafka's `request.timeout.ms`).
    pub request_timeout: Duration,
    /// Largest answer accepted, in bytes.
    pub max_response: usize,
    /// The inter-broker listener's name: a peer is reached at its endpoint of that name (or,
    /// when it registered none, at its first PLAINTEXT endpoint).
    pub listener: String,
    /// TLS and SASL of new connections (the inter-broker listener's security protocol).
    pub security: PeerSecurity,
}

/// Checks an answer of API `api_key` at `version` (its bytes without the size prefix) before
/// it is decoded; `Err` names what does not fit.
pub type ResponseCheck = fn(api_key: i16, version: i16, answer: &[u8]) -> Result<(), String>;

impl Settings {
    /// The default timeouts and bound, with `check_response` for answers.
    pub fn new(check_response: ResponseCheck) -> Settings {
        Settings {
            check_response,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response: 64 << 20,
            listener: String::new(),
            security: PeerSecurity::default(),
        }
    }
}

/// One peer broker: its connection (when open) and the turn requests take on it.
struct Peer {
    turn: Semaphore,
    conn: RefCell<Option<Connection>>,
}

/// One core's inter-broker client (see the module comment).
pub struct Peers {
    client_id: String,
    settings: Settings,
    state: Box<dyn Fn() -> Arc<ClusterState>>,
    peers: RefCell<HashMap<i32, Rc<Peer>>>,
}

impl Peers {
    /// A client sending as `client_id` (e.g. `runnel-broker-1`), finding peers' endpoints in
    /// the snapshots `state` returns (the core's cluster view).
    pub fn new(
        client_id: String,
        settings: Settings,
        state: Box<dyn Fn() -> Arc<ClusterState>>,
    ) -> Rc<Peers> {
        Rc::new(Peers {
            client_id,
            settings,
            state,
            peers: RefCell::new(HashMap::new()),
        })
    }

    /// The current cluster snapshot (leaders and endpoints).
    pub fn state(&self) -> Arc<ClusterState> {
        (self.state)()
    }

    /// How many peers have an open connection (for tests and metrics).
    pub fn open_connections(&self) -> usize {
        self.peers
            .borrow()
            .values()
            .filter(|p| p.conn.borrow().is_some())
            .count()
    }

    /// Sends `req` at `version` to broker `broker` and waits for its answer.
    pub async fn send<R: Request>(
        &self,
        broker: i32,
        version: i16,
        req: &R,
    ) -> Result<R::Response, PeerError> {
        let (host, addr) = self.address_of(broker)?;
        let peer = self.peer(broker)?;
        let _turn = peer
            .turn
            .acquire_permit(1)
            .await
            .map_err(|e| PeerError::Io(e.to_string()))?;
        // A connection to an old address, or whose SASL session is ending, is replaced.
        let open = peer
            .conn
            .borrow_mut()
            .take()
            .filter(|c| c.addr == addr && !c.session_ending());
        let mut conn = match open {
            Some(c) => c,
            None => Connection::open(addr, &host, &self.settings)
                .await
                .inspect_err(|e| {
                    // The operator's to fix (certificates, credentials): said at each try,
                    // which callers pace with their retry backoff.
                    if matches!(e, PeerError::Tls(_) | PeerError::Authentication(_)) {
                        tracing::warn!(broker, error = %e, "cannot open an inter-broker connection");
                    }
                })?,
        };
        // On any error the connection is dropped here; the next request opens a new one.
        let decoded = conn
            .call(req, version, &self.client_id, &self.settings)
            .await?;
        *peer.conn.borrow_mut() = Some(conn);
        Ok(decoded)
    }

    /// Broker `broker`'s inter-broker endpoint in the current image: its host (TLS checks the
    /// certificate against it) and its address, resolved.
    fn address_of(&self, broker: i32) -> Result<(String, SocketAddr), PeerError> {
        let (host, port) = self
            .state()
            .endpoint_for_peers(broker, &self.settings.listener)
            .ok_or(PeerError::NoEndpoint(broker))?;
        // An IP literal parses without a lookup; a host name is resolved by the system.
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or(PeerError::BadAddress(format!("{host}:{port}")))?;
        Ok((host, addr))
    }

    /// The entry of `broker`, made on first use. When the pool is full, entries of brokers the
    /// image no longer has an endpoint for (and that no request is using) make room.
    fn peer(&self, broker: i32) -> Result<Rc<Peer>, PeerError> {
        let mut peers = self.peers.borrow_mut();
        if let Some(p) = peers.get(&broker) {
            return Ok(p.clone());
        }
        if peers.len() >= MAX_PEERS {
            let state = self.state();
            let listener = &self.settings.listener;
            peers.retain(|id, p| {
                Rc::strong_count(p) > 1 || state.endpoint_for_peers(*id, listener).is_some()
            });
            if peers.len() >= MAX_PEERS {
                return Err(PeerError::TooManyPeers);
            }
        }
        let p = Rc::new(Peer {
            turn: Semaphore::new(1),
            conn: RefCell::new(None),
        });
        peers.insert(broker, p.clone());
        Ok(p)
    }
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
