//! Follower replicas (docs/replication.md step 4): each core runs one fetch session per leader
//! broker for the replicated partitions it follows from that leader ([`Followers`]), started,
//! changed and stopped as the cluster snapshot and the core's logs change.
//!
//! - [`fetcher`]: one session's loop: Fetch to the leader with the inter-broker client, each
//!   partition's answer applied in turn.
//! - [`apply`]: one partition's answer: append the leader's batches as they are, follow the high
//!   watermark and log start, truncate on a diverging epoch.
//! - [`truncation`]: where a diverging log is cut (Kafka's rules).
//!
//! Bounded: at most one session per (core, leader broker), each with the partitions of that
//! core led there; a stopped session ends after its request in flight.

pub mod apply;
pub mod fetcher;
pub mod truncation;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use crate::config::replica::ReplicaFetch;
use crate::interbroker::Peers;
use crate::shard::PartitionStore;
use crate::storage::PartitionLog;

/// A partition this core follows.
#[derive(Clone)]
pub struct Followed {
    /// Topic name.
    pub topic: Arc<str>,
    /// Topic id (Fetch v13+ names topics by id).
    pub topic_id: uuid::Uuid,
    /// Partition index.
    pub partition: i32,
    /// The leader epoch the image names (sent as `current_leader_epoch`).
    pub leader_epoch: i32,
    /// The follower's log.
    pub log: Rc<PartitionLog>,
}

/// One fetch session: the partitions this core follows from one leader.
pub struct Session {
    /// The leader's broker id.
    pub leader: i32,
    /// The partitions, replaced at each resync.
    pub parts: RefCell<Vec<Followed>>,
    /// Set when the session must end (no partition led there any more).
    pub stopped: Cell<bool>,
}

/// One core's follower sessions (see the module comment).
pub struct Followers {
    store: Rc<PartitionStore>,
    peers: Rc<Peers>,
    settings: ReplicaFetch,
    sessions: RefCell<HashMap<i32, Rc<Session>>>,
}

impl Followers {
    /// The sessions of the core of `store`, fetching with `peers`; they follow every change
    /// of the core's replicated partitions from now on.
    pub fn start(store: Rc<PartitionStore>, peers: Rc<Peers>) -> Rc<Followers> {
        let settings = store.view().config().replica_fetch.clone();
        let followers = Rc::new(Followers {
            store: store.clone(),
            peers,
            settings,
            sessions: RefCell::new(HashMap::new()),
        });
        let weak: Weak<Followers> = Rc::downgrade(&followers);
        store.on_replication_change(Box::new(move || {
            if let Some(f) = weak.upgrade() {
                f.resync();
            }
        }));
        followers.resync();
        followers
    }

    /// Number of running sessions (one per leader followed).
    pub fn sessions(&self) -> usize {
        self.sessions.borrow().len()
    }

    /// Matches the sessions to the partitions this core follows now (see the module comment).
    pub fn resync(&self) {
        let state = self.store.cluster().state();
        let me = self.store.view().config().node_id;
        let mut by_leader: HashMap<i32, Vec<Followed>> = HashMap::new();
        for t in state.image.topics() {
            for (i, p) in t.partitions.iter().enumerate() {
                if p.replicas.len() < 2
                    || p.leader < 0
                    || p.leader == me
                    || !p.replicas.contains(&me)
                {
                    continue;
                }
                let Some(log) = self.store.log(&t.name, i as i32) else {
                    continue;
                };
                by_leader.entry(p.leader).or_default().push(Followed {
                    topic: Arc::from(t.name.as_str()),
                    topic_id: t.topic_id,
                    partition: i as i32,
                    leader_epoch: p.leader_epoch,
                    log,
                });
            }
        }
        let mut sessions = self.sessions.borrow_mut();
        sessions.retain(|leader, s| {
            let keep = by_leader.contains_key(leader);
            if !keep {
                s.stopped.set(true);
            }
            keep
        });
        for (leader, parts) in by_leader {
            if let Some(s) = sessions.get(&leader) {
                *s.parts.borrow_mut() = parts;
                continue;
            }
            let session = Rc::new(Session {
                leader,
                parts: RefCell::new(parts),
                stopped: Cell::new(false),
            });
            sessions.insert(leader, session.clone());
            tracing::info!(leader, core = self.store.id(), "starting follower fetches");
            glommio::spawn_local(fetcher::run(
                session,
                self.store.clone(),
                self.peers.clone(),
                self.settings.clone(),
            ))
            .detach();
        }
    }
}
