"""The field cases' patterns as scenarios, played through every policy.

Each pattern is checked for its shape (what the host and nova do) and for
what the policies make of it on the virtual clock: the default policy leaves
nova right and leaves other hosts' and nova's own operations alone; the
anchors stay as they shipped, and the harness shows the difference.
"""

from __future__ import annotations

import argparse

import pytest
from nova.compute import power_state, vm_states

from lpar_eventd.cmd import scale as scale_cmd
from lpar_eventd.engine.handler import EngineConfig
from lpar_eventd.scale import chaos, scenarios, virtual
from lpar_eventd.scale.scenarios import OTHER_HOST, HostEvent, NovaChange

FIELD = ["reboot-wave-lost", "evacuated", "cold-migration", "shelve", "nova-op-burst",
         "delete-nvram", "field"]
POLICIES = ("legacy", "reference", "default")


@pytest.fixture(scope="module")
def played():
    """Every field scenario (40 LPARs) through every policy, once."""
    out = {}
    for name in FIELD:
        sc = scenarios.build(name, 40, 2)
        out[name] = (sc, {p: virtual.play(sc, p) for p in POLICIES})
    return out


@pytest.mark.parametrize("name", FIELD)
def test_each_pattern_is_a_registered_deterministic_scenario(name):
    a, b = scenarios.build(name, 20, 5), scenarios.build(name, 20, 5)
    assert name in scenarios.SCENARIOS and a.steps == b.steps
    assert a.steps[0].event_type == "NEW_CLIENT"
    assert [s.at for s in a.steps] == sorted(s.at for s in a.steps)


@pytest.mark.parametrize("name", FIELD)
def test_the_default_policy_leaves_nova_right_and_nothing_pending(played, name):
    _, results = played[name]
    assert results["default"].mismatches == []
    assert results["default"].extra["idle"]


def test_lost_events_are_silent_steps_followed_by_missing_events(played):
    sc, results = played["reboot-wave-lost"]
    silent = [s for s in sc.host_changes() if s.silent]
    assert silent and not any(s.silent for s in sc.host_events())
    notices = [s for s in sc.host_events() if s.event_type == "MISSING_EVENTS"]
    assert len(notices) == 3
    assert results["default"].figures["resyncs"] >= 3
    # the listings caught LPARs mid-reboot, yet no STOPPED: each was settled first
    assert results["default"].figures["lifecycle_events"] == 0


def test_an_evacuated_instance_is_left_to_its_host(played):
    sc, results = played["evacuated"]
    away = {u for u, s in sc.lpars.items() if s.host == OTHER_HOST}
    assert len(away) == 8 and all(sc.lpars[u].state == "not activated" for u in away)
    assert all(sc.lpars[u].power_state == power_state.RUNNING for u in away)
    default, reference = results["default"], results["reference"]
    assert default.figures["lifecycle_events"] == 0
    assert default.figures["skipped_other_host"] >= len(away)
    # the reference had no host check: it told this host's nova-compute, which refused
    assert reference.extra["refused_other_host"] > 0
    assert default.extra["refused_other_host"] == 0


def test_a_cold_migration_moves_the_instance_and_leaves_a_stale_lpar(played):
    sc, results = played["cold-migration"]
    moves = [s for s in sc.steps if isinstance(s, NovaChange) and s.host == OTHER_HOST]
    resized = [s for s in sc.steps if isinstance(s, NovaChange)
               and s.vm_state == vm_states.RESIZED]
    assert len(moves) == len(resized) == 20
    assert results["default"].figures["lifecycle_events"] == 0
    assert results["default"].figures["skipped_other_host"] >= 20
    assert results["reference"].extra["refused_other_host"] > 0


