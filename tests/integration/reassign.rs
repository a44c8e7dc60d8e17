//! Partition reassignments (docs/replication.md step 7, KIP-455/KIP-860) with the real binary
//! on loopback: three brokers, the `runnel topic reassign` command as the client
//! (AlterPartitionReassignments and ListPartitionReassignments on the wire), librdkafka for
//! records and metadata. A one-replica partition with records moves to another broker: the new
//! broker copies the log, takes the leadership, serves every record byte for byte at the same
//! offsets and takes new ones, and the old broker deletes its copy. The partition grows to
//! three replicas (all caught up) and shrinks back, the others' copies deleted. A move to a
//! stopped broker cannot complete: it is listed with its adding and removing replicas until it
//! is cancelled, which reverts it. Invalid targets, a forbidden change of the replication
//! factor and a cancel with nothing to cancel get Kafka's errors.

use crate::common;

use std::time::Duration;

use common::cli::{cli_in, rows_starting, Out};
use common::client::{self, Msg};
use common::cluster::{self, until, until_some};
use common::{free_port, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset};

/// Three brokers (one core each).
fn start() -> Vec<Broker> {
    cluster::start_all(&[free_port(), free_port(), free_port()])
}

/// Bootstrap list of the brokers still running (not in `down`, 1-based ids).
fn bootstrap(brokers: &[Broker], down: &[i32]) -> String {
    brokers
        .iter()
        .enumerate()
        .filter(|(i, _)| !down.contains(&(*i as i32 + 1)))
        .map(|(_, b)| b.bootstrap())
        .collect::<Vec<_>>()
        .join(",")
}

/// Leader and replicas of partition 0 of `topic` in a fresh client's Metadata.
fn layout(bootstrap: &str, topic: &str) -> Option<(i32, Vec<i32>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let t = md.topics().first()?;
    let p = t.partitions().first()?;
    (t.error().is_none() && p.leader() >= 0).then(|| (p.leader(), p.replicas().to_vec()))
}

fn reassign(bootstrap: &str, args: &[&str]) -> Out {
    let mut all = vec!["topic", "reassign"];
    all.extend_from_slice(args);
    cli_in(bootstrap, &all, "")
}

fn reassign_ok(bootstrap: &str, args: &[&str]) -> String {
    let out = reassign(bootstrap, args);
    assert_eq!(out.code, 0, "reassign {args:?}: {out:?}");
    out.stdout
}

fn refused(bootstrap: &str, args: &[&str], error: &str) {
    let out = reassign(bootstrap, args);
    assert_ne!(out.code, 0, "reassign {args:?}: {out:?}");
    assert!(out.stderr.contains(error), "reassign {args:?}: {out:?}");
}

fn msgs(n: usize, tag: &str) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            key: Some(format!("{tag}-k{i}").into_bytes()),
            value: Some(format!("{tag}-v{i}-{}", "y".repeat(i % 89)).into_bytes()),
            partition: Some(0),
            ..Msg::default()
        })
        .collect()
}

/// Whether broker `b` holds a directory for partition 0 of `topic`.
fn hosts(b: &Broker, topic: &str) -> bool {
    b.data_dir().join(format!("{topic}-0")).exists()
}

/// Every record of partition 0 of `topic` equals `sent` at its offset.
fn assert_records(bootstrap: &str, topic: &str, sent: &[Msg]) {
    let got = client::consume(bootstrap, topic, &[0], Offset::Beginning, sent.len(), &[]);
    assert_eq!(got.len(), sent.len());
    for (i, (g, m)) in got.iter().zip(sent).enumerate() {
        assert_eq!(g.offset, i as i64);
        assert_eq!((&g.key, &g.value), (&m.key, &m.value), "record {i}");
    }
}

