//! End-to-end test: runs `runnel-loadgen` against a real `runnel` broker started on a free
//! loopback port with a temporary data directory, and checks that every produced message was
//! consumed and that the JSON result has the expected fields.
//!
//! The broker binary is `$RUNNEL_BIN`, or else `target/{debug,release}/runnel` next to this
//! test's own target directory or the workspace's. If none exists the test prints why and
//! passes without running (build the broker first: `cargo build --bin runnel`).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker process; killed (and reaped) when dropped, whatever happens in the test.
struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The broker binary: `$RUNNEL_BIN`, or one built in this workspace (built here with cargo when
/// missing). No binary is a failure, never a silent pass.
fn broker_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNNEL_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "RUNNEL_BIN={} is not a file", p.display());
        return p;
    }
    if let Some(p) = find_broker_bin() {
        return p;
    }
    // A target directory of its own: the cargo running this test holds the lock of its own.
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::temp_dir().join("runnel-loadgen-test-broker");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "-p", "runnel", "--bin", "runnel", "--target-dir"])
        .arg(&target)
        .status()
        .expect("running cargo to build the broker");
    assert!(status.success(), "building the runnel broker failed");
    let built = target.join("debug/runnel");
    assert!(built.is_file(), "no runnel binary at {}", built.display());
    built
}

fn find_broker_bin() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    // This test runs from <target>/<profile>/deps/.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(|d| d.parent()) {
            candidates.push(profile_dir.join("runnel"));
            if let Some(target) = profile_dir.parent() {
                candidates.push(target.join("release/runnel"));
                candidates.push(target.join("debug/runnel"));
            }
        }
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    candidates.push(workspace.join("target/debug/runnel"));
    candidates.push(workspace.join("target/release/runnel"));
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_broker(bin: &PathBuf, dir: &std::path::Path) -> Broker {
    let port = free_port();
    let log = dir.join("broker.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(bin)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--cores")
        .arg("1")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("spawning the broker");
    let mut broker = Broker { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = broker.child.try_wait() {
            panic!(
                "broker exited with {st}: {}",
                std::fs::read_to_string(&broker.log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "broker did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    broker
}

/// Writes `toml` as a workload, runs `runnel-loadgen run` with it against `broker` (result JSON
/// in `dir/result.json`, then `args`), asserts that it succeeded and returns its stdout and
/// the parsed result.
fn run_workload(
    broker: &Broker,
    dir: &std::path::Path,
    toml: &str,
    args: &[&std::ffi::OsStr],
) -> (String, serde_json::Value) {
    let workload = dir.join("workload.toml");
    std::fs::write(&workload, toml).unwrap();
    let out = dir.join("result.json");
    let run = Command::new(env!("CARGO_BIN_EXE_runnel-loadgen"))
        .arg("run")
        .arg(&workload)
        .arg("--bootstrap")
        .arg(format!("127.0.0.1:{}", broker.port))
        .arg("--out")
        .arg(&out)
        .args(args)
        .output()
        .expect("running runnel-loadgen");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "loadgen failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}\nbroker log:\n{}",
        run.status,
        std::fs::read_to_string(&broker.log).unwrap_or_default()
    );
    let v = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (stdout, v)
}

#[test]
fn tiny_workload_consumes_everything() {
    let bin = broker_bin();
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&bin, dir.path());
    let plot = dir.path().join("result.svg");
    let (stdout, v) = run_workload(
        &broker,
        dir.path(),
        r#"
        name = "tiny"
        topics = 1
        partitions = 3
        producers_per_topic = 2
        consumers_per_subscription = 2
        message_size = { min = 32, max = 256 }
        key_distribution = "round-robin"
        warmup_s = 0
        messages = 2000
        max_duration_s = 60
        drain_timeout_s = 30
        "#,
        &["--plot".as_ref(), plot.as_os_str()],
    );
    assert!(stdout.contains("publish p99.9 ms"), "{stdout}");

    let out = dir.path().join("result.json");
    let totals = &v["totals"];
    assert_eq!(v["ended_by"], "count", "{v:#}");
    assert_eq!(totals["sent"], 2000, "{totals:#}");
    assert_eq!(totals["acked"], 2000, "{totals:#}");
    assert_eq!(totals["failed"], 0, "{totals:#}");
    assert_eq!(totals["consumed"], 2000, "{totals:#}");
    assert_eq!(totals["missing"], 0, "{totals:#}");
    assert_eq!(v["workload"]["name"], "tiny");
    assert_eq!(v["workload"]["partitions"], 3);
    for key in ["publish_latency", "e2e_latency"] {
        let l = &v[key];
        assert_eq!(l["count"], 2000, "{key}: {l:#}");
        for p in [
            "p50_ms", "p90_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms",
        ] {
            assert!(l[p].as_f64().unwrap() > 0.0, "{key}.{p}: {l:#}");
        }
        assert!(l["p50_ms"].as_f64() <= l["max_ms"].as_f64());
    }
    assert!(v["produced"]["msg_per_s"].as_f64().unwrap() > 0.0);
    let series = v["series"].as_array().unwrap();
    assert!(!series.is_empty());
    assert!(series[0]["publish_p99_ms"].is_number());
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));

    // compare works on the file just written.
    let cmp = Command::new(env!("CARGO_BIN_EXE_runnel-loadgen"))
        .arg("compare")
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert!(cmp.status.success());
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(text.contains("1.00x"), "{text}");
    drop(broker);
}

