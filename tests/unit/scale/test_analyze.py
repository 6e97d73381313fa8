"""analyze: a recorded feed through every policy, on a virtual clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lpar_eventd.cmd import scale as scale_cmd
from lpar_eventd.scale import analyze, scenarios
from lpar_eventd.scale.scenarios import HostEvent
from lpar_eventd.simulator.replay import write_event

BASE = "https://novalink.example:12443"
START = 1_700_000_000.0


def _record(path: Path, scenario: scenarios.Scenario, with_state: bool = True) -> Path:
    """The scenario's host events as a recorder would have written them."""
    with open(path, "w", encoding="utf-8") as fh:
        for step in scenario.steps:
            if isinstance(step, HostEvent):
                write_event(fh, step.event_type, BASE + step.path if step.path else "",
                            step.detail, step.state if with_state else None,
                            timestamp=START + step.at)
    return path


@pytest.fixture(scope="module")
def scenario() -> scenarios.Scenario:
    return scenarios.build("reboot-wave", 20, 3)


@pytest.fixture
def feed(tmp_path: Path, scenario: scenarios.Scenario) -> Path:
    return _record(tmp_path / "feed.jsonl", scenario)


class TestWorldFromFeed:
    def test_every_lpar_of_the_feed_becomes_a_known_instance(self, feed, scenario):
        from lpar_eventd.simulator.replay import read_jsonl
        sc = analyze.scenario_from_feed(read_jsonl(feed))
        touched = {s.lpar for s in scenario.host_events() if s.lpar}
        assert set(sc.lpars) == touched
        assert all(spec.instance == u.lower() for u, spec in sc.lpars.items())
        assert sc.ms_uuid == scenario.ms_uuid

    def test_starting_state_is_the_first_recorded_one_else_the_default(self, tmp_path):
        lpar = "0A" + "1" * 6 + "-1111-4111-8111-111111111111"
        path = tmp_path / "f.jsonl"
        uri = f"{BASE}/rest/api/uom/ManagedSystem/{'B' * 8}-BBBB-4BBB-8BBB-{'B' * 12}" \
              f"/LogicalPartition/{lpar}"
        with open(path, "w", encoding="utf-8") as fh:
            write_event(fh, "MODIFY_URI", uri, "ReferenceCode", None, START)
            write_event(fh, "MODIFY_URI", uri, "PartitionState", "not activated",
                        START + 1)
        from lpar_eventd.simulator.replay import read_jsonl
        sc = analyze.scenario_from_feed(read_jsonl(path), default_state="running")
        assert sc.lpars[lpar].state == "not activated"
        sc = analyze.scenario_from_feed(read_jsonl(path), unmanaged={lpar.lower()})
        assert sc.lpars[lpar].instance is None

    def test_unmanaged_lpars_cost_instance_not_found(self, feed, scenario):
        lpar = next(iter(scenario.lpars))
        _, results, _ = analyze.analyze(feed, unmanaged={lpar})
        default = next(r for r in results if r.policy == "default")
        assert default.figures["skipped_instance_not_found"] >= 1


class TestCosts:
    def test_same_order_as_on_the_scenario_itself(self, feed):
        _, results, bound = analyze.analyze(feed)
        calls = {r.policy: r.figures["get_instance_calls"] for r in results}
        assert calls["default"] <= calls["reference"] <= calls["legacy"]
        assert calls["default"] <= 1.05 * bound + 2
        for r in results:
            assert r.mismatches == [], r.policy

    def test_a_feed_without_states_still_shows_the_redundancy(self, tmp_path, scenario):
        path = _record(tmp_path / "nostate.jsonl", scenario, with_state=False)
        _, results, _ = analyze.analyze(path)
        calls = {r.policy: r.figures["get_instance_calls"] for r in results}
        assert calls["default"] < calls["legacy"]
        assert {r.figures["events_received"] for r in results} == {
            len(scenario.host_events())}


class TestCommand:
    def test_prints_the_table_and_writes_json(self, feed, tmp_path, capsys):
        out_json = tmp_path / "out.json"
        assert scale_cmd.main(["analyze", str(feed), "--json", str(out_json)]) == 0
        out = capsys.readouterr().out
        assert "get_instance calls" in out and "legacy" in out and "assumed:" in out
        data = json.loads(out_json.read_text())
        assert set(data["policies"]) == {"legacy", "reference", "default"}
        assert data["mode"] == "analyze"

    def test_an_unreadable_file_is_one_line_and_status_2(self, tmp_path, capsys):
        bad = tmp_path / "bad.jsonl"
        bad.write_text("{not json\n")
        assert scale_cmd.main(["analyze", str(bad)]) == 2
        assert "line 1" in capsys.readouterr().err
        assert scale_cmd.main(["analyze", str(tmp_path / "missing.jsonl")]) == 2
