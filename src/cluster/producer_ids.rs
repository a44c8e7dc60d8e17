//! Producer id allocation from the controller quorum, as KRaft brokers do it: each core takes
//! blocks of [`BLOCK`] ids from the quorum (`Controller::allocate_producer_ids`, a
//! `ProducerIds` record, so blocks of all brokers never overlap) and hands its ids out one by
//! one. The next block is fetched in the background once fewer than [`PREFETCH_BELOW`] ids are
//! left; one request at a time per core. Without a block, InitProducerId waits at most
//! [`WAIT`] for one and then answers `COORDINATOR_LOAD_IN_PROGRESS` (retriable), as Kafka's
//! broker does when its block is used up and the next has not arrived.
//!
//! Before the quorum, each core reserved its own blocks in `producer-ids/core-N` (block `n` of
//! core `c` covered `[(n * 1024 + c) * 1000, .. + 1000)`, the file holding the next `n`). An
//! upgraded node may have handed those ids out: before this core's first quorum block, the
//! quorum's next id is moved above every local mark ([`local_mark`]) by allocating the gap,
//! once per controller directory (the marker `controller/producer-ids-imported`).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use runnel_controller::{ControllerError, QuorumHandle, RejectReason};

use crate::errors::KafkaError;

/// Ids per block (Kafka's `ProducerIdsBlock` size).
pub const BLOCK: u32 = 1000;
/// The next block is fetched once fewer ids than this are left.
pub const PREFETCH_BELOW: i64 = 100;
/// How long InitProducerId waits for a block before answering `COORDINATOR_LOAD_IN_PROGRESS`.
pub const WAIT: Duration = Duration::from_secs(5);
/// The marker written once the quorum's next id is above the local blocks of before.
pub const IMPORTED_MARKER: &str = "producer-ids-imported";
/// Cores per block number in the local scheme of before the quorum.
const LOCAL_MAX_CORES: i64 = 1024;
/// Largest block asked for at once while moving past the local marks (the crate's bound).
const MAX_ASK: i64 = 1 << 20;

/// Where a core takes its blocks from: this broker's quorum handle (its controller, or its
/// client of a remote quorum) and registration.
struct Source {
    controller: Arc<QuorumHandle>,
    me: i32,
    incarnation: uuid::Uuid,
}

/// One core's producer id allocator (see the module comment).
pub struct ProducerIds {
    data_dir: PathBuf,
    /// The current block: next id, end (exclusive).
    block: Cell<(i64, i64)>,
    /// A block fetched ahead of time.
    spare: Cell<Option<(i64, i64)>>,
    source: RefCell<Option<Rc<Source>>>,
    /// One request to the quorum at a time.
    turn: glommio::sync::Semaphore,
    prefetching: Cell<bool>,
    /// The quorum's next id is known to be above the local marks of before.
    imported: Cell<bool>,
}

impl ProducerIds {
    /// The allocator of a core of the broker whose data directory is `data_dir`; it hands out
    /// nothing until [`ProducerIds::set_quorum`].
    pub fn new(data_dir: &Path) -> ProducerIds {
        ProducerIds {
            data_dir: data_dir.to_path_buf(),
            block: Cell::new((0, 0)),
            spare: Cell::new(None),
            source: RefCell::new(None),
            turn: glommio::sync::Semaphore::new(1),
            prefetching: Cell::new(false),
            imported: Cell::new(false),
        }
    }

    /// Takes blocks from `controller` as broker `me`, whose registration of this run has
    /// `incarnation`.
    pub fn set_quorum(&self, controller: Arc<QuorumHandle>, me: i32, incarnation: uuid::Uuid) {
        *self.source.borrow_mut() = Some(Rc::new(Source {
            controller,
            me,
            incarnation,
        }));
    }

    /// Forgets the controller (at shutdown, so that the controller can stop).
    pub fn clear_quorum(&self) {
        self.source.borrow_mut().take();
    }

    /// A producer id never handed out before by any broker of the cluster, or
    /// `COORDINATOR_LOAD_IN_PROGRESS` when no block came within [`WAIT`].
    pub async fn allocate(self: &Rc<Self>) -> Result<i64, KafkaError> {
        let id = match self.next_free() {
            Some(id) => id,
            None => {
                let refill = async { self.refill().await };
                let timeout = async {
                    glommio::timer::sleep(WAIT).await;
                    Err(KafkaError::CoordinatorLoadInProgress)
                };
                futures_lite::future::or(refill, timeout).await?;
                self.next_free()
                    .ok_or(KafkaError::CoordinatorLoadInProgress)?
            }
        };
        self.prefetch();
        Ok(id)
    }

