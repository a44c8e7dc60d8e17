//! Tests of the durable log: reopen after appends, truncation, purge and rewrite, a torn tail.

use super::*;
use openraft::{CommittedLeaderId, EntryPayload};

use crate::records::RecordBatch;

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(RecordBatch::default()),
    }
}

fn indexes(store: &LogStore) -> Vec<u64> {
    store.lock().entries.keys().copied().collect()
}

#[test]
fn reopen_truncate_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    store
        .lock()
        .append((1..=10).map(|i| entry(1, i)).collect())
        .unwrap();
    store.lock().truncate(8).unwrap();
    store.lock().append(vec![entry(2, 8)]).unwrap();
    drop(store);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&store), (1..=8).collect::<Vec<_>>());
    assert_eq!(store.lock().entries[&8].entry.log_id.leader_id.term, 2);
    store
        .lock()
        .purge(LogId::new(CommittedLeaderId::new(1, 1), 5))
        .unwrap();
    drop(store);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&store), vec![6, 7, 8]);
    assert_eq!(store.lock().last_purged.map(|p| p.index), Some(5));
}

#[test]
fn purge_rewrites_a_mostly_purged_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let big = |i| Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), i),
        payload: EntryPayload::Normal(RecordBatch {
            records: vec![crate::records::MetadataRecord::Topic(
                crate::records::TopicRecord {
                    name: "x".repeat(10_000),
                    topic_id: uuid::Uuid::from_u128(i as u128),
                },
            )],
        }),
    };
    store.lock().append((1..=300).map(big).collect()).unwrap();
    let before = fs::metadata(dir.path().join("log")).unwrap().len();
    store
        .lock()
        .purge(LogId::new(CommittedLeaderId::new(1, 1), 290))
        .unwrap();
    let after = fs::metadata(dir.path().join("log")).unwrap().len();
    assert!(after * 10 < before, "{before} -> {after}");
    store.lock().append(vec![big(301)]).unwrap();
    drop(store);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&store), (291..=301).collect::<Vec<_>>());
}

#[test]
fn a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    store
        .lock()
        .append((1..=3).map(|i| entry(1, i)).collect())
        .unwrap();
    drop(store);
    let path = dir.path().join("log");
    let len = fs::metadata(&path).unwrap().len();
    // Half a frame, as a crash mid-write leaves.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&fsio::frame(b"partial")[..6]).unwrap();
    drop(f);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&store), vec![1, 2, 3]);
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
    // A damaged frame in the middle ends the log there.
    drop(store);
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    assert!(indexes(&store).len() < 3);
    // A length beyond the bound is not trusted.
    drop(store);
    fs::write(&path, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).unwrap();
    assert!(LogStore::open(dir.path()).unwrap().is_empty());
}

#[test]
fn a_purge_past_the_end_keeps_later_appends() {
    // A follower that installs a leader's snapshot purges beyond its own last entry; the entries
    // appended after that follow purged ones in the file, with a gap in the indexes.
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    store
        .lock()
        .append((1..=10).map(|i| entry(1, i)).collect())
        .unwrap();
    store
        .lock()
        .purge(LogId::new(CommittedLeaderId::new(2, 1), 50))
        .unwrap();
    store
        .lock()
        .append((51..=53).map(|i| entry(2, i)).collect())
        .unwrap();
    drop(store);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&store), vec![51, 52, 53]);
}
