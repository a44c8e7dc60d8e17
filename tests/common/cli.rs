//! Running the `runnel` command line as a separate process against a test broker, with a time
//! limit, and reading the tables it prints. `runnel topic ...` execs the `runnel-cli` binary
//! beside it (another package of the workspace, which `cargo test --test cli` does not build):
//! [`client_bin`] builds it first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use super::{bin, Broker};

/// The `runnel-cli` binary beside the `runnel` under test, which `runnel`'s client commands
/// exec. Cargo builds a package's own binaries for its integration tests, not another
/// package's, so the first call in a test process runs `cargo build --bin runnel-cli` into the
/// same target directory and profile (quick when it is up to date) so that it is never stale.
pub fn client_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build_client)
}

fn build_client() -> PathBuf {
    let runnel = Path::new(bin());
    let profile_dir = runnel.parent().expect("runnel's directory");
    let built = profile_dir.join("runnel-cli");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--bin", "runnel-cli", "--profile"])
        .arg(match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("no profile directory in {}", runnel.display()),
        });
    // <target>/<profile>/runnel, or <target>/<triple>/<profile>/runnel when cross-building; the
    // target directory's root holds CACHEDIR.TAG.
    let above = profile_dir.parent().expect("target directory");
    if above.join("CACHEDIR.TAG").is_file() {
        cargo.arg("--target-dir").arg(above);
    } else {
        let triple = above.file_name().expect("target triple");
        cargo.arg("--target").arg(triple);
        cargo
            .arg("--target-dir")
            .arg(above.parent().expect("target directory"));
    }
    let status = cargo.status().expect("running cargo to build runnel-cli");
    assert!(status.success(), "`{cargo:?}` failed");
    assert!(built.is_file(), "no runnel-cli at {}", built.display());
    built
}

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
    client_bin();
    run_in(Path::new(bin()), bootstrap, args, stdin)
}

/// Runs `runnel-cli ARGS` itself, as [`cli_in`] runs `runnel ARGS`.
pub fn client_in(bootstrap: &str, args: &[&str], stdin: &str) -> Out {
    run_in(client_bin(), bootstrap, args, stdin)
}

fn run_in(program: &Path, bootstrap: &str, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(program)
        .args(args)
        .env("RUNNEL_BROKERS", bootstrap)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
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
