"""The e2e scale harness on a small storm: real simulator, daemons, sqlite nova.

The full runs (500, 2000 LPARs, 10 hosts) are benchmarks; this checks the
invariants the benchmark's claims rest on, at a speed a CI box can take.
"""

from __future__ import annotations

import pytest

from lpar_eventd.scale import e2e

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return e2e.run(e2e.E2EOptions(scenario="mixed", lpars=50, speed=20.0, burst=2000,
                                  workdir=tmp_path_factory.mktemp("e2e")))


def _by(report):
    return {r.result.policy: r for r in report.runs}


def test_nova_ends_in_agreement_with_powervm_under_default(small_run):
    runs = _by(small_run)
    assert runs["default"].result.mismatches == []
    assert runs["default"].nova_writes_lost == 0


def test_reference_is_wrong_only_where_its_known_weaknesses_bite(small_run):
    """reference neither resyncs after CACHE_CLEARED nor retries a failed
    settle: on a busy box it may lose events; with none lost it must agree.

    (This once failed with nothing counted as lost: a settle the anchors
    dropped on a failed lookup was not counted in settle_errors_total, and
    sqlite's "database is locked" made such failures common. Both fixed.)"""
    ref = _by(small_run)["reference"]
    lost = ref.feed_dropped + ref.result.figures["settle_errors"]
    assert ref.nova_writes_lost == 0
    if not lost:
        assert ref.result.mismatches == []


def test_default_asks_nova_least(small_run):
    calls = {p: r.result.figures["get_instance_calls"] for p, r in _by(small_run).items()}
    assert calls["default"] <= calls["reference"] <= calls["legacy"]


def test_every_event_was_either_read_or_lost_at_the_cache_clear(small_run):
    for name, run in _by(small_run).items():
        seen = run.result.figures["events_received"] + run.feed_dropped
        # the scenario's opening NEW_CLIENT step is the daemon's own logon event
        assert seen >= small_run.events - 1, name


def test_figures_are_complete_for_the_table_json_and_plot(small_run, tmp_path):
    from lpar_eventd.scale.plot import write_png
    default = _by(small_run)["default"]
    assert default.series and default.peak_rss_bytes > 0 and default.cpu_seconds > 0
    assert default.settle_wall and default.burst_rate
    text = e2e.format_table(small_run)
    assert "targets" in text and "saturation burst" in text
    data = e2e.to_json(small_run)
    assert data["policies"]["default"]["series"]
    write_png(small_run, tmp_path / "e2e.png")
    assert (tmp_path / "e2e.png").stat().st_size > 10_000