#[test]
fn lean_client_consumes_everything() {
    let bin = broker_bin();
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&bin, dir.path());
    let (stdout, v) = run_workload(
        &broker,
        dir.path(),
        r#"
        name = "lean"
        topics = 1
        partitions = 3
        producers_per_topic = 2
        consumers_per_subscription = 2
        message_size = { min = 32, max = 256 }
        key_distribution = "round-robin"
        compression = "lz4"
        warmup_s = 0
        messages = 3000
        max_duration_s = 60
        drain_timeout_s = 30
        "#,
        &["--client".as_ref(), "lean".as_ref()],
    );
    assert!(stdout.contains("client Lean"), "{stdout}");
    assert_eq!(v["workload"]["client"], "lean");
    assert_eq!(v["workload"]["consumer_mode"], "assign");
    let totals = &v["totals"];
    for key in ["sent", "acked", "consumed"] {
        assert_eq!(totals[key], 3000, "{key}: {totals:#}");
    }
    assert_eq!(totals["failed"], 0, "{totals:#}");
    assert_eq!(totals["missing"], 0, "{totals:#}");
    assert_eq!(totals["foreign"], 0, "{totals:#}");
    for key in ["publish_latency", "e2e_latency"] {
        let l = &v[key];
        assert_eq!(l["count"], 3000, "{key}: {l:#}");
        assert!(l["p50_ms"].as_f64().unwrap() > 0.0, "{key}: {l:#}");
    }
    drop(broker);
}

/// Backlog mode with `client`: nothing is consumed while producing, then the drain reads
/// every message exactly once and is reported on its own.
fn backlog_is_drained_after_producing(client: &str) {
    let bin = broker_bin();
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&bin, dir.path());
    let (stdout, v) = run_workload(
        &broker,
        dir.path(),
        r#"
        name = "backlog"
        partitions = 3
        consumers_per_subscription = 2
        message_size = 200
        backlog = true
        warmup_s = 0
        messages = 4000
        max_duration_s = 60
        drain_timeout_s = 30
        "#,
        &["--client".as_ref(), client.as_ref()],
    );
    assert!(stdout.contains("backlog consumed msg/s"), "{stdout}");
    assert_eq!(v["workload"]["consumer_mode"], "assign");
    assert_eq!(v["produced"]["messages"], 4000, "{:#}", v["produced"]);
    assert_eq!(
        v["consumed"]["messages"], 0,
        "consumers must stay idle while the backlog is produced"
    );
    let backlog = &v["backlog"];
    assert_eq!(backlog["consumed"]["messages"], 4000, "{backlog:#}");
    assert_eq!(backlog["consumed"]["bytes"], 4000 * 200, "{backlog:#}");
    assert!(backlog["seconds"].as_f64().unwrap() > 0.0, "{backlog:#}");
    let totals = &v["totals"];
    assert_eq!(totals["consumed"], 4000, "{totals:#}");
    assert_eq!(totals["missing"], 0, "{totals:#}");
    assert_eq!(totals["foreign"], 0, "{totals:#}");
    drop(broker);
}

#[test]
fn backlog_is_drained_after_producing_rdkafka() {
    backlog_is_drained_after_producing("rdkafka");
}

#[test]
fn backlog_is_drained_after_producing_lean() {
    backlog_is_drained_after_producing("lean");
}
