//! The durable Raft log (openraft's `RaftLogStorage`): entries, the vote and the purge point in
//! files of the controller's `raft/` directory.
//!
//! - `log`: the entries, one checksummed frame each ([`crate::fsio`]), appended and fdatasynced
//!   before openraft is told they are flushed. On open, frames are read until the first torn or
//!   damaged one (what a crash mid-append leaves), and the file is cut there.
//! - `vote`, `purged`: one frame each, replaced atomically.
//!
//! Entries are also kept in memory: the log stays short because openraft snapshots every
//! `snapshot_every` entries and purges behind the snapshot; a purge marks the purge point first
//! and rewrites `log` without the purged entries once they are most of it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, Vote};

use crate::fsio;
use crate::types::{Entry, LogId, StorageError, TypeConfig};

/// Largest serialized entry (a batch of records) the log takes.
pub const MAX_ENTRY: usize = 8 << 20;
/// Largest `log` file opened (snapshots keep it far smaller).
const MAX_LOG_FILE: u64 = 1 << 30;
/// Rewrite `log` when purged entries take more than this many bytes of it (and most of it).
const REWRITE_AFTER: u64 = 1 << 20;

struct Stored {
    entry: Entry,
    /// Where its frame starts in `log`.
    offset: u64,
    /// The frame's length.
    len: u64,
}

struct Inner {
    dir: PathBuf,
    file: File,
    file_len: u64,
    /// Bytes of `log` taken by purged entries.
    purged_bytes: u64,
    entries: BTreeMap<u64, Stored>,
    last_purged: Option<LogId>,
    vote: Option<Vote<u64>>,
}

/// The Raft log of one controller; clones share it (openraft's log reader is a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

fn io_err(subject: ErrorSubject<u64>, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(subject, verb, e)
}

fn encode<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| fsio::invalid(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> io::Result<T> {
    postcard::from_bytes(b).map_err(|e| fsio::invalid(e.to_string()))
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, recovering what a crash left.
    pub fn open(dir: &Path) -> io::Result<LogStore> {
        fs::create_dir_all(dir)?;
        let vote = fsio::read_framed(dir, "vote", 1024)?
            .map(|b| decode(&b))
            .transpose()?;
        let last_purged: Option<LogId> = fsio::read_framed(dir, "purged", 1024)?
            .map(|b| decode(&b))
            .transpose()?;
        let path = dir.join("log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        if size > MAX_LOG_FILE {
            return Err(fsio::invalid(format!(
                "{}: {size} bytes, more than allowed",
                path.display()
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        file.read_to_end(&mut buf)?;
        let mut entries = BTreeMap::new();
        let mut offset = 0usize;
        let mut purged_bytes = 0;
        // The index the next kept entry must have: right after the purge point (a snapshot
        // installed from the leader may purge past the log's end), then one more each time.
        let mut next: Option<u64> = last_purged.map(|p| p.index + 1);
        while let Some((payload, used)) = fsio::unframe(&buf[offset..], MAX_ENTRY) {
            let Ok(entry) = decode::<Entry>(payload) else {
                break;
            };
            let index = entry.log_id.index;
            if last_purged.is_some_and(|p| index <= p.index) {
                purged_bytes += used as u64;
            } else {
                if next.is_some_and(|n| n != index) {
                    break;
                }
                next = Some(index + 1);
                let stored = Stored {
                    entry,
                    offset: offset as u64,
                    len: used as u64,
                };
                entries.insert(index, stored);
            }
            offset += used;
        }
        if offset < buf.len() {
            tracing::warn!(
                "controller log {}: cutting {} bytes of torn or damaged tail",
                path.display(),
                buf.len() - offset
            );
            file.set_len(offset as u64)?;
            file.sync_data()?;
        }
        fsio::sync_dir(dir)?;
        let inner = Inner {
            dir: dir.to_path_buf(),
            file,
            file_len: offset as u64,
            purged_bytes,
            entries,
            last_purged,
            vote,
        };
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than the panic itself; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries in memory (not yet purged): what keeps the log bounded is visible in tests.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn append(&mut self, entries: Vec<Entry>) -> io::Result<()> {
        let mut buf = Vec::new();
        let mut stored = Vec::with_capacity(entries.len());
        for entry in entries {
            let payload = encode(&entry)?;
            if payload.len() > MAX_ENTRY {
                return Err(fsio::invalid(format!("entry of {} bytes", payload.len())));
            }
            let frame = fsio::frame(&payload);
            let offset = self.file_len + buf.len() as u64;
            stored.push(Stored {
                entry,
                offset,
                len: frame.len() as u64,
            });
            buf.extend_from_slice(&frame);
        }
        self.file.write_all(&buf)?;
        self.file.sync_data()?;
        self.file_len += buf.len() as u64;
        for s in stored {
            self.entries.insert(s.entry.log_id.index, s);
        }
        Ok(())
    }

    fn truncate(&mut self, from: u64) -> io::Result<()> {
        let removed = self.entries.split_off(&from);
        if let Some(first) = removed.values().next() {
            self.file.set_len(first.offset)?;
            self.file.sync_data()?;
            self.file_len = first.offset;
        }
        Ok(())
    }

    fn purge(&mut self, upto: LogId) -> io::Result<()> {
        fsio::write_atomic(&self.dir, "purged", &encode(&upto)?)?;
        self.last_purged = Some(upto);
        let kept = self.entries.split_off(&(upto.index + 1));
        let gone = std::mem::replace(&mut self.entries, kept);
        self.purged_bytes += gone.values().map(|s| s.len).sum::<u64>();
        if self.purged_bytes > REWRITE_AFTER && self.purged_bytes * 2 > self.file_len {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Writes the kept entries to a new `log` and renames it over the old one.
    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.dir.join("log.tmp");
        let mut buf = Vec::new();
        let mut offsets = Vec::with_capacity(self.entries.len());
        for (index, s) in &self.entries {
            let frame = fsio::frame(&encode(&s.entry)?);
            offsets.push((*index, buf.len() as u64));
            buf.extend_from_slice(&frame);
        }
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join("log"))?;
        fsio::sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.dir.join("log"))?;
        for (index, offset) in offsets {
            if let Some(s) = self.entries.get_mut(&index) {
                s.offset = offset;
            }
        }
        self.file_len = buf.len() as u64;
        self.purged_bytes = 0;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .entries
            .range(range)
            .map(|(_, s)| s.entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.lock();
        let last = inner.entries.values().next_back().map(|s| s.entry.log_id);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last.or(inner.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let bytes = encode(vote).map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        fsio::write_atomic(&inner.dir, "vote", &bytes)
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(self.lock().vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let result = self.lock().append(entries.into_iter().collect());
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let err = StorageError::IO {
                    source: openraft::StorageIOError::write_logs(AnyError::new(&e)),
                };
                callback.log_io_completed(Err(e));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.lock()
            .truncate(log_id.index)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.lock()
            .purge(log_id)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

#[cfg(test)]
#[path = "log_store_tests.rs"]
mod tests;
