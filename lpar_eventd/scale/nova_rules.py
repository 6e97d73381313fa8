"""nova-compute's reactions, as rules in memory: for the virtual-clock modes.

The end-to-end harness judges with nova's own ComputeManager (the test bed's
nova-compute). Runs on the engine's virtual clock (``compare --mode engine``,
``analyze``) cannot run it, so they use these rules: exactly nova 34's
``handle_lifecycle_event``, ``_sync_instance_power_state`` (with
``_stop_unexpected_shutdown_instance``), the periodic ``_sync_power_states``
and the state checks of ``compute_api.stop`` / ``force_stop`` and the effect
of ``stop_instance``, over nova's own constants. The functional test
``tests/functional/testbed/test_nova_rules.py`` plays the same sequences
through the real manager and these rules, so the two cannot drift.

What a lifecycle event makes nova do (``Reaction.outcome``):

* ``stale``: the driver's state is not the event's (nova's double check);
* ``not_found``: nova has no such instance (deleted ones are still read);
* ``other_host``: the instance is another host's;
* ``task_state``: an operation is in progress;
* ``synced``: nova synced: power_state written where it differed
  (``power_state_updated``), and maybe an action: ``stop`` (an ACTIVE
  instance found off, crashed or suspended), ``force_stop`` (a STOPPED
  instance found running, a PAUSED one off); ``refused`` when nova's API
  refused the stop (an instance never launched, locked, ...).

A stop powers the LPAR off through the driver (``power_off``) and leaves
vm_state STOPPED, power_state as the driver then reads, no task.

    rules = NovaRules("host-a", driver_state=lambda uuid: power_state.SHUTDOWN)
    rules.add(NovaInstance("0e6c...", vm_states.ACTIVE, power_state.RUNNING))
    rules.lifecycle("0e6c...", "stopped").action    # 'stop'

``RulesCompute`` is nova-compute of a virtual world by these rules: the sink
the engine emits into, over the world's instances and LPAR states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from nova.compute import power_state, vm_states

from lpar_eventd.engine import policy
from lpar_eventd.engine.inmemory import MemorySink
from lpar_eventd.engine.ports import LifecycleEvent
from lpar_eventd.simulator.partition import POWER_OFF_FROM

__all__ = ["NovaInstance", "Reaction", "NovaRules", "RulesCompute", "nova_power_state",
           "vm_state_for", "apply_change", "TRANSITION_POWER", "DEFAULT_HOST"]

DEFAULT_HOST = "compute"

#: nova.virt.event transitions (our Transition values and nova's names) ->
#: the power_state nova checks the driver for (handle_lifecycle_event).
TRANSITION_POWER = {
    "started": power_state.RUNNING, "stopped": power_state.SHUTDOWN,
    "paused": power_state.PAUSED, "resumed": power_state.RUNNING,
    "suspended": power_state.SUSPENDED,
}

#: PowerVM partition states -> the nova power state a PowerVM driver reports
#: (``get_info``): running until it is off (shutting down, suspending),
#: suspended until it runs again (resuming), an error is a crash.
_DRIVER_STATES = {
    power_state.RUNNING: ("running", "starting", "open firmware", "migrating running",
                          "shutting down", "suspending"),
    power_state.SHUTDOWN: ("not activated", "migrating not active"),
    power_state.SUSPENDED: ("suspended", "resuming"),
    power_state.CRASHED: ("error",),
}
_BY_STATE = {state: power for power, states in _DRIVER_STATES.items() for state in states}

# vm_states whose power-state discrepancies nova leaves alone
_IGNORED_VM_STATES = frozenset({vm_states.BUILDING, vm_states.RESCUED, vm_states.RESIZED,
                                vm_states.SUSPENDED, vm_states.ERROR})
_OFF = frozenset({power_state.SHUTDOWN, power_state.CRASHED})
_NOT_RUNNING = frozenset({power_state.NOSTATE, power_state.SHUTDOWN, power_state.CRASHED})


def nova_power_state(partition_state: str | None) -> int:
    """nova's power state for a PowerVM partition state (NOSTATE if unknown
    or None: the LPAR is gone, nova's InstanceNotFound)."""
    return _BY_STATE.get((partition_state or "").strip().lower(), power_state.NOSTATE)