#[test]
fn a_partition_moves_grows_and_shrinks_and_bad_targets_are_refused() {
    let brokers = start();
    let all = bootstrap(&brokers, &[]);
    client::create_topic(&all, "mv", 1);
    let (source, _) = until_some("mv led", || layout(&all, "mv"), |l| l.1.len() == 1);
    let target = (1..=3).find(|&b| b != source).unwrap();
    let mut sent = msgs(300, "a");
    client::produce(&all, "mv", &sent, &[("acks", "all")]);

    let out = reassign_ok(
        &all,
        &[
            "--topic",
            "mv",
            "--partition",
            "0",
            "--replicas",
            &target.to_string(),
        ],
    );
    assert!(out.contains("started"), "{out}");
    until_some(
        &format!("broker {target} leads mv alone"),
        || layout(&all, "mv"),
        |l| *l == (target, vec![target]),
    );
    let listed = reassign_ok(&all, &["--list"]);
    assert!(listed.contains("no reassignment in progress"), "{listed}");
    until(
        "the old replica's files are deleted",
        || {
            (
                hosts(&brokers[source as usize - 1], "mv"),
                hosts(&brokers[target as usize - 1], "mv"),
            )
        },
        |h| *h == (false, true),
    );
    assert_records(&all, "mv", &sent);
    // The new leader takes records after the old ones.
    let more = msgs(50, "b");
    client::produce(&all, "mv", &more, &[("acks", "all")]);
    sent.extend(more);
    assert_records(&all, "mv", &sent);

    // KIP-860: a new replication factor is refused when the request forbids it.
    let three = format!(
        "{target},{}",
        (1..=3)
            .filter(|&b| b != target)
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    refused(
        &all,
        &[
            "--topic",
            "mv",
            "--partition",
            "0",
            "--replicas",
            &three,
            "--disallow-replication-factor-change",
        ],
        "INVALID_REPLICATION_FACTOR",
    );
    // One replica to three: done once both new replicas are in sync.
    reassign_ok(
        &all,
        &["--topic", "mv", "--partition", "0", "--replicas", &three],
    );
    let (_, replicas) = until_some(
        "mv on three replicas, none being added",
        || {
            let l = layout(&all, "mv")?;
            reassign_ok(&all, &["--list"])
                .contains("no reassignment in progress")
                .then_some(l)
        },
        |l| l.1.len() == 3,
    );
    assert_eq!(replicas[0], target);
    assert!(brokers.iter().all(|b| hosts(b, "mv")));
    // And back to one: the two others delete their copies.
    reassign_ok(
        &all,
        &[
            "--topic",
            "mv",
            "--partition",
            "0",
            "--replicas",
            &target.to_string(),
        ],
    );
    until_some(
        "mv back on one replica",
        || layout(&all, "mv"),
        |l| *l == (target, vec![target]),
    );
    until(
        "only the target keeps mv",
        || brokers.iter().filter(|b| hosts(b, "mv")).count(),
        |&n| n == 1,
    );
    assert_records(&all, "mv", &sent);

    // Invalid targets: a broker that is not registered, a broker twice, none at all.
    for bad in ["9", "1,1", "-1"] {
        refused(
            &all,
            &["--topic", "mv", "--partition", "0", "--replicas", bad],
            "INVALID_REPLICA_ASSIGNMENT",
        );
    }
    refused(
        &all,
        &["--topic", "nope", "--partition", "0", "--replicas", "1"],
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
    refused(
        &all,
        &["--topic", "mv", "--partition", "3", "--replicas", "1"],
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
    refused(
        &all,
        &["--topic", "mv", "--partition", "0", "--cancel"],
        "NO_REASSIGNMENT_IN_PROGRESS",
    );
}

#[test]
fn a_move_that_cannot_finish_is_listed_until_cancelled() {
    let mut brokers = start();
    let all = bootstrap(&brokers, &[]);
    client::create_topic(&all, "stuck", 1);
    let (source, _) = until_some("stuck led", || layout(&all, "stuck"), |l| l.1.len() == 1);
    let sent = msgs(100, "s");
    client::produce(&all, "stuck", &sent, &[("acks", "all")]);
    // The target broker is down: it cannot copy the log, so the move waits.
    let down = (1..=3).find(|&b| b != source).unwrap();
    assert!(brokers[down as usize - 1].stop());
    let live = bootstrap(&brokers, &[down]);
    reassign_ok(
        &live,
        &[
            "--topic",
            "stuck",
            "--partition",
            "0",
            "--replicas",
            &down.to_string(),
        ],
    );
    let listed = reassign_ok(&live, &["--list", "--topic", "stuck"]);
    let rows = rows_starting(&listed, "stuck");
    let both = format!("{down},{source}");
    assert_eq!(
        rows,
        vec![vec![
            "stuck",
            "0",
            both.as_str(),
            &down.to_string(),
            &source.to_string()
        ]],
        "{listed}"
    );
    // Still led by the source, which keeps serving it.
    assert_eq!(layout(&live, "stuck"), Some((source, vec![down, source])));
    assert_records(&live, "stuck", &sent);
    // Cancelled: back to the original replica, nothing listed.
    let out = reassign_ok(&live, &["--topic", "stuck", "--partition", "0", "--cancel"]);
    assert!(out.contains("cancelled"), "{out}");
    assert!(reassign_ok(&live, &["--list"]).contains("no reassignment in progress"));
    until_some(
        "stuck back on its source",
        || layout(&live, "stuck"),
        |l| *l == (source, vec![source]),
    );
    assert_records(&live, "stuck", &sent);
}
