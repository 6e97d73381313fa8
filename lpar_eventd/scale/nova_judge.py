"""Judge nova's whole view: what nova did against what it does when told the truth.

A run's figures about nova (``NovaView``) are counted from what nova did: its
stops and forced stops (the driver's power calls), the events it dropped as
stale, its final (vm_state, power_state) per instance, and what one last
periodic ``_sync_power_states`` still changed (``residual``: nova needed its
10-minute backstop). Whether an action was right, and what nova should end
with, comes from the scenario's truth (``tell_the_truth``): the same scenario
played through nova's rules (``nova_rules``) by a teller that knows what each
guest did, so it tells nova

* every state change as it happens (running-class: STARTED, suspending:
  SUSPENDED, resuming: RESUMED), except
* a stopped-class state (not activated, error) only when it lasts at least
  ``HOLD_SECONDS``: shorter ones are a reboot's, never a halt (the rule the
  field cases C3 are about: nova would stop the rebooting VM).

A stop or forced stop nova carried out beyond what the truth has nova do to
that instance is a ``wrong_nova_action`` (a guest that never halted, a VM nova
itself was starting); one the truth has and the run lacks is missed. Once
nova powered an LPAR off, the scenario's later steps for it no longer happen,
even when it was off already (the rest of a reboot): the simulator does the
same (``SimCore.power``).

    truth = tell_the_truth(scenario)
    view = judge(truth, actions=[("0e6c...", "stop")], final={...}, stale=3)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine import policy
from lpar_eventd.nova.hosts import resolve_host
from lpar_eventd.scale.nova_rules import (
    DEFAULT_HOST, NovaInstance, RulesCompute, apply_change)
from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario

__all__ = ["HOLD_SECONDS", "Truth", "NovaView", "tell_the_truth", "judge", "as_json",
           "NOVA_VIEW_ROWS", "stopped_intervals"]

#: A stopped-class state shorter than this is a reboot's (the default settle
#: window: what the engine itself holds a stop for).
HOLD_SECONDS = 15.0

#: (label, NovaView field) in the order tables print them.
NOVA_VIEW_ROWS = [
    ("nova: stop calls", "nova_stop_calls"),
    ("nova: force_stop calls", "nova_force_stop_calls"),
    ("nova: dropped as stale", "nova_dropped_stale"),
    ("nova: wrong actions", "wrong_nova_actions"),
    ("nova: missed actions", "missed_nova_actions"),
    ("nova: (vm, power) mismatches", "mismatch"),
    ("nova: residual (periodic sync)", "residual"),
    ("nova: own failures", "nova_failed"),
]


@dataclass
class Truth:
    """What nova does and ends with when told the truth about a scenario."""

    final: dict[str, tuple[str, int]]          # instance -> (vm_state, power_state)
    actions: Counter[tuple[str, str]]          # (instance, stop|force_stop) -> count
    residual: int                              # the truth's own residual (crashes)
    lpar_final: dict[str, str]                 # LPAR -> PowerVM state at the end


@dataclass
class NovaView:
    """A run's figures about nova (``NOVA_VIEW_ROWS``) and, in ``examples``, one
    line per wrong action, missed action and mismatch."""

    nova_stop_calls: int = 0
    nova_force_stop_calls: int = 0
    nova_dropped_stale: int = 0
    wrong_nova_actions: int = 0
    missed_nova_actions: int = 0
    mismatch: int = 0
    residual: int = 0
    nova_failed: int = 0
    residual_truth: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {key: float(getattr(self, key)) for _, key in NOVA_VIEW_ROWS} | {
            "residual_truth": float(self.residual_truth)}

    def add(self, other: "NovaView") -> "NovaView":
        """Summed over hosts."""
        out = NovaView(**{k: int(getattr(self, k) + getattr(other, k))
                          for k in self.figures()})
        for key in set(self.examples) | set(other.examples):
            out.examples[key] = self.examples.get(key, []) + other.examples.get(key, [])
        return out


def stopped_intervals(scenario: Scenario) -> dict[str, list[tuple[float, float]]]:
    """Per LPAR, the scripted spans in a stopped-class state: [start, end)
    (end: the next state that is not stopped-class; inf when none). Silent
    steps count: the truth is what the host did, seen on the feed or not."""
    out: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for step in scenario.host_changes():
        if step.lpar is None or step.state is None:
            continue
        stopped = policy.normalize_state(step.state) in policy.STOPPED_STATES
        if stopped and step.lpar not in since:
            since[step.lpar] = step.at
        elif not stopped and step.lpar in since:
            out.setdefault(step.lpar, []).append((since.pop(step.lpar), step.at))
    for lpar, start in since.items():
        out.setdefault(lpar, []).append((start, float("inf")))
    return out


class _TruthWorld:
    """The scenario's host and nova, nova run by its rules (``RulesCompute``)."""

    def __init__(self, scenario: Scenario, host: str):
        self.compute = RulesCompute(host, {}, {u: s.state for u, s in scenario.lpars.items()})
        self.states = self.compute.states
        self.nova = self.compute.rules
        for spec in scenario.lpars.values():
            if spec.instance:
                self.nova.add(NovaInstance(
                    spec.instance.lower(),
                    spec.vm_state or policy.implied_vm_state(spec.power_state),
                    spec.power_state, None, resolve_host(spec.host, host)))

    def host_event(self, step: HostEvent) -> bool:
        """Apply a scripted host event; True when it changed an LPAR's state."""
        lpar = step.lpar
        if lpar is None or not self.compute.takes(lpar, step.event_type):
            return False
        if step.event_type == "DELETE_URI":
            self.states.pop(lpar, None)
            return False
        if step.state is None:
            return False
        self.states[lpar] = step.state
        return True

    def nova_change(self, step: NovaChange) -> None:
        """nova-api's write, as the test bed's nova-api writer makes it."""
        uuid = step.instance.lower()
        if step.create:
            power = step.power_state or power_state.NOSTATE
            building = step.task_state == task_states.SPAWNING
            self.nova.add(NovaInstance(
                uuid, step.vm_state or policy.implied_vm_state(power, step.task_state),
                power, step.task_state,
                resolve_host(step.host, self.nova.host) if step.host else self.nova.host,
                launched=not building))
            return
        inst = self.nova.get(uuid)
        if inst is None:
            return
        if step.delete:
            inst.deleted, inst.vm_state, inst.task_state = True, vm_states.DELETED, None
            return
        apply_change(inst, step, self.nova.host)
        if inst.vm_state == vm_states.ACTIVE:
            inst.launched = True


