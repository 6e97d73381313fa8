"""What nova should hear, given PowerVM's state and nova's view of the instance.

Pure functions over nova's own constants. Two rules decide whether nova may
hear anything at all, each taken from nova-compute's own power-state sync
(``ComputeManager._sync_instance_power_state``), which refuses to act

* on an instance whose ``host`` is not its own host (evacuated, cold
  migrated, or live migrated away; also ``host`` None: ``self.host != None``),
* and on an instance whose ``task_state`` is not None, whatever its value:
  while nova drives an operation it sets the power state itself, and a
  PowerVM-driven event would race it (``nova_is_busy``).

The 2017 reference skipped only a fixed list of "in-operation" task states
(``REFERENCE_TASK_STATES``): such a list always lags nova's (shelve's
``shelving_image_uploading`` is missing from it, for one), so only the
``reference`` anchor policy still uses it. nova.compute.power_state gives the
"already known" checks that keep nova from hearing what it knows.
"""

from __future__ import annotations

from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine.ports import Transition

__all__ = ["REFERENCE_TASK_STATES", "translate", "nova_is_busy", "reference_skips",
           "expected_power_state", "implied_vm_state", "STARTED_STATES",
           "STOPPED_STATES"]

#: The reference policy's fixed "in-operation" list (kept as it shipped).
REFERENCE_TASK_STATES: frozenset[str] = frozenset({
    task_states.SPAWNING, task_states.RESIZE_MIGRATING,
    task_states.RESIZE_REVERTING, task_states.REBOOTING,
    task_states.REBOOT_PENDING, task_states.REBOOT_PENDING_HARD,
    task_states.REBOOT_STARTED, task_states.REBOOT_STARTED_HARD,
    task_states.REBOOTING_HARD,
    task_states.PAUSING, task_states.UNPAUSING, task_states.SUSPENDING,
    task_states.RESUMING, task_states.POWERING_OFF, task_states.POWERING_ON,
    task_states.RESCUING, task_states.UNRESCUING, task_states.REBUILDING,
    task_states.REBUILD_SPAWNING, task_states.MIGRATING, task_states.DELETING,
    task_states.SOFT_DELETING, task_states.RESTORING, task_states.SHELVING,
    task_states.SHELVING_OFFLOADING, task_states.UNSHELVING,
})

STARTED_STATES = frozenset({"running", "starting", "open firmware",
                            "migrating running"})
STOPPED_STATES = frozenset({"not activated", "error", "unknown"})

# (transition, the nova power_state that means nova already knows)
_TABLE: dict[str, tuple[Transition, int]] = {}
_TABLE.update({s: (Transition.STARTED, power_state.RUNNING) for s in STARTED_STATES})
_TABLE.update({s: (Transition.STOPPED, power_state.SHUTDOWN) for s in STOPPED_STATES})
_TABLE["suspending"] = (Transition.SUSPENDED, power_state.SUSPENDED)
_TABLE["resuming"] = (Transition.RESUMED, power_state.RUNNING)

# The anchor policies translate exactly the table above. The default policy
# settles after a burst, so it sees 'suspended' where they saw the transient
# 'suspending': without this row a debounced suspend would never reach nova.
_SETTLED_TABLE = dict(_TABLE)
_SETTLED_TABLE["suspended"] = (Transition.SUSPENDED, power_state.SUSPENDED)

# The power_state nova holds once it has applied each transition.
_APPLIED = {
    Transition.STARTED: power_state.RUNNING,
    Transition.STOPPED: power_state.SHUTDOWN,
    Transition.SUSPENDED: power_state.SUSPENDED,
    Transition.RESUMED: power_state.RUNNING,
}


def normalize_state(pvm_state: str | None) -> str:
    """PowerVM states compare case-insensitively (NovaLink says 'Unknown')."""
    return (pvm_state or "unknown").strip().lower()


def translate(pvm_state: str, nova_power_state: int, *,
              settled: bool = True) -> Transition | None:
    """The transition nova needs for this PowerVM state, or None.

    ``settled=False`` is the anchor policies' exact table (no 'suspended').
    """
    table = _SETTLED_TABLE if settled else _TABLE
    row = table.get(normalize_state(pvm_state))
    if row is None or row[1] == nova_power_state:
        return None
    return row[0]


def nova_is_busy(task_state: str | None) -> bool:
    """nova's own rule: any task_state means an operation is in flight."""
    return task_state is not None


def reference_skips(task_state: str | None) -> bool:
    """The 2017 reference's rule: only task states of its fixed list."""
    return task_state in REFERENCE_TASK_STATES


def applied_power_state(transition: Transition) -> int:
    """The power_state nova records when it handles ``transition``."""
    return _APPLIED[transition]


def expected_power_state(pvm_state: str) -> int | None:
    """The power_state nova should end with for a settled PowerVM state.

    None for states that carry no lifecycle meaning (shutting down, ...).
    'suspended' itself has no transition, but is reached through
    'suspending', so nova should show SUSPENDED.
    """
    row = _SETTLED_TABLE.get(normalize_state(pvm_state))
    return None if row is None else row[1]


# The vm_state nova keeps with a settled power_state (nova-api's and
# nova-compute's end states of start, stop, suspend, pause; crash is error).
_VM_STATE_OF_POWER = {
    power_state.RUNNING: vm_states.ACTIVE,
    power_state.SHUTDOWN: vm_states.STOPPED,
    power_state.SUSPENDED: vm_states.SUSPENDED,
    power_state.PAUSED: vm_states.PAUSED,
    power_state.CRASHED: vm_states.ERROR,
}


def implied_vm_state(nova_power_state: int, task_state: str | None = None) -> str:
    """The vm_state of an instance with this power_state when nothing else
    says otherwise: building while spawning or without a power state."""
    if task_state == task_states.SPAWNING:
        return vm_states.BUILDING
    return _VM_STATE_OF_POWER.get(nova_power_state, vm_states.BUILDING)
