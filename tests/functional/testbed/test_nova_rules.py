"""nova's rules in memory (scale.nova_rules.RulesCompute, what the virtual-clock
modes run) against nova's own ComputeManager and our driver on the simulator.

The virtual-clock modes judge with ``NovaRules``; the end-to-end ones with
nova-compute itself. Here both get the same cases -- an instance in each
vm_state nova distinguishes, its LPAR in each kind of PowerVM state, every
lifecycle transition, a task in progress, another host -- and must react the
same way: stale or not, which stop, the same (vm_state, power_state) and LPAR
state after; then nova's periodic sync once over all of them, again alike.
"""

from __future__ import annotations

import itertools

import pytest
from nova.compute import power_state, task_states, vm_states

from lpar_eventd.nova.seed import update_instance
from lpar_eventd.scale.nova_rules import NovaInstance, RulesCompute
from lpar_eventd.scale.scenarios import HostBuilder

pytestmark = pytest.mark.slow

VM = {vm_states.ACTIVE: power_state.RUNNING, vm_states.STOPPED: power_state.SHUTDOWN,
      vm_states.PAUSED: power_state.PAUSED, vm_states.ERROR: power_state.CRASHED,
      vm_states.BUILDING: power_state.NOSTATE, vm_states.SUSPENDED: power_state.SUSPENDED}
LPAR_STATES = ("running", "not activated", "error", "suspended")
TRANSITIONS = ("started", "stopped", "suspended")
CASES = [(vm, lpar, tr, None, None)
         for vm, lpar, tr in itertools.product(VM, LPAR_STATES, TRANSITIONS)]
CASES += [(vm_states.ACTIVE, "not activated", "stopped", task_states.REBOOTING, None),
          (vm_states.STOPPED, "running", "started", task_states.POWERING_ON, None),
          (vm_states.ACTIVE, "not activated", "stopped", None, "elsewhere"),
          (vm_states.STOPPED, "running", "started", None, "elsewhere")]


def said_of(reaction) -> tuple[str, str | None]:
    """What a model reaction looks like in nova's words."""
    outcome = "synced" if reaction.outcome in ("task_state", "other_host") \
        else reaction.outcome
    return outcome, reaction.action


def said_by_nova(answer: dict) -> tuple[str, str | None]:
    action = next((w for w in answer["said"] if w in ("stop", "force_stop")), None)
    return answer["outcome"], action


def test_nova_rules_react_as_novas_compute_manager(host_stack):
    b = HostBuilder.for_host("A168A3EC-BB3E-3EAD-86C1-7D98B9D50239", 5, "rules")
    lpars = [b.lpar(case[1]) for case in CASES]
    scenario = b.finish()
    stack = host_stack(scenario, mode="none", speed=100)
    model = RulesCompute(stack.host, {}, {})        # the same host, by nova's rules
    instances = [scenario.managed()[lpar] for lpar in lpars]
    for (vm, lpar_state, _, task, other), lpar, uuid in zip(CASES, lpars, instances,
                                                             strict=True):
        update_instance(stack.db, uuid, vm_state=vm, power_state=VM[vm], task_state=task,
                        **({"host": other} if other else {}))
        model.states[lpar] = lpar_state
        model.rules.add(NovaInstance(uuid, vm, VM[vm], task, other or stack.host))

    differ, seen = [], set()
    for case, uuid in zip(CASES, instances, strict=True):
        real = said_by_nova(stack.compute.emit(uuid, case[2]))
        reaction = model.rules.lifecycle(uuid, case[2])
        seen |= {reaction.outcome, reaction.action}
        if real != said_of(reaction):
            differ.append(f"{case}: nova {real}, rules {said_of(reaction)}")
    # the grid reaches every kind of reaction
    assert {"stale", "synced", "task_state", "other_host", "stop", "force_stop"} <= seen
    assert stack.wait_nova_quiet()
    differ += compare_state(stack, model, lpars, instances, "after the events")

    stack.compute.sync_power_states()
    assert stack.wait_nova_quiet()
    model.rules.periodic()
    differ += compare_state(stack, model, lpars, instances, "after the periodic sync")
    assert differ == []


def compare_state(stack, model, lpars, instances, when) -> list[str]:
    rows = stack.rows()
    states = stack.sim.lpars()
    out = []
    for lpar, uuid in zip(lpars, instances, strict=True):
        inst = model.rules.get(uuid)
        if rows[uuid] != (inst.vm_state, inst.power_state):
            out.append(f"{when}: {uuid} nova {rows[uuid]}, rules "
                       f"{(inst.vm_state, inst.power_state)}")
        if states[lpar] != model.states[lpar]:
            out.append(f"{when}: LPAR {lpar} {states[lpar]}, rules {model.states[lpar]}")
    return out
