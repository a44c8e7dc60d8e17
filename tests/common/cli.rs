//! Running the `runnel` command line as a separate process against a test broker, with a time
//! limit, and reading the tables it prints.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{bin, Broker};

/// The result of one CLI run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `runnel ARGS` with `stdin` against `bootstrap` (passed in `RUNNEL_BROKERS`), killing it
/// after 30 s.
pub fn cli_in(bootstrap: &str, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(bin())
        .args(args)
        .env("RUNNEL_BROKERS", bootstrap)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runnel");
    let pid = child.id() as i32;
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_secs(30)) else {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("runnel {args:?} did not finish in 30 s");
    };
    let out = out.unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `runnel ARGS` against the broker and asserts success.
pub fn ok(b: &Broker, args: &[&str]) -> String {
    ok_in(b, args, "")
}

pub fn ok_in(b: &Broker, args: &[&str], stdin: &str) -> String {
    let out = cli_in(&b.bootstrap(), args, stdin);
    assert_eq!(out.code, 0, "runnel {args:?} failed: {out:?}");
    out.stdout
}

/// Runs `runnel ARGS` against the broker and asserts it fails with `code`, naming `error`.
pub fn fails(b: &Broker, args: &[&str], code: i32, error: &str) {
    let out = cli_in(&b.bootstrap(), args, "");
    assert_eq!(out.code, code, "runnel {args:?}: {out:?}");
    assert!(out.stderr.contains(error), "runnel {args:?}: {out:?}");
}

/// The data rows of a table printed by the CLI whose first column is `first`.
pub fn rows_starting<'a>(table: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.first() == Some(&first))
        .collect()
}

/// Waits for a child process (bounded), killing it on timeout.
pub fn wait_child(c: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("child {} did not exit", c.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
