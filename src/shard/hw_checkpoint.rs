//! The high-watermark checkpoint (Kafka's `replication-offset-checkpoint`, docs/replication.md
//! step 6, docs/storage.md "High-watermark checkpoint"): the high watermark of every replicated
//! partition this broker holds, so that a restarted broker starts each one's visible offset
//! where the ISR had it, not at its whole log (records above it may never have reached the
//! ISR, and a new leader may cut them away).
//!
//! Each core owns its partitions, so each core writes its own part of the checkpoint,
//! `replication-offset-checkpoint.<core>` in the data directory, in Kafka's text layout (a
//! version line `0`, a count line, then one `topic partition offset` line per partition),
//! replaced durably ([`crate::storage::durable`]: temporary file, fdatasync, rename, directory
//! fsync, on the blocking pool) every `replica.high.watermark.checkpoint.interval.ms` when it
//! changed, and once more at clean shutdown after the logs are closed. Nothing crosses cores
//! and the data path never waits for it.
//!
//! At startup every part is read once ([`load`]); an entry seen in several parts (the core
//! count changed and a crash left an old part behind) keeps the smallest offset, which is
//! always safe: a high watermark only holds records back. A missing, unreadable or corrupt
//! part is logged and skipped: its partitions start at their log start, as Kafka's. Parts of
//! cores beyond the current count are removed after a clean shutdown ([`remove_stale`]).
//!
//! Only logs whose visible offset is set from above (replicated partitions, leader or
//! follower) are written; a partition with one replica keeps visible = durable and is never in
//! the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use super::PartitionStore;

/// The name Kafka gives the file; each core's part adds `.<core>`.
pub const FILE: &str = "replication-offset-checkpoint";

/// The layout version Kafka writes (and the only one it reads).
const VERSION: i32 = 0;

/// Most entries one part is read with (a longer file is refused as corrupt): the cluster's
/// partition limit.
const MAX_ENTRIES: usize = runnel_controller::image::MAX_PARTITIONS;

/// One entry: topic, partition, high watermark.
pub type Entry = (String, i32, i64);

/// The checkpointed high watermarks by (topic, partition).
pub type Checkpointed = HashMap<(String, i32), i64>;

/// The path of core `core`'s part in `data_dir`.
pub fn part_path(data_dir: &Path, core: usize) -> PathBuf {
    data_dir.join(format!("{FILE}.{core}"))
}

/// The core a file name in the data directory is the part of, if it is one.
fn part_core(name: &str) -> Option<usize> {
    let rest = name.strip_prefix(FILE)?.strip_prefix('.')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// A part's contents in Kafka's layout, entries sorted (so equal sets give equal bytes).
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort();
    let mut out = format!("{VERSION}\n{}\n", sorted.len());
    for (topic, partition, offset) in sorted {
        out.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    out.into_bytes()
}

/// Why a part could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

/// The entries of a part, or why it is corrupt: the version must be 0, the count must match
/// the lines that follow, each line must be a topic name, a partition >= 0 and an offset >= 0.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, Corrupt> {
    let text = std::str::from_utf8(bytes).map_err(|_| Corrupt("not UTF-8".into()))?;
    let mut lines = text.lines();
    let version = lines.next().ok_or_else(|| Corrupt("empty".into()))?;
    if version.trim().parse::<i32>() != Ok(VERSION) {
        return Err(Corrupt(format!("unknown version {version:?}")));
    }
    let count: usize = lines
        .next()
        .and_then(|c| c.trim().parse().ok())
        .ok_or_else(|| Corrupt("no entry count".into()))?;
    if count > MAX_ENTRIES {
        return Err(Corrupt(format!("{count} entries")));
    }
    let mut entries = Vec::with_capacity(count);
    for line in lines.by_ref().take(count) {
        let mut fields = line.split(' ');
        let (Some(topic), Some(p), Some(o), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(Corrupt(format!("malformed line {line:?}")));
        };
        let partition: i32 = p
            .parse()
            .map_err(|_| Corrupt(format!("bad partition {p:?}")))?;
        let offset: i64 = o
            .parse()
            .map_err(|_| Corrupt(format!("bad offset {o:?}")))?;
        if topic.is_empty() || partition < 0 || offset < 0 {
            return Err(Corrupt(format!("bad entry {line:?}")));
        }
        entries.push((topic.to_string(), partition, offset));
    }
    if entries.len() != count {
        return Err(Corrupt(format!(
            "{} entries where the count says {count}",
            entries.len()
        )));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(Corrupt("lines past the count".into()));
    }
    Ok(entries)
}

/// Reads every part in `data_dir` (blocking: startup only). Missing parts are nothing; a part
/// that cannot be read or decoded is logged and skipped. An entry in several parts keeps its
/// smallest offset (see the module comment).
pub fn load(data_dir: &Path) -> Checkpointed {
    let mut out = Checkpointed::new();
    let Ok(dir) = std::fs::read_dir(data_dir) else {
        return out;
    };
    let mut parts = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(core) = name.to_str().and_then(part_core) else {
            continue;
        };
        let path = entry.path();
        let read = std::fs::read(&path).map_err(|e| Corrupt(e.to_string()));
        match read.and_then(|b| decode(&b)) {
            Ok(entries) => {
                parts += 1;
                for (topic, partition, offset) in entries {
                    out.entry((topic, partition))
                        .and_modify(|o: &mut i64| *o = (*o).min(offset))
                        .or_insert(offset);
                }
            }
            Err(Corrupt(why)) => tracing::warn!(
                path = %path.display(),
                core,
                %why,
                "high-watermark checkpoint unreadable; its partitions start at their log start"
            ),
        }
    }
    if parts == 0 {
        tracing::info!(dir = %data_dir.display(), "no high-watermark checkpoint; replicated partitions start at their log start");
    } else {
        tracing::info!(
            parts,
            partitions = out.len(),
            "high-watermark checkpoint loaded"
        );
    }
    out
}

