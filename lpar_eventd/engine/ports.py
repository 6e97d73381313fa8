"""The engine's ports: every I/O edge is one of these small interfaces.

The engine never talks to NovaLink, nova or a disk directly; the daemon hands
it adapters (pypowervm, nova.objects, oslo.messaging, a directory) and the
tests hand it the in-memory ones of ``inmemory.py``. Keeping the edges this
narrow is what lets the same handler run on a virtual clock in benchmarks.
"""

from __future__ import annotations

import enum
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from collections.abc import Iterable, Mapping

__all__ = [
    "Clock", "MonotonicClock", "EventSource", "StateReader", "InstanceLookup",
    "LifecycleSink", "NvramStore", "InstanceInfo", "Transition",
    "LifecycleEvent", "LparGone", "local_compute_host",
]


class LparGone(Exception):
    """The LPAR no longer exists on the host (NovaLink answered 404).

    Raised by the StateReader and by NvramStore adapters alike: a settle or
    an NVRAM store that finds its LPAR gone is skipped (``lpar_gone``), never
    retried, since the DELETE_URI that follows will forget the LPAR anyway.
    """

    def __init__(self, lpar_uuid: str):
        super().__init__(f"LPAR {lpar_uuid} is gone")
        self.lpar_uuid = lpar_uuid


class Clock(Protocol):
    """Monotonic seconds; tests step a fake one, the daemon uses the real one."""

    def now(self) -> float: ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()


@runtime_checkable
class EventSource(Protocol):
    """Delivers feed responses, each one a batch, to a callback."""

    def start(self, on_batch: Any) -> None: ...

    def stop(self) -> None: ...


class StateReader(Protocol):
    """Reads PartitionState from NovaLink."""

    def read_state(self, lpar_uuid: str) -> str:
        """The current PartitionState; raises LparGone on 404."""

    def list_lpars(self) -> Mapping[str, str]:
        """Every LPAR on the host with its state, in one read (for resync)."""


def local_compute_host() -> str:
    """This machine's name as nova-compute names its host by default.

    nova's ``[DEFAULT] host`` option defaults to ``socket.gethostname()``
    (nova/conf/netconf.py); instance.host holds that value for every
    instance the compute service on this machine runs. lpar_eventd's
    ``[nova] compute_host`` and the in-memory nova default to the same.
    """
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """What the engine needs of a nova instance, read fresh for each decision.

    ``host`` is the compute host nova says runs the instance (None while it
    has none: unscheduled, or shelved offloaded); nova-compute only syncs the
    power state of instances on its own host, and neither does the engine.
    ``vm_state`` is nova's vm_state (active, stopped, shelved_offloaded, ...).
    """

    uuid: str
    task_state: str | None
    power_state: int
    vm_state: str
    host: str | None


class InstanceLookup(Protocol):
    """Reads nova instances (nova.objects in production)."""

    def admin_context(self) -> Any:
        """Create a new admin request context (the handler decides how often)."""

    def get_instance(self, context: Any, instance_uuid: str) -> InstanceInfo | None:
        """One nova call; None when nova raises InstanceNotFound."""

    def get_instances(self, context: Any,
                      instance_uuids: Iterable[str]) -> Mapping[str, InstanceInfo]:
        """One nova call for many uuids; absent uuids are not found."""


class Transition(enum.Enum):
    """A nova lifecycle transition; values are the metric label."""

    STARTED = "started"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One decision to tell nova about an LPAR's state."""

    instance_uuid: str
    lpar_uuid: str
    transition: Transition
    observed_state: str
    first_event_at: float
    decided_at: float


class LifecycleSink(Protocol):
    """Delivers lifecycle events (nova driver, notifications, log)."""

    def emit(self, event: LifecycleEvent) -> None: ...


class NvramStore(Protocol):
    """Stores an LPAR's NVRAM once a burst of NVRAM events has settled."""

    def store(self, lpar_uuid: str, instance_uuid: str) -> None:
        """Fetch and keep the NVRAM; raises LparGone when the LPAR no longer
        exists (NovaLink's 404), anything else on a failure worth a retry."""
