//! Producer state of a partition log: transaction markers, the last stable offset, aborted
//! transactions, and the snapshots that spare a full replay of the log at startup.
//!
//! A snapshot `<offset>.snapshot` holds the producer state after every batch below `offset`.
//! It is taken from the live state, whose offset may be ahead of what is on disk; recovery uses
//! the newest snapshot whose offset is not past the recovered end of the log, then replays the
//! batch headers from there. Snapshots are checksummed, so a torn one is simply skipped.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::batch::{self, validate_batches};
use super::log::{Appended, LogError, PartitionLog};
use super::producers::{ProducerEntry, ProducerStates};

const SNAPSHOT_MAGIC: &[u8; 4] = b"RNPS";
const SNAPSHOTS_KEPT: usize = 2;

fn snapshot_name(offset: i64) -> String {
    format!("{offset:020}.snapshot")
}

fn parse_snapshot_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".snapshot")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// Snapshot files in `dir`, oldest first.
pub(super) async fn snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    let names = crate::disk::current().list(dir).await.unwrap_or_default();
    let mut v: Vec<(i64, PathBuf)> = names
        .iter()
        .filter_map(|n| parse_snapshot_name(n).map(|o| (o, dir.join(n))))
        .collect();
    v.sort();
    v
}

async fn read_snapshot(path: &Path) -> Option<ProducerStates> {
    let b = crate::disk::current().read(path).await.ok()?;
    if b.len() < 16 || &b[..4] != SNAPSHOT_MAGIC {
        return None;
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return None;
    }
    ProducerStates::decode(&body[12..])
}

/// A control record batch (commit or abort marker) for producer `pid`.
fn marker_batch(pid: i64, epoch: i16, commit: bool, coordinator_epoch: i32) -> BytesMut {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&(commit as i16).to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let now = crate::clock::now_ms();
    let rec = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now,
        key: Some(key.into()),
        value: Some(value.into()),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    // Encoding one small uncompressed record into memory cannot fail.
    let _ = RecordBatchEncoder::encode(&mut buf, &[rec], &opts);
    buf
}

impl PartitionLog {
    /// The last stable offset: the high watermark, held back by the oldest open transaction.
    pub fn last_stable_offset(&self) -> i64 {
        self.st.borrow().last_stable_offset()
    }

