//! The broker starts as an unprivileged user under the default 8 MiB RLIMIT_MEMLOCK, sizes
//! glommio's io_memory to fit, and serves clients.

use crate::common;

use std::process::{Command, Stdio};

use common::client::{self, Msg};
use common::{bin, free_port};
use rdkafka::Offset;

const USER: &str = "runnel-test";

#[test]
fn starts_as_unprivileged_user_with_8mib_memlock() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: run directly under the limit below.
        eprintln!("not root: testing as the current user");
    } else if Command::new("id")
        .arg(USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        let st = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status()
            .expect("useradd");
        assert!(st.success(), "creating user {USER}");
    }
    let tmp = tempfile::Builder::new()
        .prefix("runnel-unpriv")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = tmp.path().join("broker.log");
    // Let the unprivileged user reach the binary and own the data directory.
    let _ = Command::new("chmod")
        .args(["755", tmp.path().to_str().unwrap()])
        .status();
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        let st = Command::new("chown")
            .args(["-R", USER, tmp.path().to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let port = free_port();
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            USER,
            "--regid",
            USER,
            "--clear-groups",
            "--inh-caps=-all",
            "prlimit",
            "--memlock=8388608:8388608",
            bin(),
        ]);
        c
    } else {
        let mut c = Command::new("prlimit");
        c.args(["--memlock=8388608:8388608", bin()]);
        c
    };
    cmd.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        data.to_str().unwrap(),
        "--cores",
        "2",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let logf = std::fs::File::create(&log).unwrap();
    let mut child = cmd
        .stdout(Stdio::from(logf.try_clone().unwrap()))
        .stderr(Stdio::from(logf))
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "broker exited ({st}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no listener: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let bs = format!("127.0.0.1:{port}");
    let msgs: Vec<Msg> = (0..2000)
        .map(|i| Msg {
            partition: Some(0),
            value: Some(format!("u{i}").repeat(50).into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "unpriv", &msgs, &[("acks", "all")]);
    let got = client::consume(&bs, "unpriv", &[0], Offset::Beginning, 2000, &[]);
    assert_eq!(got.last().unwrap().value, msgs[1999].value);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("memlock=8388608 bytes"),
        "io_memory sized from the limit: {text}"
    );
}
