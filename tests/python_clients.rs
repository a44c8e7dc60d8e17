//! Runs the Python client suites (confluent-kafka, kafka-python) and the kcat suite under
//! pytest against the `runnel` binary built for this test run (and the `runnel-cli` beside it,
//! built first, for the suites that run `runnel topic ...`). `.ci/run` installs the packages;
//! without them this test fails and says so.

mod common;

use std::process::Command;

#[test]
fn python_and_kcat_client_suites() {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import confluent_kafka, kafka, pytest, xdist, prometheus_client, cryptography",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "python3 with confluent-kafka, kafka-python, pytest, pytest-xdist, prometheus-client and cryptography is required: run .ci/run or pip install -r tests/python/requirements.txt");
    common::cli::client_bin();
    let status = Command::new("python3")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            // Two workers (pytest-xdist), each taking whole files: the suites mostly wait on
            // brokers and clients, so this halves their time; a file's module-scoped fixtures
            // stay in one worker.
            "-n",
            "2",
            "--dist",
            "loadfile",
            "tests/python",
        ])
        .env("RUNNEL_BIN", env!("CARGO_BIN_EXE_runnel"))
        // Cargo points LD_LIBRARY_PATH at its build outputs, among them the librdkafka that
        // rdkafka-sys built for the Rust tests (without OpenSSL or SCRAM): kcat must load the
        // system's own, as it does outside the test run.
        .env_remove("LD_LIBRARY_PATH")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running pytest");
    assert!(status.success(), "pytest client suites failed");
}
