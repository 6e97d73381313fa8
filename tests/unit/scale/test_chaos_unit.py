"""The chaos campaign's pieces that need no servers: fault plans, the
convergence check, the figures, the nova database faults, the CLI."""

from __future__ import annotations

import argparse
import random
import sqlite3
import threading
import time

import pytest

from lpar_eventd.scale import chaos, faults


def test_a_plan_is_reproducible_sorted_and_bounded():
    a = faults.plan_faults(random.Random(7), storm_seconds=6.0, count=6, max_restarts=1)
    b = faults.plan_faults(random.Random(7), storm_seconds=6.0, count=6, max_restarts=1)
    assert a == b
    assert [f.at for f in a] == sorted(f.at for f in a)
    assert all(0.3 <= f.at <= 5.4 for f in a)
    assert all(f.kind in faults.KINDS for f in a)


def test_plans_draw_every_kind_and_cap_restarts():
    rng = random.Random(1)
    kinds = set()
    for _ in range(200):
        plan = faults.plan_faults(rng, 6.0, 6, max_restarts=1)
        assert sum(f.kind in faults.RESTART_KINDS for f in plan) <= 1
        kinds.update(f.kind for f in plan)
        for f in plan:
            if f.kind in ("novalink_5xx", "drop"):
                assert 1 <= f.params["count"] <= 3
            if "seconds" in f.params:
                assert 0.3 <= f.params["seconds"] <= 2.0
    assert kinds == set(faults.KINDS)


def test_summary_counts_faults_convergence_and_leaks():
    opts = chaos.ChaosOptions(runs=3, speed=20.0)
    c = chaos.Campaign(opts, [
        chaos.RunOutcome(0, 1, True, 0.5, [{"kind": "drop"}, {"kind": "sigkill"}],
                         pending=0, longest_running=0),
        chaos.RunOutcome(1, 2, True, 2.0, [{"kind": "drop"}], pending=0,
                         longest_running=0),
        chaos.RunOutcome(2, 3, False, None, [{"kind": "stall"}], ["X: wrong"],
                         pending=2, longest_running=0),
    ])
    s = c.summary()
    assert (s["runs"], s["converged"]) == (3, 2)
    assert s["faults_by_kind"]["drop"] == 2 and s["faults_by_kind"]["sink_error"] == 0
    assert s["converge_seconds_max"] == 2.0 and s["converge_scenario_seconds_max"] == 40.0
    assert s["pending_leaks"] == 1 and [d["index"] for d in s["diverged"]] == [2]
    text = chaos.report(c)
    assert "runs converged: 2/3 (66.7%)" in text and "DIVERGED run 2" in text


def test_unavailable_swaps_the_link_away_and_back(tmp_path):
    real = tmp_path / "nova.sqlite"
    sqlite3.connect(real).close()
    db = faults.NovaDbFaults(real, tmp_path / "link.sqlite")
    seen = []
    t = threading.Thread(target=db.unavailable, args=(0.3,))
    t.start()
    time.sleep(0.1)
    seen.append(db.link.resolve())
    t.join()
    assert seen[0] != real.resolve() and not seen[0].exists()
    assert db.link.resolve() == real.resolve()


@pytest.mark.parametrize(("mode", "reads"), [("EXCLUSIVE", False), ("IMMEDIATE", True)])
def test_locks_block_writers_and_exclusive_blocks_readers(tmp_path, mode, reads):
    real = tmp_path / "nova.sqlite"
    with sqlite3.connect(real) as conn:
        conn.execute("CREATE TABLE t (x)")
    db = faults.NovaDbFaults(real, tmp_path / "link.sqlite")
    t = threading.Thread(target=db.locked, args=(0.5, mode))
    t.start()
    time.sleep(0.15)
    try:
        other = sqlite3.connect(db.link, timeout=0.05, isolation_level=None)
        try:
            other.execute("SELECT count(*) FROM t").fetchone()
            read_ok = True
        except sqlite3.OperationalError:
            read_ok = False
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO t VALUES (1)")
        other.close()
    finally:
        t.join()
    assert read_ok is reads


def test_cli_refuses_unknown_kinds_and_wires_a_subcommand(capsys):
    parser = argparse.ArgumentParser()
    chaos.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chaos", "--runs", "1", "--kinds", "drop,meteor"])
    assert args.func is chaos.run
    assert chaos.run(args) == 2
    assert "meteor" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["chaos", "--runs", "0"])