    /// Takes the next id of the current block, moving to the spare one when it is used up.
    fn next_free(&self) -> Option<i64> {
        let (mut next, mut end) = self.block.get();
        if next >= end {
            (next, end) = self.spare.take()?;
        }
        self.block.set((next + 1, end));
        Some(next)
    }

    fn left(&self) -> i64 {
        let (next, end) = self.block.get();
        (end - next).max(0) + self.spare.get().map_or(0, |(n, e)| e - n)
    }

    /// Fetches a block unless one arrived while this task waited for its turn.
    async fn refill(&self) -> Result<(), KafkaError> {
        let _turn = self
            .turn
            .acquire_permit(1)
            .await
            .map_err(|_| KafkaError::CoordinatorLoadInProgress)?;
        if self.left() > 0 {
            return Ok(());
        }
        let block = self.fetch().await?;
        self.spare.set(Some(block));
        Ok(())
    }

    /// Starts fetching the next block in the background when few ids are left.
    fn prefetch(self: &Rc<Self>) {
        if self.left() >= PREFETCH_BELOW || self.prefetching.get() {
            return;
        }
        self.prefetching.set(true);
        let me = self.clone();
        glommio::spawn_local(async move {
            if let Ok(_turn) = me.turn.acquire_permit(1).await {
                if me.spare.get().is_none() {
                    match me.fetch().await {
                        Ok(block) => me.spare.set(Some(block)),
                        Err(e) => tracing::warn!(error = ?e, "cannot fetch a producer id block"),
                    }
                }
            }
            me.prefetching.set(false);
        })
        .detach();
    }

    /// One block from the quorum: `(first, end)`.
    async fn fetch(&self) -> Result<(i64, i64), KafkaError> {
        let source = self
            .source
            .borrow()
            .clone()
            .ok_or(KafkaError::CoordinatorLoadInProgress)?;
        let epoch = registered_epoch(&source).await?;
        if !self.imported.get() {
            self.import_local_marks(&source, epoch).await?;
        }
        let first = source
            .controller
            .allocate_producer_ids(source.me, epoch, BLOCK)
            .await
            .map_err(retriable)?;
        Ok((first, first + i64::from(BLOCK)))
    }

    /// Moves the quorum's next id above the local blocks of before, once per controller
    /// directory: the gap is allocated (and dropped) through the quorum like any block, so a
    /// concurrent allocation by another broker can never overlap it.
    async fn import_local_marks(&self, source: &Source, epoch: u64) -> Result<(), KafkaError> {
        let marker = self.data_dir.join("controller").join(IMPORTED_MARKER);
        let dir = self.data_dir.join("producer-ids");
        let (done, mark) =
            crate::storage::fault::blocking(move || (marker.exists(), local_mark(&dir))).await;
        if !done && mark > 0 {
            let mut known = source.controller.image().next_producer_id();
            while known < mark {
                let ask = (mark - known).min(MAX_ASK) as u32;
                let first = source
                    .controller
                    .allocate_producer_ids(source.me, epoch, ask)
                    .await
                    .map_err(retriable)?;
                known = known.max(first + i64::from(ask));
            }
            tracing::info!(
                mark,
                "producer ids of the local blocks of before are taken in the quorum"
            );
            let dir = self.data_dir.join("controller");
            // A broker without a controller has no such directory yet.
            let made = dir.clone();
            let _ = crate::storage::fault::blocking(move || std::fs::create_dir_all(made)).await;
            let body = format!("quorum producer ids above {mark}\n").into_bytes();
            if let Err(e) = crate::storage::durable::replace(dir.join(IMPORTED_MARKER), body).await
            {
                tracing::error!(error = %e, "cannot write the producer id import marker");
            }
        }
        self.imported.set(true);
        Ok(())
    }
}

/// This run's broker epoch, once the image has its registration (at most [`WAIT`]).
async fn registered_epoch(source: &Source) -> Result<u64, KafkaError> {
    let mut updates = source.controller.subscribe();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(b) = updates.borrow_and_update().broker(source.me) {
            if b.incarnation_id == source.incarnation {
                return Ok(b.epoch);
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(KafkaError::CoordinatorLoadInProgress);
        }
        let changed = async {
            let _ = updates.changed().await;
        };
        futures_lite::future::or(changed, glommio::timer::sleep(left)).await;
    }
}

