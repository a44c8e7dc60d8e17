"""The failure test (issue 21's acceptance; harness and checker in chaos.py), a few rounds in
CI: three brokers, idempotent acks=all producers and a consumer group at steady load, a
partition leader killed with SIGKILL and restarted, a broker paused past the session timeout,
a broker restarted; then everything is read back. No acknowledged record may be lost,
duplicated or reordered, no committed offset may go back, and the clients may see only
retriable errors. `RUNNEL_FAILURE_ROUNDS` sets the number of rounds (default 3: one of each).

Replication factor 3 with `min.insync.replicas=2` (issue 21's setting): a killed leader's
partitions move to another in-sync replica once the controller fences it (the failover time
measured: from the kill to the first acknowledgement on a partition it led). Replication
factor 1 runs too: there a killed broker's partitions wait for its restart, which proves
durability across kill -9 without replication."""

import json
import os
from pathlib import Path

import pytest

import chaos
from conftest import DEFAULT_BIN

ROUNDS = int(os.environ.get("RUNNEL_FAILURE_ROUNDS", "3"))


@pytest.mark.parametrize("rf,min_isr", [(3, 2), (1, 1)])
def test_no_acknowledged_record_is_lost_duplicated_or_reordered(rf, min_isr):
    binary = Path(os.environ.get("RUNNEL_BIN", str(DEFAULT_BIN)))
    report = chaos.run(binary, ROUNDS, rf=rf, min_isr=min_isr)
    text = json.dumps(report, indent=2)
    print(text)
    assert report["acked"] > 1000, text
    assert report["consumed"] > 0 and report["commits"] > 0, text
    for what in ("lost", "duplicated", "reordered", "committed_went_back", "fatal_count"):
        assert report[what] == 0, f"{what}: {text}"
    kills = report["failover_s"]
    assert kills["kills"] >= 1 and kills["unmeasured"] == 0, text
