"""nova-compute's reactions as rules: each of nova's cases, read from its code.

The functional test tests/functional/testbed/test_nova_rules.py holds these
rules against nova's own ComputeManager on a grid of cases; here each rule
reads as the scenario it is about.
"""

from nova.compute import power_state, task_states, vm_states

from lpar_eventd.scale.nova_rules import NovaInstance, NovaRules, nova_power_state


class Host:
    """LPAR states by instance, and the power-offs nova makes."""

    def __init__(self, **states: str):
        self.states = dict(states)
        self.powered_off: list[str] = []

    def state(self, uuid: str) -> int:
        return nova_power_state(self.states.get(uuid))

    def power_off(self, uuid: str) -> None:
        self.powered_off.append(uuid)
        self.states[uuid] = "not activated"


def rules(host: Host, *instances: NovaInstance) -> NovaRules:
    nova = NovaRules("compute", host.state, host.power_off)
    for inst in instances:
        nova.add(inst)
    return nova


def test_a_stopped_event_while_the_lpar_runs_is_dropped_as_stale():
    host = Host(a="running")
    nova = rules(host, NovaInstance("a"))
    reaction = nova.lifecycle("a", "stopped")
    assert reaction.outcome == "stale" and reaction.action is None
    assert (nova.get("a").vm_state, nova.get("a").power_state) == (
        vm_states.ACTIVE, power_state.RUNNING)
    assert host.powered_off == []


def test_a_guest_that_halted_is_stopped_by_nova():
    host = Host(a="not activated")
    nova = rules(host, NovaInstance("a"))
    reaction = nova.lifecycle("a", "stopped")
    assert (reaction.outcome, reaction.action, reaction.power_state_updated) == (
        "synced", "stop", True)
    assert host.powered_off == ["a"]
    assert nova.get("a").vm_state == vm_states.STOPPED


def test_an_lpar_started_outside_nova_is_force_stopped():
    host = Host(a="running")
    nova = rules(host, NovaInstance("a", vm_states.STOPPED, power_state.SHUTDOWN))
    reaction = nova.lifecycle("a", "started")
    assert reaction.action == "force_stop"
    assert host.states["a"] == "not activated"
    assert (nova.get("a").vm_state, nova.get("a").power_state) == (
        vm_states.STOPPED, power_state.SHUTDOWN)


def test_a_crash_is_not_what_a_stopped_event_says_so_only_the_periodic_sync_stops_it():
    host = Host(a="error")
    nova = rules(host, NovaInstance("a"))
    assert nova.lifecycle("a", "stopped").outcome == "stale"
    (reaction,) = nova.periodic()
    assert reaction.action == "stop" and host.powered_off == ["a"]


def test_nova_leaves_an_instance_alone_while_a_task_runs_or_another_host_has_it():
    host = Host(a="not activated", b="not activated")
    nova = rules(host, NovaInstance("a", task_state=task_states.REBOOTING),
                 NovaInstance("b", host="elsewhere"))
    assert nova.lifecycle("a", "stopped").outcome == "task_state"
    assert nova.lifecycle("b", "stopped").outcome == "other_host"
    assert nova.periodic()[0].outcome == "task_state"   # b is not this host's
    assert host.powered_off == []


def test_the_stop_api_refuses_an_instance_never_launched():
    host = Host(a="not activated")
    nova = rules(host, NovaInstance("a", launched=False))
    reaction = nova.lifecycle("a", "stopped")
    assert reaction.action == "stop" and reaction.refused
    assert host.powered_off == [] and nova.actions() == []


def test_a_suspended_active_instance_is_stopped_and_states_nova_ignores():
    host = Host(a="suspended", b="not activated", c="running")
    nova = rules(host, NovaInstance("a"),
                 NovaInstance("b", vm_states.BUILDING, power_state.NOSTATE),
                 NovaInstance("c", vm_states.SUSPENDED, power_state.SUSPENDED))
    assert nova.lifecycle("a", "suspended").action == "stop"
    assert nova.lifecycle("b", "stopped").action is None
    assert nova.lifecycle("c", "started").action is None
    assert nova.get("c").power_state == power_state.RUNNING


def test_an_unknown_instance_is_not_found():
    assert rules(Host()).lifecycle("zz", "started").outcome == "not_found"


def test_partition_states_map_as_a_powervm_driver_reports_them():
    assert nova_power_state("shutting down") == power_state.RUNNING
    assert nova_power_state("Not Activated") == power_state.SHUTDOWN
    assert nova_power_state("resuming") == power_state.SUSPENDED
    assert nova_power_state("error") == power_state.CRASHED
    assert nova_power_state(None) == nova_power_state("hardware discovery") == \
        power_state.NOSTATE
