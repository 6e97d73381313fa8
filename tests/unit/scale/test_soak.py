"""The soak harness on a tiny run: its stream, its samples, its figures, its PNG."""

from __future__ import annotations

import argparse

from lpar_eventd.scale import soak
from lpar_eventd.scale.scenarios import HostEvent


def test_the_stream_keeps_the_lpar_count_level_while_uuids_churn():
    base, segments = soak.stream(lpars=60, seed=3, seconds=1200.0)
    live = set(base.lpars)
    seen = set(live)
    last_at = -1.0
    segs = 0
    for steps in segments:
        segs += 1
        assert steps and steps[0].at >= last_at      # time moves forward
        last_at = steps[-1].at
        for step in steps:
            if isinstance(step, HostEvent) and step.lpar:
                if step.event_type == "ADD_URI":
                    live.add(step.lpar)
                    seen.add(step.lpar)
                elif step.event_type == "DELETE_URI":
                    live.discard(step.lpar)
    assert segs >= 3 and 1200.0 <= last_at <= 1200.0 + soak.SEGMENT_SECONDS + 5
    assert len(seen) > len(base.lpars) + 15           # deploys and deletes churn uuids
    assert abs(len(live) - 60) <= 20                  # ... the count stays level


def test_engine_soak_samples_every_simulated_minute_and_converges():
    opts = soak.SoakOptions(lpars=40, minutes=8, warmup=2, sample_every=60.0,
                            e2e_minutes=0)
    result = soak.engine_soak(opts)
    assert [s.at for s in result.samples][:9] == [60.0 * i for i in range(9)]
    assert all(s.traced > 0 and s.rss > 0 for s in result.samples[1:])
    assert result.mismatches == 0
    assert result.events > 500 and result.emitted > 0
    end = result.samples[-1].sizes
    assert end["attempts"] == 0 and end["resync_slices"] == 0
    assert max(end["evidence"], end["instance_uuid"]) <= end["lpars"] + 5
    assert end["events"] == 0


def test_growth_is_measured_from_the_end_of_warm_up():
    samples = [soak.Sample(60.0 * i, traced=100 if i < 3 else 200 + i) for i in range(10)]
    g = soak.growth(samples, warmup_s=180.0, attr="traced", tail=3)
    assert g["start"] == 203 and g["end"] == 208 and g["max"] == 209
    assert round(g["growth_pct"], 2) == round(100 * 5 / 203, 2)


def test_plot_writes_a_png(tmp_path):
    opts = soak.SoakOptions(lpars=20, minutes=3, warmup=1, e2e_minutes=0)
    result = soak.engine_soak(opts)
    path = tmp_path / "soak.png"
    soak.plot(path, result, None, 60.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_add_parser_wires_a_soak_subcommand():
    parser = argparse.ArgumentParser()
    soak.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["soak", "--lpars", "10", "--minutes", "2", "--warmup", "3"])
    assert args.func is soak.run and args.lpars == 10
    assert soak.run(args) == 2      # warm-up longer than the run: refused