def tell_the_truth(scenario: Scenario, host: str = DEFAULT_HOST,
                   hold: float = HOLD_SECONDS) -> Truth:
    """Play ``scenario`` with a truthful teller in front of nova's rules."""
    world = _TruthWorld(scenario, host)
    intervals = stopped_intervals(scenario)
    managed = scenario.managed()
    for step in scenario.steps:
        if isinstance(step, NovaChange):
            world.nova_change(step)
            continue
        if not world.host_event(step):
            continue
        instance = managed.get(step.lpar or "")
        inst = world.nova.get(instance) if instance else None
        if inst is None or inst.deleted:
            continue
        if policy.normalize_state(step.state) in policy.STOPPED_STATES and \
                _lasts(intervals.get(step.lpar or "", []), step.at) < hold:
            continue
        transition = policy.translate(step.state or "", inst.power_state)
        if transition is not None:
            world.nova.lifecycle(inst.uuid, transition.value)
    actions = Counter((r.instance, r.action or "") for r in world.nova.actions())
    before = _rows(world.nova.instances.values())
    world.nova.periodic()
    after = _rows(world.nova.instances.values())
    return Truth(before, actions, sum(1 for u in before if before[u] != after.get(u)),
                 dict(world.states))


def _lasts(spans: list[tuple[float, float]], at: float) -> float:
    for start, end in spans:
        if start <= at < end:
            return end - start
    return 0.0


def _rows(instances: Iterable[NovaInstance]) -> dict[str, tuple[str, int]]:
    return {i.uuid: (i.vm_state, i.power_state) for i in instances if not i.deleted}


def judge(truth: Truth, actions: Iterable[tuple[str, str]],
          final: Mapping[str, tuple[str, int]], stale: int = 0,
          residual: int = 0, failed: Iterable[str] = ()) -> NovaView:
    """A run's NovaView: ``actions`` (instance, stop|force_stop) nova carried
    out, ``final`` (vm_state, power_state) per live instance, ``stale`` events
    nova dropped, ``residual`` instances the last periodic sync changed.

    ``failed``: instances where nova itself failed -- it could not handle an
    event it was given (nova's emit_event logs and drops it), its stop API
    raised, or it left one of its own operations unfinished (a task_state
    the scenario does not leave: nova-compute lost its database while
    stopping one). Their state is nova's own business (its periodic sync, a
    nova-compute restart's ``_init_instance``), not something the engine
    told it wrongly: they are counted as ``nova_failed`` and left out of the
    missed actions and mismatches (never out of the wrong actions)."""
    stuck = {u.lower() for u in failed}
    done: Counter[tuple[str, str]] = Counter((i.lower(), k) for i, k in actions)
    view = NovaView(nova_stop_calls=sum(n for (_, k), n in done.items() if k == "stop"),
                    nova_force_stop_calls=sum(n for (_, k), n in done.items()
                                              if k == "force_stop"),
                    nova_dropped_stale=stale, residual=residual,
                    residual_truth=truth.residual, nova_failed=len(stuck))
    wrong, missed = [], []
    for key in sorted(set(done) | set(truth.actions)):
        extra = done[key] - truth.actions[key]
        if extra < 0 and key[0] in stuck:
            continue
        if extra > 0:
            wrong.append(f"{key[0]}: {key[1]} x{extra} the truth does not call for")
        elif extra < 0:
            missed.append(f"{key[0]}: {key[1]} x{-extra} the truth calls for, not done")
        view.wrong_nova_actions += max(0, extra)
        view.missed_nova_actions += max(0, -extra)
    bad = [f"{u}: nova ({final[u][0]}, {final[u][1]}), truth ({want[0]}, {want[1]})"
           for u, want in sorted(truth.final.items())
           if u in final and final[u] != want and u not in stuck]
    view.mismatch = len(bad)
    view.examples = {"wrong": wrong, "missed": missed, "mismatch": bad,
                     "failed": sorted(stuck)}
    return view


def as_json(view: NovaView, examples: int = 5) -> dict[str, Any]:
    """The figures, and the first ``examples`` lines of each kind of fault."""
    return {**{k: int(v) for k, v in view.figures().items()},
            "examples": {k: v[:examples] for k, v in view.examples.items()}}
