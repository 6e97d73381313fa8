"""The ``nova-driver`` sink: lifecycle events into nova-compute, in process.

For running lpar_eventd as a library inside nova-compute: each decision
becomes a ``nova.virt.event.LifecycleEvent`` handed to the compute driver's
``emit_event``, which calls the compute manager's lifecycle handler (the
same path a libvirt or PowerVM driver's own events take; the manager then
syncs the instance's power state).

Embedding lpar_eventd's handler in a compute driver, in place of the
driver's own NovaLink event handler:

1. In ``init_host`` (after the pypowervm Session exists), build the ports:
   the NovaLink state reader over the driver's adapter, a
   ``ConductorLookup()`` (nova-compute has already set the conductor
   indirection API and nova's transport: they are reused, no new
   connection), ``DriverSink(self)`` and, if the driver stores NVRAM, a
   ``DirectoryStore`` or the driver's own store behind the NvramStore port.
2. Build ``DefaultHandler(Ports(...), EngineConfig(compute_host=CONF.host,
   ...), executor=<a small thread pool>)`` (the compute manager's own host:
   instances of other hosts are skipped) and start lpar_eventd's NovaLink source on the driver's
   session with ``handler.accept_batch`` as its callback; run
   ``handler.run_due`` from one scheduler thread (the daemon's service
   module shows the loop).
3. Do not register the driver's previous event handler with the session's
   EventListener: two handlers would both emit.
4. In ``cleanup_host``: stop the source, ``handler.shutdown("cancel")``
   (what nova-compute itself does with pending lifecycle events on host
   shutdown), then close the sink.

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