    /// Aborted transactions overlapping `[from, to)`, as (producer id, first offset); only
    /// those whose abort marker is below the high watermark (on disk): until then the
    /// transaction holds the last stable offset back and is not yet known as aborted.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let st = self.st.borrow();
        st.producers.aborted_between(from, to, st.visible())
    }

    /// A copy of the producers known to this partition (DescribeProducers).
    pub fn producer_entries(&self) -> Vec<(i64, ProducerEntry)> {
        let st = self.st.borrow();
        st.producers
            .producers()
            .map(|(p, e)| (*p, e.clone()))
            .collect()
    }

    /// The current epoch of producer `pid` on this partition, if it has written here.
    pub fn producer_epoch(&self, pid: i64) -> Option<i16> {
        self.st.borrow().producers.entry(pid).map(|e| e.epoch)
    }

    /// Appends a commit or abort marker for `pid`, ending its transaction on this partition.
    /// Await [`PartitionLog::wait_durable`] with the returned offset before relying on it.
    pub fn append_marker(
        self: &Rc<Self>,
        pid: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<Appended, LogError> {
        let payload = marker_batch(pid, epoch, commit, coordinator_epoch).freeze();
        let batches = validate_batches(&payload, usize::MAX).map_err(LogError::BadOwnBatch)?;
        let a = self.append_unchecked(&batches, &payload)?;
        self.st.borrow_mut().producers.apply_marker(
            pid,
            epoch,
            commit,
            a.base_offset,
            coordinator_epoch,
        );
        Ok(a)
    }

    /// Writes a snapshot of the producer state as of the current end of the log, keeping the
    /// newest few, through the durable-file helper. A snapshot that cannot be written is
    /// logged and skipped: recovery then starts from an older one (or the log start).
    pub(super) async fn write_snapshot(&self) {
        let (offset, body) = {
            let st = self.st.borrow();
            (st.next_offset, st.producers.encode())
        };
        let mut b = Vec::with_capacity(body.len() + 16);
        b.extend_from_slice(SNAPSHOT_MAGIC);
        b.extend_from_slice(&offset.to_be_bytes());
        b.extend_from_slice(&body);
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        let path = self.dir.join(snapshot_name(offset));
        if let Err(e) = crate::durable::replace(path.clone(), b).await {
            tracing::warn!(path = %path.display(), error = %e, "cannot write producer snapshot");
            return;
        }
        let all = snapshots(&self.dir).await;
        let old: Vec<PathBuf> = all
            .iter()
            .take(all.len().saturating_sub(SNAPSHOTS_KEPT))
            .map(|(_, p)| p.clone())
            .collect();
        if !old.is_empty() {
            super::fault::remove_files(old).await;
        }
    }

    /// Rebuilds the producer state at open: newest usable snapshot, then the batch headers
    /// after it. Snapshots past the end of the log (taken before a crash cut it) are removed.
    pub(super) async fn recover_producers(&self) -> std::io::Result<()> {
        let (start, end) = {
            let st = self.st.borrow();
            (st.log_start, st.next_offset)
        };
        let mut newest = None;
        let mut removed = false;
        for (offset, path) in snapshots(&self.dir).await.into_iter().rev() {
            if offset > end {
                super::fault::remove_files(vec![path]).await;
                removed = true;
                continue;
            }
            if let Some(state) = read_snapshot(&path).await {
                newest = Some((offset, state));
                break;
            }
            tracing::warn!(path = %path.display(), "skipping unreadable producer snapshot");
        }
        if removed {
            // The removal must be durable before anything is appended past the snapshot's
            // offset: a snapshot of batches that were lost (or discarded after a failed write)
            // that came back after a power loss would be taken for the state of the new ones.
            super::fault::sync_dir(&self.dir).await?;
        }
        // The new state is built aside and swapped in at the end: while the batches are read,
        // appends (refused, the log being in error) and reads (the last stable offset, the
        // aborted transactions) still see the old state, never an empty one. Without a
        // snapshot the replay starts from nothing, not from the live state, which may hold
        // batches that a failed write discarded.
        // Batches below the snapshot's offset are in it. A batch that straddles the log start
        // (DeleteRecords moved it inside the batch) is still in the log and replayed, as
        // Kafka does: skipping it would forget a producer whose last batch is still there.
        let (from, in_snapshot, mut replayed) = match newest {
            Some((offset, state)) => (offset.max(start), offset, state),
            None => (start, i64::MIN, ProducerStates::default()),
        };
        if in_snapshot < start {
            // The batches between the snapshot and the log start are gone: a producer whose
            // last batch the snapshot knows lies there would be taken as still at that
            // sequence, and a later batch of it appended as if nothing came between.
            replayed.forget_below(start);
        }
        let mut batches = 0u64;
        if from < end {
            self.scan_from(from, |info, data| {
                if info.base_offset < in_snapshot {
                    return true;
                }
                batches += 1;
                if info.is_control() {
                    if let Some(commit) = batch::control_marker(data) {
                        replayed.apply_marker(
                            info.producer_id,
                            info.producer_epoch,
                            commit,
                            info.base_offset,
                            -1,
                        );
                        // A marker read back from the log is on disk: it holds nothing back.
                        replayed.markers_durable(info.next_offset());
                    }
                } else {
                    replayed.apply(info, info.base_offset);
                }
                true
            })
            .await
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
        self.st.borrow_mut().producers = replayed;
        tracing::debug!(dir = %self.dir.display(), from, batches, "producer state replayed");
        Ok(())
    }
}
