"""The virtual-clock comparison: invariants the benchmark's figures rest on."""

import pytest

from lpar_eventd.cmd import scale as scale_cmd
from lpar_eventd.scale import scenarios, virtual


@pytest.fixture(scope="module")
def mixed_results():
    sc = scenarios.build("mixed", 120, 7)
    return sc, {p: virtual.play(sc, p) for p in ("legacy", "reference", "default")}


def test_no_policy_leaves_nova_wrong_on_the_mixed_scenario(mixed_results):
    _, results = mixed_results
    for name, result in results.items():
        assert result.mismatches == [], name
        assert result.extra["pending_after"] == 0, name


def test_default_asks_nova_least_and_close_to_the_lower_bound(mixed_results):
    sc, r = mixed_results
    calls = {p: r[p].figures["get_instance_calls"] for p in r}
    assert calls["default"] <= calls["reference"] <= calls["legacy"]
    assert calls["default"] <= 1.05 * virtual.lower_bound(sc) + 2
    assert calls["legacy"] >= 5 * calls["default"]


def test_nova_ends_in_the_same_state_as_with_reference(mixed_results):
    _, r = mixed_results
    assert r["default"].extra["final_power_states"] == r["reference"].extra["final_power_states"]


def test_the_same_lifecycle_outcome_as_reference(mixed_results):
    _, r = mixed_results
    emitted = {p: r[p].figures["lifecycle_events"] for p in r}
    assert emitted["default"] <= emitted["reference"] + 2


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_scenario_converges_under_the_default_policy(name):
    sc = scenarios.build(name, 40, 3)
    result = virtual.play(sc, "default")
    assert result.mismatches == []
    assert result.extra["idle"]


def test_scenarios_are_deterministic_per_seed():
    a = scenarios.build("mixed", 50, 5)
    b = scenarios.build("mixed", 50, 5)
    assert a.steps == b.steps and list(a.lpars) == list(b.lpars)


def test_unknown_scenario_is_a_clear_error(capsys):
    assert scale_cmd.main(["compare", "--scenario", "nope", "--lpars", "5"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err


def test_compare_prints_a_table_and_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert scale_cmd.main(["compare", "--lpars", "30", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "get_instance calls" in text and "lower bound" in text
    assert '"policies"' in out.read_text()


def _lpar_scenario(lpar: str, instance: str | None,
                   bursts: list[list[tuple[float, str]]]) -> scenarios.Scenario:
    """A running LPAR and its PartitionState events, 100 s between bursts."""
    spec = scenarios.LparSpec(lpar, "vm", "running", instance)
    steps = [scenarios.HostEvent(10.0 + 100.0 * n + offset, "MODIFY_URI", f"/lpar/{lpar}",
                                 "PartitionState", lpar, state)
             for n, burst in enumerate(bursts) for offset, state in burst]
    return scenarios.Scenario("bursts", 1, "MS", {lpar: spec}, [], steps)


REBOOT = [(0.0, "shutting down"), (4.0, "not activated"), (6.0, "starting"), (9.0, "running")]
SUB_STATE = [(0.0, "running"), (3.0, "running")]
LPAR = "0A1B2C3D-0000-4000-8000-000000000001"


def test_a_burst_back_to_the_same_state_needs_a_read_and_a_nova_call():
    """Nova could have acted while the LPAR was away (a nova start, then a
    guest halt): the honest bound counts every burst in which it moved."""
    sc = _lpar_scenario(LPAR, LPAR.lower(), [REBOOT, REBOOT])
    assert virtual.lower_bound(sc) == 2
    assert virtual.read_lower_bound(sc) == 2


def test_a_burst_of_sub_state_events_needs_a_read_but_no_nova_call():
    sc = _lpar_scenario(LPAR, LPAR.lower(), [SUB_STATE, REBOOT, SUB_STATE])
    assert virtual.lower_bound(sc) == 1
    assert virtual.read_lower_bound(sc) == 3


def test_lost_changes_count_for_the_burst_they_fall_in():
    sc = _lpar_scenario(LPAR, LPAR.lower(), [SUB_STATE])
    # the LPAR went down and up between the two sub-state events, unseen
    sc.steps[1:1] = [scenarios.HostEvent(11.0, "MODIFY_URI", "", "PartitionState", LPAR,
                                         state, silent=True)
                     for state in ("not activated", "running")]
    assert virtual.lower_bound(sc) == 1


def test_lpars_nova_does_not_manage_need_no_read():
    assert virtual.read_lower_bound(_lpar_scenario(LPAR, None, [REBOOT])) == 0
