"""Fixtures for real-client integration tests against the Runnel broker.

The broker binary is taken from $RUNNEL_BIN, defaulting to
<repo>/target/debug/runnel.  Every test gets its own broker on a free
loopback port with a fresh temporary data directory, so a broker crash or
hang in one test cannot spill into the next.  The broker's stdout/stderr
go to broker.log next to the data directory; its tail is attached to the
report of a failed test.  Set RUNNEL_KEEP_DATA=1 to keep the directories.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "runnel"
STARTUP_TIMEOUT_S = 20.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    def __init__(self, proc, port, data_dir, log_path):
        self.proc = proc
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.data_dir = data_dir
        self.log_path = log_path

    def log_tail(self, n=40) -> str:
        """Panic/error lines of the broker log, then its last n lines."""
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError as e:
            return f"<cannot read broker log: {e}>"
        lines = _ANSI.sub("", text).splitlines()
        notable = []
        for i, line in enumerate(lines[:-n]):
            if "panicked" in line:
                notable.extend(lines[i : i + 2])  # the panic message follows
            elif " ERROR " in line or " WARN " in line:
                notable.append(line)
        head = notable[:20] + (["..."] if notable else [])
        return "\n".join(head + lines[-n:])

    def assert_alive(self):
        rc = self.proc.poll()
        assert rc is None, (
            f"broker exited with status {rc}; log tail:\n{self.log_tail()}"
        )


def _start_broker(binary: Path, workdir: Path) -> Broker:
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"runnel binary not found at {binary}; build it with `cargo build` "
            "or set RUNNEL_BIN"
        )
    data_dir = workdir / "data"
    log_path = workdir / "broker.log"
    last_error = None
    # A port picked by binding 0 can in principle be taken before the broker
    # binds it; retry a couple of times with a new port in that case.
    for _attempt in range(3):
        port = _free_port()
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [
                str(binary),
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(data_dir),
                "--cores",
                "2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _port_open(port):
                return Broker(proc, port, data_dir, log_path)
            time.sleep(0.1)
        if proc.poll() is None:
            last_error = f"port {port} not accepting connections after {STARTUP_TIMEOUT_S}s"
            _stop(proc)
            break
        last_error = f"broker exited with status {proc.returncode}"
    tail = Path(log_path).read_text(errors="replace")[-4000:]
    pytest.fail(f"could not start runnel: {last_error}; log:\n{tail}")


def _stop(proc: subprocess.Popen):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def broker_proc():
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    workdir = Path(tempfile.mkdtemp(prefix="runnel-pytest-"))
    broker = _start_broker(binary, workdir)
    try:
        yield broker
    finally:
        _stop(broker.proc)
        if os.environ.get("RUNNEL_KEEP_DATA"):
            print(f"\nrunnel data and log kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def broker(broker_proc):
    """Bootstrap address "127.0.0.1:PORT" of a running broker."""
    broker_proc.assert_alive()
    yield broker_proc.bootstrap
    # A broker that died during the test is a failure even if the test's
    # own assertions happened to pass.
    broker_proc.assert_alive()


@pytest.fixture
def topic_name(request):
    """A topic name unique to this test."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:80]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        broker = item.funcargs.get("broker_proc") if hasattr(item, "funcargs") else None
        if broker is not None:
            rep.sections.append(("runnel broker log (tail)", broker.log_tail()))