def test_shelve_is_nova_s_own_operation_throughout(played):
    sc, results = played["shelve"]
    tasks = {s.task_state for s in sc.steps if isinstance(s, NovaChange)}
    assert {"shelving_image_uploading", "shelving_offloading", "unshelving",
            "spawning"} <= tasks
    offloaded = [s for s in sc.steps if isinstance(s, NovaChange)
                 and s.vm_state == vm_states.SHELVED_OFFLOADED]
    assert offloaded and all(s.host == scenarios.NO_HOST for s in offloaded)
    default, reference = results["default"], results["reference"]
    assert default.figures["lifecycle_events"] == 0
    assert default.figures["skipped_task_state"] > 0
    # shelving_image_uploading is not in the reference's fixed list
    assert reference.figures["lifecycle_events"] > 0
    assert reference.extra["refused_task_state"] > 0


def test_a_nova_operation_undone_inside_one_burst_reaches_nova(played):
    """C8: each LPAR ends where it began, yet nova must hear it."""
    sc, results = played["nova-op-burst"]
    for lpar, spec in sc.lpars.items():
        final = [s.state for s in sc.host_events() if s.lpar == lpar and s.state][-1]
        assert final == spec.state
    for name in ("reference", "default"):
        assert results[name].mismatches == []
        assert results[name].figures["lifecycle_events"] == 40
    assert results["default"].figures["skipped_unchanged_state"] == 0


def test_a_delete_racing_nvram_is_a_quiet_skip(played):
    sc, results = played["delete-nvram"]
    early = [s for s in sc.host_changes() if s.event_type == "DELETE_URI" and s.silent]
    assert len(early) == 40
    default = results["default"]
    # each NVRAM settle found its LPAR gone: skipped, no store (ok or error)
    assert default.figures["skipped_lpar_gone"] == 40
    assert default.figures["nvram_stores"] == 0
    assert default.figures["lifecycle_events"] == 0


def test_the_field_mix_converges_like_the_reference(played):
    _, results = played["field"]
    assert results["default"].mismatches == results["reference"].mismatches == []
    calls = {p: results[p].figures["get_instance_calls"] for p in POLICIES}
    assert calls["default"] < calls["reference"] < calls["legacy"]


def test_compare_and_chaos_draw_from_the_field_scenarios(capsys):
    assert scale_cmd.main(["compare", "--scenario", "field", "--lpars", "30"]) == 0
    out = capsys.readouterr().out
    assert "skipped: other host" in out and "nova refused: other host" in out
    parser = argparse.ArgumentParser()
    chaos.add_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["chaos", "--scenario", "field"]).scenario == "field"
    with pytest.raises(SystemExit):
        parser.parse_args(["chaos", "--scenario", "nope"])


def test_the_world_plays_hosts_as_this_host_or_another():
    sc = scenarios.build("evacuated", 10, 1)
    world = virtual.World.of(sc, "novalink-a")
    hosts = {u: world.nova.instances[s.instance].host for u, s in sc.lpars.items()}
    assert set(hosts.values()) == {"novalink-a", OTHER_HOST}
    world.apply(NovaChange(1.0, next(iter(world.nova.instances)), None,
                           host=scenarios.NO_HOST))
    assert None in {i.host for i in world.nova.instances.values()}
    result = virtual.play(sc, "default", EngineConfig(compute_host="novalink-a"))
    assert result.mismatches == [] and result.figures["lifecycle_events"] == 0


def test_the_simulator_applies_a_silent_step_without_an_event():
    from lpar_eventd.simulator.counters import Counters
    from lpar_eventd.simulator.host import Host
    host = Host(Counters(), base_url="https://h:12443")
    sent = []
    host.broadcast = sent.append
    lpar = "0A1B2C3D-0000-4000-8000-000000000001"
    host.add_lpar(lpar, "running")
    host.apply(HostEvent(0.0, "MODIFY_URI", host.lpar_path(lpar), "PartitionState", lpar,
                         "not activated", silent=True))
    assert host.lpar(lpar).state == "not activated" and sent == []
    host.apply(HostEvent(1.0, "MODIFY_URI", host.lpar_path(lpar), "PartitionState", lpar,
                         "running"))
    assert host.lpar(lpar).state == "running" and len(sent) == 1
