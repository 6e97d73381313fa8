"""A sink that hands each event to several sinks in order.

For the demo and the harnesses: log every decision, then apply it (the
compute player) or publish it. The first failure raises and the engine
retries the event later; sinks that already took it are not called again
for that decision (a notification is not published twice), so a retry only
reaches the sinks that have not succeeded yet.

A decision is identified by (LPAR, transition, observed state, first event
time): the engine's retry of the same settle keeps all four. The record of
partial deliveries is bounded; past the bound the oldest is forgotten (its
retry would then reach every sink again, which each tolerates).

    sink = TeeSink(DriverSink(compute_driver), LogSink())
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from lpar_eventd.engine.ports import LifecycleEvent, LifecycleSink
from lpar_eventd.sinks.base import Sink

__all__ = ["TeeSink"]

_MAX_PARTIAL = 10000

Decision = tuple[str, str, str, float]


class TeeSink(Sink):
    def __init__(self, *sinks: LifecycleSink):
        self.sinks = sinks
        self._partial: OrderedDict[Decision, int] = OrderedDict()
        self._lock = threading.Lock()

    def emit(self, event: LifecycleEvent) -> None:
        key = (event.lpar_uuid, event.transition.value, event.observed_state,
               event.first_event_at)
        with self._lock:
            done = self._partial.pop(key, 0)
        for index in range(done, len(self.sinks)):
            try:
                self.sinks[index].emit(event)
            except Exception:
                if index:
                    self._remember(key, index)
                raise

    def _remember(self, key: Decision, delivered: int) -> None:
        with self._lock:
            self._partial[key] = delivered
            while len(self._partial) > _MAX_PARTIAL:
                self._partial.popitem(last=False)

    def close(self) -> None:
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()
