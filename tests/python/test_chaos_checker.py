"""The failure test's checker (chaos.check) finds what it must: it is what makes
test_failure_rounds.py able to fail."""

import chaos


def test_a_clean_history_passes():
    acked = {(0, 0): (0, 0), (0, 1): (0, 1), (1, 0): (1, 0)}
    log = {0: [(0, "0:0"), (1, "0:1")], 1: [(0, "1:0")]}
    r = chaos.check(acked, log, [{0: 1}, {0: 2}])
    assert (r["lost"], r["duplicated"], r["reordered"], r["committed_went_back"]) == (0, 0, 0, 0)


def test_lost_duplicated_reordered_and_going_back_are_counted():
    # (0, 2) was acknowledged at offset 2 but offset 2 holds another record; (0, 3) is missing.
    acked = {(0, 0): (0, 0), (0, 1): (0, 1), (0, 2): (0, 2), (0, 3): (0, 3)}
    log = {0: [(0, "0:0"), (1, "0:1"), (2, "0:1"), (3, "1:5"), (4, "1:4")]}
    r = chaos.check(acked, log, [{0: 5, 1: 3}, {0: 4, 1: 3}, {0: 6}])
    assert r["lost"] == 2, r
    assert r["duplicated"] == 1, r  # 0:1 twice
    assert r["reordered"] == 2, r  # producer 0 (1 then 1) and producer 1 (5 then 4)
    assert r["committed_went_back"] == 1, r
    assert r["examples"]["committed_went_back"] == [(0, 5, 4)]
