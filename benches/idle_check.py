#!/usr/bin/env python3
"""Idle check: a broker left idle with one open connection for --minutes (default 35) must
still accept a new client, report healthy on /health and stop on SIGTERM.

(The waker-reference leak of issue 17 killed new connections after 27.5 minutes of idling.)

Usage: python3 benches/idle_check.py --bin target/release/runnel --minutes 35
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/runnel")
    ap.add_argument("--minutes", type=float, default=35)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="runnel-idle-")
    binary = os.path.join(work, "runnel")
    shutil.copy2(args.bin, binary)
    port, mport = free_port(), free_port()
    log = open(os.path.join(work, "broker.log"), "wb")
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data-dir",
                             os.path.join(work, "data"), "--metrics-listen",
                             f"127.0.0.1:{mport}"], stdout=log, stderr=log)
    time.sleep(3)
    held = socket.create_connection(("127.0.0.1", port))
    start = time.time()
    print(f"idle check: broker pid {proc.pid} on {port}, idle for {args.minutes} min", flush=True)
    while time.time() - start < args.minutes * 60:
        time.sleep(30)
        if proc.poll() is not None:
            print(f"FAIL: broker exited with {proc.returncode}")
            sys.exit(1)
    ok = True
    p = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "acks": "all"})
    for i in range(20):
        p.produce("after-idle", key=str(i).encode(), value=b"v")
    left = p.flush(30)
    print(f"new producer: {20 - left} of 20 acknowledged", flush=True)
    ok &= left == 0
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "idle-check"})
    lo, hi = c.get_watermark_offsets(TopicPartition("after-idle", 0), timeout=30)
    c.close()
    print(f"new consumer: high watermark {hi}", flush=True)
    ok &= hi == 20
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/health", timeout=5) as r:
        print(f"/health: {r.status}", flush=True)
        ok &= r.status == 200
    held.close()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(30)
        print(f"SIGTERM: exited with {rc}", flush=True)
        ok &= rc == 0
    except subprocess.TimeoutExpired:
        print("FAIL: no exit within 30 s of SIGTERM", flush=True)
        proc.kill()
        ok = False
    print("PASS" if ok else "FAIL", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
