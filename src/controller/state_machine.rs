//! The state machine (openraft's `RaftStateMachine`): applies committed entries to the
//! [`MetadataImage`], publishes each new image, and keeps the image's snapshots.
//!
//! A snapshot is the serialized image with openraft's snapshot meta, in `raft/snapshot` (one
//! checksummed frame, replaced atomically). On open the image starts from that snapshot and
//! openraft applies the committed entries after it again. Applying is deterministic: a batch that
//! does not apply is skipped on every node, and its proposer is answered why.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    BasicNode, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::fsio;
use crate::image::MetadataImage;
use crate::types::{ApplyOutcome, Entry, LogId, StorageError, TypeConfig};

/// Largest snapshot read from disk or received from a leader.
pub const MAX_SNAPSHOT: usize = 256 << 20;

/// The snapshot file's content.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<u64, BasicNode>,
    /// The serialized image: what is sent to followers.
    data: Vec<u8>,
}

#[derive(Clone)]
struct Current {
    meta: SnapshotMeta<u64, BasicNode>,
    data: Arc<Vec<u8>>,
}

/// The metadata state machine of one controller.
pub struct StateMachine {
    dir: PathBuf,
    image: Arc<MetadataImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, BasicNode>,
    snapshot: Arc<Mutex<Option<Current>>>,
    publish: watch::Sender<Arc<MetadataImage>>,
}

fn sm_err(verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(ErrorSubject::StateMachine, verb, e)
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> io::Result<T> {
    postcard::from_bytes(b).map_err(|e| fsio::invalid(e.to_string()))
}

fn encode<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| fsio::invalid(e.to_string()))
}

impl StateMachine {
    /// Opens the state machine of `dir`: the image of its snapshot, or an empty one. Each image
    /// applied from then on is sent on `publish`.
    pub fn open(
        dir: &Path,
        publish: watch::Sender<Arc<MetadataImage>>,
    ) -> io::Result<StateMachine> {
        std::fs::create_dir_all(dir)?;
        let mut sm = StateMachine {
            dir: dir.to_path_buf(),
            image: Arc::new(MetadataImage::default()),
            last_applied: None,
            membership: StoredMembership::default(),
            snapshot: Arc::new(Mutex::new(None)),
            publish,
        };
        if let Some(bytes) = fsio::read_framed(dir, "snapshot", MAX_SNAPSHOT)? {
            let file: SnapshotFile = decode(&bytes)?;
            sm.load(file.meta, file.data)?;
        }
        Ok(sm)
    }

    /// Takes a snapshot's image as the current state.
    fn load(&mut self, meta: SnapshotMeta<u64, BasicNode>, data: Vec<u8>) -> io::Result<()> {
        let mut image =
            MetadataImage::from_snapshot_bytes(&data).map_err(|e| fsio::invalid(e.to_string()))?;
        image.set_applied_index(meta.last_log_id.map(|l| l.index).unwrap_or(0));
        self.image = Arc::new(image);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        *self.lock_snapshot() = Some(Current {
            meta,
            data: Arc::new(data),
        });
        self.publish.send_replace(self.image.clone());
        Ok(())
    }

    fn lock_snapshot(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes a snapshot file atomically.
fn persist(dir: &Path, meta: &SnapshotMeta<u64, BasicNode>, data: &[u8]) -> io::Result<()> {
    let file = SnapshotFile {
        meta: meta.clone(),
        data: data.to_vec(),
    };
    fsio::write_atomic(dir, "snapshot", &encode(&file)?)
}

/// Builds a snapshot of the image as it was when the builder was made.
pub struct SnapshotBuilder {
    dir: PathBuf,
    image: Arc<MetadataImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, BasicNode>,
    snapshot: Arc<Mutex<Option<Current>>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = self
            .image
            .to_snapshot_bytes()
            .map_err(|e| sm_err(ErrorVerb::Write, fsio::invalid(e.to_string())))?;
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.leader_id.node_id, l.index),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let mut current = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        persist(&self.dir, &meta, &data).map_err(|e| {
            StorageError::from_io_error(ErrorSubject::Snapshot(None), ErrorVerb::Write, e)
        })?;
        *current = Some(Current {
            meta: meta.clone(),
            data: Arc::new(data.clone()),
        });
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<u64, BasicNode>), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyOutcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut image = (*self.image).clone();
        let mut outcomes = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            self.last_applied = Some(entry.log_id);
            let result = match entry.payload {
                EntryPayload::Normal(batch) => match image.apply(&batch, index) {
                    Ok(next) => {
                        image = next;
                        Ok(())
                    }
                    Err(reason) => {
                        tracing::debug!("metadata batch at {index} skipped: {reason}");
                        image.set_applied_index(index);
                        Err(reason)
                    }
                },
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    image.set_applied_index(index);
                    Ok(())
                }
                EntryPayload::Blank => {
                    image.set_applied_index(index);
                    Ok(())
                }
            };
            outcomes.push(ApplyOutcome { result });
        }
        self.image = Arc::new(image);
        self.publish.send_replace(self.image.clone());
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            dir: self.dir.clone(),
            image: self.image.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            snapshot: self.snapshot.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let snap_err = |e| {
            StorageError::from_io_error(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Write,
                e,
            )
        };
        if data.len() > MAX_SNAPSHOT {
            return Err(snap_err(fsio::invalid(format!(
                "snapshot of {} bytes",
                data.len()
            ))));
        }
        // Check it decodes before it replaces anything.
        MetadataImage::from_snapshot_bytes(&data)
            .map_err(|e| snap_err(fsio::invalid(e.to_string())))?;
        {
            let _guard = self.lock_snapshot();
            persist(&self.dir, meta, &data).map_err(snap_err)?;
        }
        self.load(meta.clone(), data).map_err(snap_err)
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.lock_snapshot().clone().map(|c| Snapshot {
            meta: c.meta,
            snapshot: Box::new(Cursor::new((*c.data).clone())),
        }))
    }
}
