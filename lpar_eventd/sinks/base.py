"""The sink plugin base: one method, ``emit``, that raises on failure.

A sink delivers one lifecycle decision somewhere (nova-compute's event
callback, the notification bus, a log). It must raise when the delivery did
not happen: the engine then counts the failure, logs it and retries the
LPAR with backoff, so an event is never lost quietly. Sinks are loaded by
name through stevedore (``lpar_eventd.sinks``; see ``registry.py``).

Where a sink can work is a property of the sink: ``processes`` names the
processes it can run in, ``DAEMON`` (the standalone ``lpar-eventd``) and/or
``NOVA_COMPUTE`` (the engine embedded in a compute driver). The nova virt
driver sink needs nova-compute's driver object, so it declares
``NOVA_COMPUTE`` only, and the daemon refuses it at start with one line
instead of failing on its first event (``registry.make_sink(...,
process=DAEMON)``). A plugin without the attribute (a factory function, a
test sink) runs anywhere.

    class PrintSink(Sink):
        def emit(self, event):
            print(event.transition.value, event.instance_uuid)
"""

from __future__ import annotations

import abc
import datetime

from lpar_eventd.engine.ports import LifecycleEvent

__all__ = ["Sink", "SinkError", "event_times", "DAEMON", "NOVA_COMPUTE", "ANYWHERE",
           "PROCESS_NAMES"]

#: The standalone daemon (``lpar-eventd --config-file ...``).
DAEMON = "daemon"
#: Inside nova-compute, the engine embedded in a compute driver (library mode).
NOVA_COMPUTE = "nova-compute"
ANYWHERE: frozenset[str] = frozenset({DAEMON, NOVA_COMPUTE})
#: How error messages name each process.
PROCESS_NAMES = {DAEMON: "the lpar-eventd daemon",
                 NOVA_COMPUTE: "nova-compute (the engine embedded in a compute driver)"}


class SinkError(Exception):
    """A sink could not deliver an event (the engine retries it)."""


class Sink(abc.ABC):
    """Delivers lifecycle events; the LifecycleSink port as a plugin base."""

    #: The processes this sink can work in (DAEMON, NOVA_COMPUTE).
    processes: frozenset[str] = ANYWHERE

    @abc.abstractmethod
    def emit(self, event: LifecycleEvent) -> None:
        """Deliver ``event`` or raise."""

    def close(self) -> None:  # noqa: B027 (optional hook, default does nothing)
        """Flush and release (daemon shutdown); safe to call twice."""


def event_times(event: LifecycleEvent, wall_now: float) -> dict[str, str | float]:
    """Wall-clock times of an event whose own times are on the engine's clock.

    The engine stamps events with its monotonic clock (meaningless outside
    the process); consumers want UTC. The decision is taken just before it
    is emitted, so ``decided`` is ``wall_now`` and ``first_event`` is that
    minus the settle delay.
    """
    delay = max(0.0, event.decided_at - event.first_event_at)
    decided = datetime.datetime.fromtimestamp(wall_now, datetime.UTC)
    first = decided - datetime.timedelta(seconds=delay)
    return {"first_event_time": first.isoformat(), "decided_time": decided.isoformat(),
            "settle_delay_seconds": round(delay, 3)}

