//! Clusters with the controller quorum apart from the brokers (how production clusters run,
//! Kafka's KRaft controllers): one controller-only node and three broker-only nodes, each
//! broker with one core and its metrics on a known port. Stopping brokers then never costs
//! the quorum its majority.

use std::process::{Child, Command, Stdio};

use super::metrics::{scrape, value};
use super::{bin, free_port, Broker};

/// The controller-only node; killed when dropped, however the test ends.
pub struct Controller {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a controller-only node (voter 100) on a free port; returns it and its port.
pub fn controller() -> (Controller, u16) {
    let ctl = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("controller.toml");
    std::fs::write(
        &cfg,
        format!(
            "node.id = 100\n\
             process.roles = \"controller\"\n\
             listeners = \"CONTROLLER://127.0.0.1:{ctl}\"\n\
             controller.listener.names = \"CONTROLLER\"\n\
             controller.quorum.voters = \"100@127.0.0.1:{ctl}\"\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("controller.log")).unwrap();
    let child = Command::new(bin())
        .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    (Controller { child, _dir: dir }, ctl)
}

/// The config of broker-only node `id` of the quorum at `ctl`, plus `extra` lines.
pub fn broker_config(id: i32, ctl: u16, extra: &str) -> String {
    format!(
        "node.id = {id}\n\
         process.roles = \"broker\"\n\
         controller.listener.names = \"CONTROLLER\"\n\
         controller.quorum.voters = \"100@127.0.0.1:{ctl}\"\n\
         broker.heartbeat.interval.ms = 300\n\
         {extra}"
    )
}

/// A controller-only node and brokers 1-3.
pub struct Apart {
    /// Brokers 1-3 (index = id - 1).
    pub brokers: Vec<Broker>,
    /// Their metrics ports.
    pub metrics: Vec<u16>,
    _controller: Controller,
}

impl Apart {
    /// Starts the controller and three brokers with `extra` config lines, and waits until each
    /// listens.
    pub fn start(extra: &str) -> Apart {
        let (controller, ctl) = controller();
        let metrics: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut brokers: Vec<Broker> = (1..=3)
            .map(|id| {
                let listen = format!("127.0.0.1:{}", metrics[id as usize - 1]);
                Broker::launch_with_config(
                    &broker_config(id, ctl, extra),
                    &["--cores", "1", "--metrics-listen", &listen],
                )
            })
            .collect();
        for b in &mut brokers {
            b.wait_ready();
        }
        Apart {
            brokers,
            metrics,
            _controller: controller,
        }
    }

    /// Bootstrap list of the brokers not in `except` (ids).
    pub fn bootstrap(&self, except: &[i32]) -> String {
        self.brokers
            .iter()
            .enumerate()
            .filter(|(i, _)| !except.contains(&(*i as i32 + 1)))
            .map(|(_, b)| b.bootstrap())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Broker `id`.
    pub fn broker(&mut self, id: i32) -> &mut Broker {
        &mut self.brokers[id as usize - 1]
    }

    /// (log end offset, high watermark) of `topic`/`partition` on broker `id`, from its
    /// metrics (published once a second); `None` while it reports no such partition.
    pub fn offsets(&self, id: i32, topic: &str, partition: i32) -> Option<(i64, i64)> {
        let s = scrape(self.metrics[id as usize - 1]);
        let p = partition.to_string();
        let labels = [("topic", topic), ("partition", p.as_str())];
        let present = s.samples.iter().any(|x| {
            x.metric == "runnel_partition_log_end_offset"
                && labels.iter().all(|(k, v)| x.labels.get(k) == Some(v))
        });
        present.then(|| {
            (
                value(&s, "runnel_partition_log_end_offset", &labels) as i64,
                value(&s, "runnel_partition_high_watermark", &labels) as i64,
            )
        })
    }
}

/// Sends `sig` to broker `b`'s process.
pub fn signal(b: &Broker, sig: i32) {
    let pid = b.child.as_ref().expect("running").id() as i32;
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}