/// Removes the parts of cores `cores` and above (blocking; after a clean shutdown, once every
/// current core wrote its own).
pub fn remove_stale(data_dir: &Path, cores: usize) {
    let Ok(dir) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in dir.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .and_then(part_core)
            .is_some_and(|c| c >= cores);
        if stale {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove an old high-watermark checkpoint part");
            }
        }
    }
}

/// The entries of `store`'s logs whose visible offset is set from above.
pub fn entries(store: &PartitionStore) -> Vec<Entry> {
    let logs = store.logs.borrow();
    let mut out = Vec::new();
    for (topic, lt) in logs.iter() {
        for (p, log) in lt.partitions.iter().enumerate() {
            match log {
                Some(log) if log.high_watermark_is_set() => {
                    out.push((topic.clone(), p as i32, log.high_watermark()))
                }
                _ => {}
            }
        }
    }
    out
}

thread_local! {
    /// One write of this core's part at a time (the periodic task and the one at shutdown
    /// share the temporary file name).
    static WRITING: Rc<glommio::sync::Semaphore> = Rc::new(glommio::sync::Semaphore::new(1));
}

/// Writes `store`'s part now when it differs from `last` (what was written before); returns
/// what is on disk afterwards.
pub async fn write(store: &PartitionStore, last: Option<Vec<u8>>) -> Option<Vec<u8>> {
    let writing = WRITING.with(Rc::clone);
    let _permit = writing.acquire_permit(1).await.ok()?;
    let bytes = encode(&entries(store));
    if last.as_ref() == Some(&bytes) {
        return last;
    }
    let path = part_path(&store.view().config().data_dir, store.id());
    match crate::storage::durable::replace(path.clone(), bytes.clone()).await {
        Ok(()) => Some(bytes),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the high-watermark checkpoint");
            None
        }
    }
}

/// Starts this core's checkpoint task: a write every
/// `replica.high.watermark.checkpoint.interval.ms` (read each turn).
pub fn start(store: &Rc<PartitionStore>) {
    let store = store.clone();
    glommio::spawn_local(async move {
        let mut last = None;
        loop {
            let every = store
                .view()
                .config()
                .replica_fetch
                .hw_checkpoint_interval_ms;
            glommio::timer::sleep(Duration::from_millis(every)).await;
            last = write(&store, last).await;
        }
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_layout_round_trips() {
        let entries = vec![("b".to_string(), 1, 7), ("a.x-y_z".to_string(), 0, 42)];
        let bytes = encode(&entries);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "0\n2\na.x-y_z 0 42\nb 1 7\n"
        );
        let mut back = decode(&bytes).unwrap();
        back.sort();
        let mut want = entries.clone();
        want.sort();
        assert_eq!(back, want);
        assert_eq!(decode(b"0\n0\n").unwrap(), vec![]);
    }

    #[test]
    fn corrupt_parts_are_refused() {
        for bad in [
            &b""[..],
            b"1\n0\n",
            b"0\n",
            b"0\nx\n",
            b"0\n2\na 0 1\n",
            b"0\n1\na 0 1\nb 0 2\n",
            b"0\n1\na 0\n",
            b"0\n1\na 0 1 2\n",
            b"0\n1\na -1 1\n",
            b"0\n1\na 0 -5\n",
            b"0\n1\na 0 zz\n",
            b"0\n99999999999\n",
            b"\xff\xfe",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn load_merges_parts_and_skips_bad_ones() {
        let d = tempfile::tempdir().unwrap();
        let p0 = part_path(d.path(), 0);
        let p1 = part_path(d.path(), 1);
        std::fs::write(&p0, encode(&[("t".into(), 0, 10), ("t".into(), 1, 5)])).unwrap();
        // An old part of another core with a smaller offset for t-0: the smaller one wins.
        std::fs::write(&p1, encode(&[("t".into(), 0, 8), ("u".into(), 0, 3)])).unwrap();
        std::fs::write(part_path(d.path(), 2), b"garbage").unwrap();
        std::fs::write(d.path().join(format!("{FILE}.3.tmp")), b"0\n1\nv 0 1\n").unwrap();
        let got = load(d.path());
        assert_eq!(got.len(), 3);
        assert_eq!(got[&("t".to_string(), 0)], 8);
        assert_eq!(got[&("t".to_string(), 1)], 5);
        assert_eq!(got[&("u".to_string(), 0)], 3);
        remove_stale(d.path(), 1);
        assert!(p0.exists());
        assert!(!p1.exists());
        assert!(!part_path(d.path(), 2).exists());
        assert!(load(tempfile::tempdir().unwrap().path()).is_empty());
    }

    #[test]
    fn part_names() {
        assert_eq!(part_core("replication-offset-checkpoint.0"), Some(0));
        assert_eq!(part_core("replication-offset-checkpoint.12"), Some(12));
        assert_eq!(part_core("replication-offset-checkpoint"), None);
        assert_eq!(part_core("replication-offset-checkpoint.1.tmp"), None);
        assert_eq!(part_core("replication-offset-checkpoint."), None);
    }
}
