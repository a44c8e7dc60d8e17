//! The client of a remote quorum (`RemoteQuorum`, a broker without a controller) against real
//! controllers on loopback TCP: it registers, heartbeats, proposes, takes producer ids and
//! follows the images through a leader's loss; against voters that are down, silent or answer
//! garbage it answers within its request timeout and shuts down promptly.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use runnel_controller::{QuorumHandle, RemoteConfig, RemoteQuorum};

const SECS: Duration = Duration::from_secs(10);

fn client(voters: &[(u64, std::net::SocketAddr)], timeout: Duration) -> QuorumHandle {
    RemoteQuorum::start(RemoteConfig {
        node_id: 10,
        voters: voters.to_vec(),
        request_timeout: timeout,
        transport: Default::default(),
    })
    .unwrap()
    .into()
}

#[tokio::test]
async fn a_remote_client_registers_proposes_and_follows_a_leader_change() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let mut nodes = start_all(&[1, 2, 3], &v, root.path());
    let leader = nodes[0].wait_for_leader(SECS).await.unwrap();
    let r = client(&v, SECS);
    assert_eq!(r.local_addr(), None);
    assert_eq!(r.wait_for_leader(SECS).await, Some(leader));
    let epoch = r.propose(register(10)).await.unwrap();
    assert_eq!(
        r.image().broker(10).map(|b| b.epoch),
        Some(epoch),
        "propose returns once the fetched image has it"
    );
    r.heartbeat(10, epoch).await.unwrap();
    assert!(eventually(SECS, || r.image().broker(10).is_some_and(|b| !b.fenced)).await);
    r.propose(topic("remote-a", 10)).await.unwrap();
    assert!(r.image().topic_by_name("remote-a").is_some());
    let first = r.allocate_producer_ids(10, epoch, 100).await.unwrap();
    let second = r.allocate_producer_ids(10, epoch, 100).await.unwrap();
    assert_eq!(second, first + 100);
    let mut updates = r.subscribe();
    updates.borrow_and_update();

    // The leader goes: the client finds the new one, for calls and for images.
    let pos = nodes.iter().position(|n| n.node_id() == leader).unwrap();
    nodes.remove(pos).shutdown().await;
    r.propose(topic("remote-b", 10)).await.unwrap();
    assert!(r.image().topic_by_name("remote-b").is_some());
    assert!(updates.has_changed().unwrap());
    assert!(eventually(SECS, || r.leader().is_some_and(|l| l != leader)).await);
    r.heartbeat(10, epoch).await.unwrap();

    // Its controlled shutdown fences it; a stale epoch is refused.
    assert!(r.controlled_shutdown(10, epoch + 1).await.is_err());
    r.controlled_shutdown(10, epoch).await.unwrap();
    assert!(eventually(SECS, || r.image().broker(10).is_some_and(|b| b.fenced)).await);
    let stopped = Instant::now();
    r.shutdown().await;
    assert!(stopped.elapsed() < Duration::from_secs(2));
    for n in nodes {
        n.shutdown().await;
    }
}

/// A fake voter: with `garbage`, answers every read with bytes that are not a frame; without,
/// reads and never answers.
fn fake_voter(garbage: bool) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if garbage => {
                            if stream.write_all(&[0, 0, 0, 3, 0xff, 0xfe, 0xfd]).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_remote_client_of_absent_silent_or_lying_voters_answers_in_bounded_time() {
    let down = free_addrs(1)[0];
    let v = vec![(1, down), (2, fake_voter(true)), (3, fake_voter(false))];
    let r = client(&v, Duration::from_secs(2));
    let asked = Instant::now();
    let result = r.propose(register(10)).await;
    assert!(result.is_err(), "{result:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let hb = r.heartbeat(10, 1).await;
    assert!(hb.is_err(), "{hb:?}");
    assert_eq!(r.wait_for_leader(Duration::from_millis(500)).await, None);
    assert_eq!(
        r.image().applied_index(),
        0,
        "nothing installed from the liars"
    );
    let stopped = Instant::now();
    r.shutdown().await;
    assert!(stopped.elapsed() < Duration::from_secs(2));
}