def vm_state_for(power: int, default: str = vm_states.BUILDING) -> str:
    """The vm_state that goes with ``power`` once nova's operations are over
    (``policy.implied_vm_state``); ``default`` when a power state implies none."""
    implied = policy.implied_vm_state(power)
    return default if implied == vm_states.BUILDING else implied


def apply_change(inst: Any, change: Any, this_host: str) -> None:
    """A scenario's NovaChange (neither create nor delete) on an instance:
    nova's own operation setting or clearing task_state and, when it ends,
    the power_state (and the vm_state that goes with it), or a vm_state or
    host of its own. ``inst`` is a nova Instance object (the test bed's
    nova-api writes it) or an in-memory one (the truth, the virtual world)."""
    from lpar_eventd.nova.hosts import resolve_host
    inst.task_state = change.task_state
    if change.power_state is not None:
        inst.power_state = change.power_state
        inst.vm_state = vm_state_for(change.power_state, inst.vm_state)
    if change.vm_state is not None:
        inst.vm_state = change.vm_state
    if change.host is not None:
        inst.host = resolve_host(change.host, this_host)


@dataclass
class NovaInstance:
    """The fields of a nova instance these rules read and write."""

    uuid: str
    vm_state: str = vm_states.ACTIVE
    power_state: int = power_state.RUNNING
    task_state: str | None = None
    host: str | None = DEFAULT_HOST
    launched: bool = True
    deleted: bool = False


@dataclass
class Reaction:
    """What nova did with one lifecycle event or one periodic sync."""

    instance: str
    outcome: str
    power_state_updated: bool = False
    action: str | None = None          # stop, force_stop
    refused: bool = False              # the API refused the action
    extra: dict[str, object] = field(default_factory=dict)


class NovaRules:
    """nova-compute of one host, as rules over in-memory instances.

    ``driver_state(uuid)`` is the driver's ``get_info`` (a nova power state;
    NOSTATE when the LPAR is gone); ``power_off(uuid)`` is the driver's
    power-off (the world's LPAR goes off). ``reactions`` keeps every one.
    """

    def __init__(self, host: str = DEFAULT_HOST,
                 driver_state: Callable[[str], int] = lambda uuid: power_state.NOSTATE,
                 power_off: Callable[[str], None] = lambda uuid: None):
        self.host = host
        self.driver_state = driver_state
        self.power_off = power_off
        self.instances: dict[str, NovaInstance] = {}
        self.reactions: list[Reaction] = []

    def add(self, instance: NovaInstance) -> NovaInstance:
        self.instances[instance.uuid.lower()] = instance
        return instance

    def get(self, uuid: str) -> Any:
        return self.instances.get(uuid.lower())

    # -- handle_lifecycle_event -----------------------------------------------
    def lifecycle(self, uuid: str, transition: str) -> Reaction:
        """A lifecycle event from the driver (``transition``: started, stopped,
        suspended, resumed, paused)."""
        inst = self.get(uuid)
        if inst is None:   # read_deleted='yes': only a purged row is not found
            return self._keep(Reaction(uuid.lower(), "not_found"))
        if getattr(inst, "deleted", False):   # its LPAR is gone: never what it says
            return self._keep(Reaction(inst.uuid, "stale"))
        wanted = TRANSITION_POWER[transition]
        if self.driver_state(inst.uuid) != wanted:
            return self._keep(Reaction(inst.uuid, "stale"))
        return self._keep(self._sync(inst, wanted))

    # -- _sync_power_states -------------------------------------------------------
    def periodic(self) -> list[Reaction]:
        """nova's periodic sync, once: every live instance of this host."""
        out = []
        for inst in list(self.instances.values()):
            if getattr(inst, "deleted", False) or inst.host != self.host:
                continue
            if inst.task_state is not None:
                out.append(self._keep(Reaction(inst.uuid, "task_state")))
                continue
            out.append(self._keep(self._sync(inst, self.driver_state(inst.uuid))))
        return out

    # -- _sync_instance_power_state -----------------------------------------------
    def _sync(self, inst: Any, vm_power: int) -> Reaction:
        if inst.host != self.host:
            return Reaction(inst.uuid, "other_host")
        if inst.task_state is not None:
            return Reaction(inst.uuid, "task_state")
        reaction = Reaction(inst.uuid, "synced")
        if vm_power != inst.power_state:
            inst.power_state = vm_power
            reaction.power_state_updated = True
        vm_state = inst.vm_state
        if vm_state in _IGNORED_VM_STATES:
            return reaction
        if vm_state == vm_states.ACTIVE:
            if vm_power in _OFF:
                # _stop_unexpected_shutdown_instance: re-read, then stop
                if self.driver_state(inst.uuid) in _OFF:
                    self._stop(inst, reaction, "stop")
            elif vm_power == power_state.SUSPENDED:
                self._stop(inst, reaction, "stop")
        elif vm_state == vm_states.STOPPED:
            if vm_power not in _NOT_RUNNING:
                self._stop(inst, reaction, "force_stop")
        elif vm_state == vm_states.PAUSED and vm_power in _OFF:
            self._stop(inst, reaction, "force_stop")
        return reaction

    def _stop(self, inst: Any, reaction: Reaction, kind: str) -> None:
        """compute_api.stop (its checks) or force_stop, then stop_instance."""
        reaction.action = kind
        if kind == "stop" and (inst.vm_state not in (vm_states.ACTIVE, vm_states.ERROR)
                               or not getattr(inst, "launched", True)):
            reaction.refused = True   # InstanceInvalidState (the context is admin:
            return                    # a lock does not stop it)
        self.power_off(inst.uuid)
        inst.power_state = self.driver_state(inst.uuid)
        inst.vm_state = vm_states.STOPPED
        inst.task_state = None

    def _keep(self, reaction: Reaction) -> Reaction:
        self.reactions.append(reaction)
        return reaction

    # -- figures ---------------------------------------------------------------------
    def actions(self, reactions: Iterable[Reaction] | None = None) -> list[Reaction]:
        """The stops and forced stops nova carried out."""
        return [r for r in (self.reactions if reactions is None else reactions)
                if r.action is not None and not r.refused]


