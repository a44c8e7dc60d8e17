//! Controllers against bad input and hard stops: malformed frames on the controller port, bad
//! configurations, a shared directory, kill -9 of a controller process, a glommio caller, and
//! brokers fenced when their heartbeats stop.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use runnel_controller::{Controller, ControllerConfig, ControllerError, RejectReason};

const SECS: Duration = Duration::from_secs(10);

/// Whether the controller closes `stream` (read ends or fails) within a few seconds.
fn closed(mut stream: TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(8)))
        .unwrap();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[tokio::test]
async fn malformed_frames_are_refused_and_the_controller_carries_on() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(1));
    let c = Controller::start(config(1, &v, root.path())).unwrap();
    c.wait_for_leader(SECS).await.unwrap();
    let addr = v[0].1;
    let sends: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\n\r\n".to_vec(), // not the magic
        [b"RNC1".as_slice(), &[0xff, 0xff, 0xff, 0xff]].concat(), // length over the limit
        [b"RNC1".as_slice(), &[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]].concat(), // undecodable
    ];
    let addr2 = addr;
    let all_closed = tokio::task::spawn_blocking(move || {
        sends.into_iter().all(|bytes| {
            let mut s = TcpStream::connect(addr2).unwrap();
            s.write_all(&bytes).unwrap();
            closed(s)
        })
    })
    .await
    .unwrap();
    assert!(all_closed);
    c.propose(register(1)).await.unwrap();
    c.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_quorum_is_an_error_not_a_hang() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let mut c = config(1, &v, root.path());
    c.request_timeout = Duration::from_secs(1);
    let alone = Controller::start(c).unwrap();
    assert_eq!(
        alone.wait_for_leader(Duration::from_millis(1500)).await,
        None
    );
    let started = std::time::Instant::now();
    assert_eq!(
        alone.propose(register(1)).await,
        Err(ControllerError::NoLeader)
    );
    assert_eq!(alone.heartbeat(1, 1).await, Err(ControllerError::NoLeader));
    assert!(started.elapsed() < Duration::from_secs(5));
    alone.shutdown().await;
}

#[test]
fn bad_configs_and_shared_directories_are_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(2));
    let err = |c: ControllerConfig| match Controller::start(c) {
        Err(ControllerError::Config(m)) => m,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("started"),
    };
    let mut c = config(1, &v, root.path());
    c.node_id = 5;
    assert!(err(c).contains("not one of the voters"));
    let mut c = config(1, &v, root.path());
    c.voters.push((2, v[0].1));
    assert!(err(c).contains("twice"));
    let mut c = config(1, &v, root.path());
    c.voters.clear();
    assert!(err(c).contains("empty"));
    let first = Controller::start(config(1, &v, root.path())).unwrap();
    let mut same_dir = config(2, &v, root.path());
    same_dir.data_dir = root.path().join("node-1");
    assert!(err(same_dir).contains("in use"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(first.shutdown());
    // Restarted with another voters list than the one its log holds.
    let mut other = config(1, &v, root.path());
    other.voters[1].1 = free_addrs(1)[0];
    assert!(err(other).contains("differ from the quorum's membership"));
    rt.block_on(
        Controller::start(config(1, &v, root.path()))
            .unwrap()
            .shutdown(),
    );
}

/// The child of `kill_9_loses_nothing_acknowledged`: with `RUNNEL_CONTROLLER_CHILD` set to a
/// directory, starts a one-node controller there and proposes topics, printing each one
/// acknowledged, until killed. Without it, does nothing.
#[test]
fn kill_9_child() {
    let Ok(dir) = std::env::var("RUNNEL_CONTROLLER_CHILD") else {
        return;
    };
    let addr: std::net::SocketAddr = std::env::var("RUNNEL_CONTROLLER_ADDR")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = ControllerConfig::new(1, vec![(1, addr)], addr, dir);
        c.snapshot_every = 7;
        c.keep_after_snapshot = 2;
        let c = Controller::start(c).unwrap();
        c.wait_for_leader(SECS).await.unwrap();
        c.propose(register(1)).await.unwrap();
        for i in 0.. {
            c.propose(topic(&format!("k{i}"), 1)).await.unwrap();
            println!("ACK {i}");
        }
    });
}

