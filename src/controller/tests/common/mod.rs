//! Helpers of the controller tests: free loopback ports, configs with short timeouts, waiting.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use runnel_controller::records::{Endpoint, MetadataRecord, RegisterBrokerRecord};
use runnel_controller::{Controller, ControllerConfig, RecordBatch};
use uuid::Uuid;

/// `n` loopback addresses whose ports were free a moment ago.
pub fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter().map(|l| l.local_addr().unwrap()).collect()
}

/// Voters 1..=n on `addrs`.
pub fn voters(addrs: &[SocketAddr]) -> Vec<(u64, SocketAddr)> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u64 + 1, *a))
        .collect()
}

/// The config of voter `id` with test timings, its directory `root/node-<id>`.
pub fn config(id: u64, voters: &[(u64, SocketAddr)], root: &Path) -> ControllerConfig {
    let listen = voters.iter().find(|(v, _)| *v == id).unwrap().1;
    let mut c = ControllerConfig::new(id, voters.to_vec(), listen, root.join(format!("node-{id}")));
    c.heartbeat_interval = Duration::from_millis(50);
    c.election_timeout = (Duration::from_millis(300), Duration::from_millis(600));
    c
}

/// Polls `f` every 20 ms until it is true or `limit` passes.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// A registration of broker `id`.
pub fn register(id: i32) -> RecordBatch {
    RecordBatch::one(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: Uuid::new_v4(),
        endpoints: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
            security_protocol: "PLAINTEXT".into(),
        }],
        rack: None,
    }))
}

/// A one-partition topic on broker `broker`.
pub fn topic(name: &str, broker: i32) -> RecordBatch {
    RecordBatch::create_topic(name, Uuid::new_v4(), &[vec![broker]], &[])
}

/// Starts voters `ids` of `voters` under `root`.
pub fn start_all(ids: &[u64], voters: &[(u64, SocketAddr)], root: &Path) -> Vec<Controller> {
    ids.iter()
        .map(|id| Controller::start(config(*id, voters, root)).unwrap())
        .collect()
}
