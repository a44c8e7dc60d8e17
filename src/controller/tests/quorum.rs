//! The controller quorum on real TCP and real directories: one node, three nodes, a leader's
//! loss, restarts that catch up from the log and from a snapshot.

mod common;

use std::time::{Duration, Instant};

use common::*;
use runnel_controller::{Controller, ControllerError, RejectReason};

const SECS: Duration = Duration::from_secs(10);

#[tokio::test]
async fn single_node_starts_applies_and_restarts() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(1));
    let c = Controller::start(config(1, &v, root.path())).unwrap();
    assert_eq!(c.wait_for_leader(SECS).await, Some(1));
    let epoch = c.propose(register(7)).await.unwrap();
    assert_eq!(c.image().broker(7).unwrap().epoch, epoch);
    c.propose(topic("a", 7)).await.unwrap();
    assert!(
        c.image().topic_by_name("a").is_some(),
        "propose returns once the image has it"
    );
    // A batch that does not apply is refused, and changes nothing.
    let again = c.propose(topic("a", 7)).await;
    assert!(matches!(
        again,
        Err(ControllerError::Rejected(RejectReason::TopicExists(_)))
    ));
    c.shutdown().await;
    let c = Controller::start(config(1, &v, root.path())).unwrap();
    assert_eq!(c.wait_for_leader(SECS).await, Some(1));
    assert!(eventually(SECS, || c.image().topic_by_name("a").is_some()).await);
    c.propose(topic("b", 7)).await.unwrap();
    c.shutdown().await;
    // A one-member quorum may move to another port (it talks to no peer); the broker's default
    // single node listens on port 0, a free port at each start.
    let any = vec![(1, "127.0.0.1:0".parse().unwrap())];
    let c = Controller::start(config(1, &any, root.path())).unwrap();
    assert_ne!(c.local_addr().port(), 0);
    assert_eq!(c.wait_for_leader(SECS).await, Some(1));
    assert!(eventually(SECS, || c.image().topic_by_name("b").is_some()).await);
    c.propose(topic("c", 7)).await.unwrap();
    c.shutdown().await;
}

#[tokio::test]
async fn three_nodes_elect_and_apply_everywhere() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let nodes = start_all(&[1, 2, 3], &v, root.path());
    for n in &nodes {
        assert!(n.wait_for_leader(SECS).await.is_some());
    }
    let leader = nodes[0].leader().unwrap();
    assert!(nodes.iter().all(|n| n.leader() == Some(leader)));
    let epoch = nodes[0].propose(register(1)).await.unwrap();
    // Producer-id blocks asked for at once from every node never overlap.
    let (a, b, c) = tokio::join!(
        nodes[0].allocate_producer_ids(1, epoch, 1000),
        nodes[1].allocate_producer_ids(1, epoch, 1000),
        nodes[2].allocate_producer_ids(1, epoch, 1000),
    );
    let mut firsts = vec![a.unwrap(), b.unwrap(), c.unwrap()];
    firsts.sort_unstable();
    assert_eq!(firsts, vec![0, 1000, 2000]);
    let stale = nodes[1].allocate_producer_ids(1, epoch + 1, 10).await;
    assert!(
        matches!(stale, Err(ControllerError::Rejected(_))),
        "{stale:?}"
    );
    // Proposals from every node, followers included.
    for (i, n) in nodes.iter().enumerate() {
        n.propose(topic(&format!("t{i}"), 1)).await.unwrap();
    }
    for n in &nodes {
        let ok = eventually(SECS, || {
            (0..3).all(|i| n.image().topic_by_name(&format!("t{i}")).is_some())
        })
        .await;
        assert!(ok, "node {} has every topic", n.node_id());
    }
    let indexes: Vec<u64> = nodes.iter().map(|n| n.image().applied_index()).collect();
    assert!(
        eventually(SECS, || nodes.iter().all(|n| n.image() == nodes[0].image())).await,
        "{indexes:?}"
    );
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn leader_loss_elects_another_and_the_old_one_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let mut nodes = start_all(&[1, 2, 3], &v, root.path());
    let leader = nodes[0].wait_for_leader(SECS).await.unwrap();
    nodes[0].propose(register(1)).await.unwrap();
    nodes[0].propose(topic("before", 1)).await.unwrap();
    let pos = nodes.iter().position(|n| n.node_id() == leader).unwrap();
    let old = nodes.remove(pos);
    let killed_at = Instant::now();
    old.shutdown().await;
    let ok = eventually(SECS, || {
        nodes
            .iter()
            .all(|n| n.leader().is_some_and(|l| l != leader))
    })
    .await;
    assert!(ok, "a new leader");
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(5), "new leader after {took:?}");
    for i in 0..5 {
        nodes[i % 2]
            .propose(topic(&format!("after{i}"), 1))
            .await
            .unwrap();
    }
    // The old leader restarts from its directory and catches up from the log.
    nodes.push(Controller::start(config(leader, &v, root.path())).unwrap());
    let back = nodes.last().unwrap();
    let ok = eventually(SECS, || {
        let img = back.image();
        img.topic_by_name("before").is_some()
            && (0..5).all(|i| img.topic_by_name(&format!("after{i}")).is_some())
    })
    .await;
    assert!(ok, "restarted node caught up");
    back.propose(topic("from-restarted", 1)).await.unwrap();
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn a_follower_behind_the_purge_catches_up_from_a_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let cfg = |id| {
        let mut c = config(id, &v, root.path());
        c.snapshot_every = 10;
        c.keep_after_snapshot = 0;
        c
    };
    let mut nodes: Vec<Controller> = [1, 2, 3]
        .iter()
        .map(|id| Controller::start(cfg(*id)).unwrap())
        .collect();
    let leader = nodes[0].wait_for_leader(SECS).await.unwrap();
    nodes[0].propose(register(1)).await.unwrap();
    let follower = *[1u64, 2, 3].iter().find(|id| **id != leader).unwrap();
    let pos = nodes.iter().position(|n| n.node_id() == follower).unwrap();
    nodes.remove(pos).shutdown().await;
    for i in 0..40 {
        nodes[0].propose(topic(&format!("s{i}"), 1)).await.unwrap();
    }
    // The leader's log no longer holds what the stopped follower lacks.
    let live = nodes.iter().find(|n| n.node_id() == leader).unwrap();
    assert!(eventually(SECS, || live.metrics().purged.is_some_and(|p| p.index > 10)).await);
    let back = Controller::start(cfg(follower)).unwrap();
    let ok = eventually(SECS, || {
        (0..40).all(|i| back.image().topic_by_name(&format!("s{i}")).is_some())
    })
    .await;
    assert!(ok, "caught up");
    assert!(back.metrics().snapshot.is_some(), "through a snapshot");
    // Its log is bounded too: a restart starts from its own snapshot.
    back.shutdown().await;
    let back = Controller::start(cfg(follower)).unwrap();
    assert!(eventually(SECS, || back.image().topic_by_name("s39").is_some()).await);
    back.shutdown().await;
    for n in nodes {
        n.shutdown().await;
    }
}
