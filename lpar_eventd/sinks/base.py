"""The sink plugin base: one method, ``emit``, that raises on failure.

A sink delivers one lifecycle decision somewhere (nova-compute's event
callback, the notification bus, a log). It must raise when the delivery did
not happen: the engine then counts the failure, logs it and retries the
LPAR with backoff, so an event is never lost quietly. Sinks are loaded by
name through stevedore (``lpar_eventd.sinks``; see ``registry.py``).

    class PrintSink(Sink):
        def emit(self, event):
            print(event.transition.value, event.instance_uuid)
"""

from __future__ import annotations

import abc
import datetime

from lpar_eventd.engine.ports import LifecycleEvent

__all__ = ["Sink", "SinkError", "event_times"]


class SinkError(Exception):
    """A sink could not deliver an event (the engine retries it)."""


class Sink(abc.ABC):
    """Delivers lifecycle events; the LifecycleSink port as a plugin base."""

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

