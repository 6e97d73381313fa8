"""The ``nova-driver`` sink: lifecycle events into nova-compute, in process.

For running lpar_eventd as a library inside nova-compute: each decision
becomes a ``nova.virt.event.LifecycleEvent`` handed to the compute driver's
``emit_event``, which calls the compute manager's lifecycle handler (the
same path a libvirt or PowerVM driver's own events take; the manager then
syncs the instance's power state).

A compute driver embeds lpar_eventd with ``lpar_eventd.embed`` (``start``
from ``init_host``, ``stop`` from ``cleanup_host``), which puts this sink
first; deploy/README.md shows the few lines a PowerVM driver adds.

Failure: nova's ``emit_event`` logs and discards when no compute manager
has registered its callback yet, and swallows the callback's exceptions.
The first case is detected here and raised (the engine retries once the
manager is up); the second is nova's own decision and is left to it.

    sink = DriverSink(compute_driver)
    sink.emit(event)   # -> compute_driver.emit_event(LifecycleEvent(uuid, STARTED))
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

from nova.virt import event as virtevent

from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.sinks.base import NOVA_COMPUTE, Sink, SinkError

__all__ = ["DriverSink", "NOVA_TRANSITIONS", "to_nova_event"]

#: Our transitions as nova.virt.event lifecycle transitions.
NOVA_TRANSITIONS: dict[Transition, int] = {
    Transition.STARTED: virtevent.EVENT_LIFECYCLE_STARTED,
    Transition.STOPPED: virtevent.EVENT_LIFECYCLE_STOPPED,
    Transition.SUSPENDED: virtevent.EVENT_LIFECYCLE_SUSPENDED,
    Transition.RESUMED: virtevent.EVENT_LIFECYCLE_RESUMED,
}


def to_nova_event(event: LifecycleEvent, wall_now: float) -> virtevent.LifecycleEvent:
    """The nova virt event for ``event``, stamped with the decision's UTC time."""
    stamp = datetime.datetime.fromtimestamp(wall_now, datetime.UTC).replace(tzinfo=None)
    return virtevent.LifecycleEvent(event.instance_uuid,
                                    NOVA_TRANSITIONS[event.transition], stamp)


class DriverSink(Sink):
    """Calls ``driver.emit_event`` (a nova.virt.driver.ComputeDriver).

    It needs the compute driver object, so it works only inside nova-compute;
    the standalone daemon reaches nova-compute with the ``nova-compute`` sink
    (``lpar_eventd.delivery``), whose receiver calls this sink there.
    """

    processes = frozenset({NOVA_COMPUTE})

    def __init__(self, driver: Any, wall: Callable[[], float] = time.time):
        self.driver = driver
        self._wall = wall

    def emit(self, event: LifecycleEvent) -> None:
        self.emit_at(event, self._wall())

    def emit_at(self, event: LifecycleEvent, wall_now: float) -> None:
        """Emit ``event`` stamped ``wall_now`` (UTC seconds): the time it was
        decided, which a receiver of a delivered decision knows, not now."""
        # ComputeDriver keeps the manager's callback here (register_event_listener);
        # None means the event would be dropped with a debug line.
        if getattr(self.driver, "_compute_event_callback", True) is None:
            raise SinkError("nova compute manager has not registered its event "
                            "listener yet: event not delivered")
        self.driver.emit_event(to_nova_event(event, wall_now))