#[tokio::test]
async fn kill_9_loses_nothing_acknowledged() {
    let root = tempfile::tempdir().unwrap();
    let addr = free_addrs(1)[0];
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_9_child", "--nocapture", "--test-threads=1"])
        .env("RUNNEL_CONTROLLER_CHILD", root.path())
        .env("RUNNEL_CONTROLLER_ADDR", addr.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut last = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ACK ") {
                last = Some(n.parse::<u32>().unwrap());
                if last >= Some(30) {
                    break;
                }
            }
        }
        last
    });
    let acked = tokio::time::timeout(Duration::from_secs(60), acked)
        .await
        .unwrap()
        .unwrap();
    // SIGKILL: no shutdown, no flush.
    child.kill().unwrap();
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged proposals");
    let mut c = ControllerConfig::new(1, vec![(1, addr)], addr, root.path());
    c.snapshot_every = 7;
    let c = Controller::start(c).unwrap();
    c.wait_for_leader(SECS).await.unwrap();
    let ok = eventually(SECS, || {
        (0..=acked).all(|i| c.image().topic_by_name(&format!("k{i}")).is_some())
    })
    .await;
    assert!(ok, "every acknowledged topic up to k{acked} survived");
    c.propose(topic("after", 1)).await.unwrap();
    c.shutdown().await;
}

#[test]
fn glommio_executors_can_propose_and_watch() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(1));
    let c = Controller::start(config(1, &v, root.path())).unwrap();
    let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
    ex.run(async {
        assert_eq!(c.wait_for_leader(SECS).await, Some(1));
        let mut images = c.subscribe();
        images.borrow_and_update();
        c.propose(register(3)).await.unwrap();
        images.changed().await.unwrap();
        assert!(images.borrow().broker(3).is_some());
        c.propose(topic("from-glommio", 3)).await.unwrap();
        assert!(c.image().topic_by_name("from-glommio").is_some());
    });
    drop(c);
}

#[tokio::test]
async fn brokers_without_heartbeats_are_fenced_and_come_back() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let nodes: Vec<Controller> = [1, 2, 3]
        .iter()
        .map(|id| {
            let mut c = config(*id, &v, root.path());
            c.session_timeout = Duration::from_millis(800);
            Controller::start(c).unwrap()
        })
        .collect();
    nodes[0].wait_for_leader(SECS).await.unwrap();
    let epoch = nodes[1].propose(register(10)).await.unwrap();
    nodes[1].propose(topic("led-by-10", 10)).await.unwrap();
    // Heartbeats through a follower reach the leader and unfence the broker.
    nodes[2].heartbeat(10, epoch).await.unwrap();
    assert!(
        eventually(SECS, || nodes.iter().all(|n| !n
            .image()
            .broker(10)
            .unwrap()
            .fenced))
        .await
    );
    assert!(matches!(
        nodes[2].heartbeat(10, epoch + 1).await,
        Err(ControllerError::Rejected(_))
    ));
    // Silence: fenced after the session, its partition left without a leader.
    assert!(eventually(SECS, || nodes[0].image().broker(10).unwrap().fenced).await);
    let p = nodes[0]
        .image()
        .topic_by_name("led-by-10")
        .unwrap()
        .partitions[0]
        .clone();
    assert_eq!(p.leader, runnel_controller::records::NO_LEADER);
    // A heartbeat brings it and its leadership back.
    nodes[0].heartbeat(10, epoch).await.unwrap();
    let back = eventually(SECS, || {
        let img = nodes[0].image();
        !img.broker(10).unwrap().fenced
            && img.topic_by_name("led-by-10").unwrap().partitions[0].leader == 10
    })
    .await;
    assert!(back);
    for n in nodes {
        n.shutdown().await;
    }
}