class RulesCompute(MemorySink):
    """nova-compute of a virtual world, by nova's rules: a LifecycleSink.

    It shares the world's instances (objects with uuid, vm_state,
    power_state, task_state, host) and LPAR states (PowerVM uuid -> state):
    the driver's ``get_info`` reads those states, its ``power_off`` turns a
    running LPAR off as the simulator's power call does, and takes the LPAR
    over from the scenario (``takes``: its later scripted steps no longer
    happen, even when it was off already). ``events`` keeps every event
    received, ``rules.reactions`` what nova did with each.
    """

    def __init__(self, host: str, instances: MutableMapping[str, Any],
                 states: MutableMapping[str, str]):
        super().__init__()
        self.states = states
        self.held: set[str] = set()
        self.rules = NovaRules(host, self._driver_state, self._power_off)
        self.rules.instances = instances   # type: ignore[assignment]

    @staticmethod
    def lpar_of(instance: str) -> str:
        """The LPAR uuid PowerVM gives an instance (pypowervm's conversion)."""
        from pypowervm.utils import uuid as pvm_uuid
        return pvm_uuid.convert_uuid_to_pvm(instance).upper()

    def _driver_state(self, instance: str) -> int:
        return nova_power_state(self.states.get(self.lpar_of(instance)))

    def _power_off(self, instance: str) -> None:
        lpar = self.lpar_of(instance)
        if lpar not in self.states:
            return
        self.held.add(lpar)
        if self.states[lpar] in POWER_OFF_FROM:
            self.states[lpar] = "not activated"

    def emit(self, event: LifecycleEvent) -> None:
        super().emit(event)
        self.rules.lifecycle(event.instance_uuid, event.transition.value)

    def takes(self, lpar: str | None, event_type: str) -> bool:
        """Whether a scripted host step of ``lpar`` still happens (a
        DELETE_URI always does, and ends nova's hold)."""
        if lpar is None or lpar.upper() not in self.held:
            return True
        if event_type == "DELETE_URI":
            self.held.discard(lpar.upper())
            return True
        return False
