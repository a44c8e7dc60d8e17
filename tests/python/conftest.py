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
CORES = 2
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


_PORT_LOW = 10000
_PORT_SPAN = 22000
# pytest-xdist workers (tests/python_clients.rs runs two) each take their own share of the
# range, so two workers' brokers never pick the same port.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_WORKERS = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
_SHARE = _PORT_SPAN // _WORKERS
_SHARE_START = (int(_WORKER[2:]) if _WORKER[2:].isdigit() else 0) % _WORKERS * _SHARE
_next_port = [(os.getpid() * 7919 + 11000) % _SHARE]


def _free_port() -> int:
    """A loopback port nothing listens on now, from 10000-31999: below Linux's ephemeral range
    (32768-60999), so a port the kernel hands out by itself (a listener on port 0, an outgoing
    connection's source port) never takes a port picked here before the broker binds it. The
    cluster configs' defaults (19000-19999) are skipped."""
    for _ in range(_PORT_SPAN):
        port = _PORT_LOW + _SHARE_START + _next_port[0] % _SHARE
        _next_port[0] += 1
        if 19000 <= port < 20000:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """A running broker process, its address, data directory and log."""

    def __init__(self, binary: Path, workdir: Path, config_text=None):
        self.binary = binary
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "broker.log"
        self.config_path = None
        if config_text is not None:
            self.config_path = workdir / "runnel.toml"
            self.config_path.write_text(config_text)
        self.proc = None
        self.port = None
        self.metrics_port = None  # HTTP /metrics, /health, /ready; set at each launch

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

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

    def _launch(self, port: int) -> bool:
        """Starts the broker on `port`; True once every core is ready and the port accepts
        connections, False if it exits, a core panics or it is not ready in time."""
        self.metrics_port = _free_port()
        cmd = [
            str(self.binary),
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(self.data_dir),
            "--cores",
            str(CORES),
            # Tests run brokers in parallel: none may claim the default metrics port 9644.
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
        ]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.port = port
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            # Every core binds the port itself (SO_REUSEPORT), so the port accepting
            # connections only shows that one core is up: wait for all of them.
            log = self._log_since(log_start)
            if b"panicked" in log:
                return False  # a core died while starting: it will never be ready
            if _port_open(port) and log.count(b"core ready") >= CORES:
                return True
            time.sleep(0.1)
        return False

    def _log_since(self, offset: int) -> bytes:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read()

    def start(self):
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            pytest.fail(
                f"runnel binary not found at {self.binary}; build it with `cargo build` "
                "or set RUNNEL_BIN"
            )
        # A port found by binding port 0 could be taken again before the broker binds it;
        # try another one if the broker does not come up.
        for _attempt in range(3):
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            if self._launch(_free_port()):
                return
            if self.proc.poll() is None or b"in use" not in self._log_since(log_start):
                break  # not a lost race for the port: retrying would hide a broker problem
        rc = self.proc.poll()
        self.stop()
        pytest.fail(
            f"runnel did not get ready (all {CORES} cores logging 'core ready' and the port "
            f"accepting connections) within {STARTUP_TIMEOUT_S}s; exit status {rc}; "
            f"log:\n{self.log_tail()}"
        )

    def restart(self):
        """Stops the broker gracefully and starts it again on the same port and data."""
        port = self.port
        self.stop()
        self.assert_clean_exit()
        if not self._launch(port):
            rc = self.proc.poll()
            self.stop()
            pytest.fail(f"runnel did not restart (exit status {rc}); log:\n{self.log_tail()}")

    def assert_clean_exit(self):
        assert self.proc.returncode == 0, (
            f"broker exited with status {self.proc.returncode} on SIGTERM; "
            f"log tail:\n{self.log_tail()}"
        )

    def stop(self):
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "broker_config(text): start the test's broker with this TOML configuration file",
    )
    # kafka-python 3.0 loads its protocol schemas with deprecated importlib.resources calls.
    config.addinivalue_line("filterwarnings", "ignore:read_text is deprecated:DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore:open_text is deprecated:DeprecationWarning")


@pytest.fixture
def broker_proc(request):
    """The test's own broker process (a Broker): fresh data directory, free port."""
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    marker = request.node.get_closest_marker("broker_config")
    workdir = Path(tempfile.mkdtemp(prefix="runnel-pytest-"))
    broker = Broker(binary, workdir, marker.args[0] if marker else None)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
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


def consume_values(conf, topic, n, timeout=30.0):
    """Values of the first `n` messages a confluent-kafka consumer with `conf` reads from
    `topic` (fewer if `timeout` seconds pass first); a consumer error fails the test."""
    from confluent_kafka import Consumer

    c = Consumer(conf)
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        assert not m.error(), m.error()
        got.append(m.value())
    c.close()
    return got