/// A fake voter on `listener`: with `garbage`, answers every connection with bytes that are not
/// a frame; without, accepts and never says a word.
fn fake_peer(listener: std::net::TcpListener, garbage: bool) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if garbage => {
                            if stream
                                .write_all(&[0, 0, 0, 5, 0xff, 0xfe, 0xfd, 0xfc, 0xfb])
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
}

#[tokio::test]
async fn lying_and_silent_peers_do_not_stop_the_majority() {
    for garbage in [true, false] {
        let root = tempfile::tempdir().unwrap();
        let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut addrs = free_addrs(2);
        addrs.push(fake.local_addr().unwrap());
        fake_peer(fake, garbage);
        let v = voters(&addrs);
        let nodes = start_all(&[1, 2], &v, root.path());
        let leader = nodes[0].wait_for_leader(SECS).await;
        assert!(
            leader.is_some_and(|l| l != 3),
            "garbage={garbage}: leader {leader:?}"
        );
        nodes[1].propose(register(1)).await.unwrap();
        nodes[0].propose(topic("despite-peer-3", 1)).await.unwrap();
        assert!(
            eventually(SECS, || nodes[1]
                .image()
                .topic_by_name("despite-peer-3")
                .is_some())
            .await
        );
        for n in nodes {
            n.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_controlled_shutdown_fences_at_once_through_any_node() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let nodes: Vec<Controller> = [1, 2, 3]
        .iter()
        .map(|id| {
            let mut c = config(*id, &v, root.path());
            // A session far longer than the test: only the shutdown can fence.
            c.session_timeout = Duration::from_secs(120);
            Controller::start(c).unwrap()
        })
        .collect();
    let leader = nodes[0].wait_for_leader(SECS).await.unwrap();
    let follower = nodes.iter().find(|n| n.node_id() != leader).unwrap();
    let epoch = follower.propose(register(10)).await.unwrap();
    follower.propose(topic("led-by-10", 10)).await.unwrap();
    follower.heartbeat(10, epoch).await.unwrap();
    assert!(eventually(SECS, || !follower.image().broker(10).unwrap().fenced).await);
    let before = follower
        .image()
        .topic_by_name("led-by-10")
        .unwrap()
        .partitions[0]
        .clone();
    assert_eq!(before.leader, 10);
    // A stale epoch is refused and fences nothing.
    assert!(matches!(
        follower.controlled_shutdown(10, epoch + 1).await,
        Err(ControllerError::Rejected(RejectReason::StaleBrokerEpoch(
            10
        )))
    ));
    assert!(!follower.image().broker(10).unwrap().fenced);
    let asked = Instant::now();
    follower.controlled_shutdown(10, epoch).await.unwrap();
    assert!(asked.elapsed() < SECS);
    assert!(
        eventually(SECS, || nodes
            .iter()
            .all(|n| n.image().broker(10).is_some_and(|b| b.fenced)))
        .await
    );
    let after = follower
        .image()
        .topic_by_name("led-by-10")
        .unwrap()
        .partitions[0]
        .clone();
    assert_eq!(after.leader, runnel_controller::records::NO_LEADER);
    assert!(after.leader_epoch > before.leader_epoch);
    // Asked again (its answer lost): still fine.
    follower.controlled_shutdown(10, epoch).await.unwrap();
    // The broker back with a new registration leads its partition again, at a newer epoch.
    let epoch2 = follower.propose(register(10)).await.unwrap();
    follower.heartbeat(10, epoch2).await.unwrap();
    let back = eventually(SECS, || {
        let p = follower
            .image()
            .topic_by_name("led-by-10")
            .unwrap()
            .partitions[0]
            .clone();
        p.leader == 10 && p.leader_epoch > after.leader_epoch
    })
    .await;
    assert!(back);
    for n in nodes {
        n.shutdown().await;
    }
}
