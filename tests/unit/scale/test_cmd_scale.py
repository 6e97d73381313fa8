"""lpar-eventd-scale's wiring, and the e2e harness's pure helpers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lpar_eventd.cmd import scale as scale_cmd
from lpar_eventd.scale import e2e, scenarios
from lpar_eventd.testbed import procs


class TestCommandLine:
    def test_plot_and_hosts_need_the_e2e_mode(self, capsys):
        assert scale_cmd.main(["compare", "--lpars", "10", "--plot", "x.png"]) == 2
        assert "--mode e2e" in capsys.readouterr().err
        assert scale_cmd.main(["compare", "--lpars", "10", "--hosts", "2"]) == 2

    def test_e2e_refuses_unknown_names_before_starting_anything(self, capsys):
        assert scale_cmd.main(["compare", "--mode", "e2e", "--scenario", "nope"]) == 2
        assert scale_cmd.main(["compare", "--mode", "e2e", "--policies", "fast"]) == 2
        assert scale_cmd.main(["compare", "--mode", "e2e", "--daemon-option", "x"]) == 2
        err = capsys.readouterr().err
        assert "unknown scenario" in err and "unknown policies" in err

    def test_speed_must_be_positive(self):
        with pytest.raises(SystemExit):
            scale_cmd.main(["compare", "--mode", "e2e", "--speed", "0"])

    def test_bench_sim_gets_its_own_arguments(self, monkeypatch):
        seen = []
        import lpar_eventd.scale.bench_sim as bench
        monkeypatch.setattr(bench, "run", lambda argv: seen.append(argv) or 0)
        assert scale_cmd.main(["bench-sim", "--events", "10"]) == 0
        assert seen == [["--events", "10"]]

    @pytest.mark.skipif(importlib.util.find_spec("lpar_eventd.scale.promreport") is None,
                        reason="promreport not installed")
    def test_report_is_registered_when_its_module_exists(self, capsys):
        with pytest.raises(SystemExit):
            scale_cmd.main(["report", "--help"])
        assert "--prometheus" in capsys.readouterr().out


class TestSettleDelays:
    """From the burst's last PartitionState event, as the simulator sent it."""

    def _scenario(self) -> tuple[scenarios.Scenario, str]:
        sc = scenarios.build("reboot-wave", 2, 1)
        lpar = next(s.lpar for s in sc.host_events()
                    if s.lpar and "PartitionState" in s.detail)
        return sc, lpar

    def test_measured_from_the_last_event_before_the_emit(self):
        sc, lpar = self._scenario()
        times = [s.at for s in sc.host_events()
                 if s.lpar == lpar and "PartitionState" in s.detail]
        speed, start = 10.0, 1000.0
        emit = start + times[-1] / speed + 1.5
        delays, unmatched = e2e.settle_delays(sc, start, speed, [(emit, lpar)])
        assert unmatched == 0
        assert delays == [pytest.approx(1.5)]

    def test_a_retried_emit_counts_once_at_its_last_line(self):
        sc, lpar = self._scenario()
        last = max(s.at for s in sc.host_events()
                   if s.lpar == lpar and "PartitionState" in s.detail)
        t = 1000.0 + last / 10.0
        delays, _ = e2e.settle_delays(sc, 1000.0, 10.0, [(t + 1.5, lpar), (t + 1.7, lpar)])
        assert delays == [pytest.approx(1.7)]

    def test_an_emit_before_any_event_of_its_lpar_is_unmatched(self):
        sc, lpar = self._scenario()
        delays, unmatched = e2e.settle_delays(sc, 1000.0, 10.0, [(999.0, lpar)])
        assert (delays, unmatched) == ([], 1)

    def test_log_lines_are_parsed_with_their_millisecond_timestamps(self, tmp_path):
        log = tmp_path / "d.log"
        log.write_text(
            "2026-01-02 03:04:05.250 42 INFO lpar_eventd.lifecycle [-] lifecycle "
            "transition=started instance=0e6c-x lpar=0e6c-x state=running delay=1.0s\n"
            "2026-01-02 03:04:05.300 42 INFO other [-] something else\n")
        [(when, lpar)] = e2e.parse_lifecycle_log(log)
        assert lpar == "0E6C-X"
        assert when % 1 == pytest.approx(0.25)
        assert e2e.parse_lifecycle_log(tmp_path / "missing.log") == []


class TestConfigOverrides:
    def test_options_go_into_their_section_once(self, tmp_path: Path):
        conf = tmp_path / "c.conf"
        conf.write_text("[nova]\nlookup = database\nmax_concurrent_lookups = 4\n"
                        "[sink]\ndriver = log\n")
        procs.override_options(conf, {"nova.max_concurrent_lookups": "1",
                                      "cache.instance_ttl_seconds": "5"})
        text = conf.read_text()
        assert text.count("[nova]") == 1
        assert "max_concurrent_lookups = 1" in text and "= 4" not in text
        assert "[cache]\ninstance_ttl_seconds = 5" in text

    def test_a_name_without_group_is_refused(self, tmp_path: Path):
        conf = tmp_path / "c.conf"
        conf.write_text("[nova]\n")
        with pytest.raises(ValueError, match="GROUP.OPTION"):
            procs.override_options(conf, {"lookup": "x"})