/// What a failed allocation answers the client: retriable, as Kafka's broker answers while it
/// waits for its next block.
fn retriable(e: ControllerError) -> KafkaError {
    match e {
        ControllerError::Rejected(RejectReason::Invalid(m)) => {
            tracing::error!(reason = %m, "producer id block refused");
            KafkaError::UnknownServerError
        }
        e => {
            tracing::warn!(error = %e, "no producer id block from the quorum");
            KafkaError::CoordinatorLoadInProgress
        }
    }
}

/// The first id above every block the local files of before the quorum may have handed out:
/// a file holding `n` covered blocks below `n * 1024 * 1000`. 0 when there are none. Blocking.
pub fn local_mark(dir: &Path) -> i64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("core-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|s| s.trim().parse::<i64>().ok())
        .map(|n| {
            n.max(0)
                .saturating_mul(LOCAL_MAX_CORES)
                .saturating_mul(i64::from(BLOCK))
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_controller::records::{Endpoint, MetadataRecord, RegisterBrokerRecord};
    use runnel_controller::{Controller, ControllerConfig, RecordBatch};
    use std::collections::HashSet;

    #[test]
    fn local_mark_is_above_every_local_block() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(local_mark(&dir.path().join("none")), 0);
        std::fs::write(dir.path().join("core-0"), "3\n").unwrap();
        std::fs::write(dir.path().join("core-5"), "2\n").unwrap();
        std::fs::write(dir.path().join("junk"), "99\n").unwrap();
        let mark = local_mark(dir.path());
        // Core 0's last block was 2: ids up to (2 * 1024 + 0 + 1) * 1000; core 5's was 1.
        assert!(mark >= (2 * 1024 + 1) * 1000);
        assert!(mark >= (1024 + 5 + 1) * 1000);
        assert_eq!(mark, 3 * 1024 * 1000);
    }

    fn controller(dir: &Path, voters: Vec<(u64, std::net::SocketAddr)>) -> Arc<QuorumHandle> {
        let listen = voters[0].1;
        let config = ControllerConfig::new(1, voters, listen, dir.join("controller"));
        Arc::new(Controller::start(config).unwrap().into())
    }

    fn registration(incarnation: uuid::Uuid) -> RecordBatch {
        RecordBatch::one(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: 1,
            incarnation_id: incarnation,
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
                security_protocol: "PLAINTEXT".into(),
            }],
            rack: None,
        }))
    }

    #[test]
    fn blocks_from_the_quorum_are_unique_across_cores_and_runs_and_above_local_marks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let local = root.join("producer-ids");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(local.join("core-1"), "2\n").unwrap();
        let mark = 2 * 1024 * 1000;
        let mut seen = HashSet::new();
        for _run in 0..2 {
            let ctl = controller(&root, vec![(1, "127.0.0.1:0".parse().unwrap())]);
            let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
            let seen = &mut seen;
            let (root, ctl2) = (root.clone(), ctl.clone());
            ex.run(async move {
                let ctl = ctl2;
                let incarnation = uuid::Uuid::new_v4();
                ctl.propose(registration(incarnation)).await.unwrap();
                let cores: Vec<Rc<ProducerIds>> = (0..2)
                    .map(|_| {
                        let p = Rc::new(ProducerIds::new(&root));
                        p.set_quorum(ctl.clone(), 1, incarnation);
                        p
                    })
                    .collect();
                for _ in 0..2500 {
                    for core in &cores {
                        let id = core.allocate().await.unwrap();
                        assert!(id >= mark, "{id} is below the local mark");
                        assert!(seen.insert(id), "{id} handed out twice");
                    }
                }
                for core in &cores {
                    core.clear_quorum();
                }
            });
            drop(ex);
            let ctl = Arc::try_unwrap(ctl)
                .ok()
                .expect("no task holds the controller");
            futures_lite::future::block_on(ctl.shutdown());
        }
        assert!(root.join("controller").join(IMPORTED_MARKER).exists());
    }

    #[test]
    fn no_quorum_is_a_retriable_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let port = |_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let voters: Vec<_> = (1..=3).map(|i| (i, port(i))).collect();
        let ctl = controller(dir.path(), voters);
        let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
        ex.run(async move {
            let p = Rc::new(ProducerIds::new(dir.path()));
            // Not wired to a quorum yet.
            assert_eq!(
                p.allocate().await,
                Err(KafkaError::CoordinatorLoadInProgress)
            );
            // One voter of three: no leader, never registered.
            p.set_quorum(ctl, 1, uuid::Uuid::new_v4());
            let start = std::time::Instant::now();
            assert_eq!(
                p.allocate().await,
                Err(KafkaError::CoordinatorLoadInProgress)
            );
            assert!(start.elapsed() < WAIT + Duration::from_secs(2));
            p.clear_quorum();
        });
    }
}
