"""nova's own reactions to lifecycle events, through our driver and the simulator.

nova-compute here is nova's ComputeManager in its own process, reading each
LPAR's state through pypowervm from the simulator (``get_info``) and
powering LPARs off through it (``power_off``); no engine runs, the events
are handed to the driver's ``emit_event`` one by one, as a driver's event
handler would. What nova did is read from nova itself: its log records and
the driver's power calls (the witness), its database, the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from nova.compute import power_state, vm_states

from lpar_eventd.scale.scenarios import HostBuilder
from lpar_eventd.testbed.hoststack import HostOptions, HostStack


@dataclass
class Host:
    """The host stack and its LPARs (and their instances) by role."""

    stack: HostStack
    lpars: dict[str, str]
    instances: dict[str, str]

    def calls_for(self, instance: str) -> list[dict]:
        return [c for c in self.stack.witness()["calls"] if c["instance"] == instance]


@pytest.fixture(scope="module")
def host(stack_template, tmp_path_factory):
    """One host: R runs, H runs (its guest will halt), S is off and nova says
    stopped (it will be started outside nova)."""
    b = HostBuilder.for_host("A168A3EC-BB3E-3EAD-86C1-7D98B9D50239", 3, "reactions")
    lpars = {"R": b.lpar("running"), "H": b.lpar("running"), "S": b.lpar("not activated")}
    scenario = b.finish()
    stack = HostStack(scenario, tmp_path_factory.mktemp("reactions"), stack_template,
                      HostOptions(mode="none", speed=50))
    stack.start().healthy()
    yield Host(stack, lpars, {k: scenario.managed()[v] for k, v in lpars.items()})
    stack.stop()


def test_a_false_stopped_is_dropped_as_stale_while_the_lpar_runs(host):
    instance = host.instances["R"]
    answer = host.stack.compute.emit(instance, "stopped")
    assert answer["outcome"] == "stale", answer
    assert host.stack.rows()[instance] == (vm_states.ACTIVE, power_state.RUNNING)
    assert host.stack.sim.lpar_state(host.lpars["R"]) == "running"
    assert host.calls_for(instance) == []


def test_a_stopped_after_a_guest_halt_stops_the_instance(host):
    host.stack.sim.operate(host.lpars["H"], "shutdown", speed=100).result(timeout=10)
    instance = host.instances["H"]
    answer = host.stack.compute.emit(instance, "stopped")
    assert "stop" in answer["said"], answer
    assert host.stack.wait_nova_quiet()
    assert host.stack.rows()[instance] == (vm_states.STOPPED, power_state.SHUTDOWN)
    (call,) = host.calls_for(instance)
    assert (call["kind"], call["changed"]) == ("stop", False)   # it was off already


def test_a_started_for_a_stopped_instance_is_force_stopped(host):
    lpar, instance = host.lpars["S"], host.instances["S"]
    assert host.stack.rows()[instance] == (vm_states.STOPPED, power_state.SHUTDOWN)
    host.stack.sim.operate(lpar, "boot", speed=100).result(timeout=10)
    answer = host.stack.compute.emit(instance, "started")
    assert "force_stop" in answer["said"], answer
    assert host.stack.wait_nova_quiet()
    (call,) = host.calls_for(instance)
    assert (call["kind"], call["changed"]) == ("force_stop", True)
    assert host.stack.sim.lpar_state(lpar) == "not activated"      # nova's database won
    assert host.stack.rows()[instance] == (vm_states.STOPPED, power_state.SHUTDOWN)
