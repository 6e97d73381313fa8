"""A sink that hands each event to several sinks in order.

For the demo and the harnesses: log every decision, then apply it (the
compute player) or publish it. The first failure raises and the later sinks
are not called for that event; the engine's retry then re-emits to all, so a
sink placed after another must tolerate a repeated event (applying a power
state twice, logging twice: both are harmless).

    sink = TeeSink(LogSink(), ComputePlayer(db))
"""

from __future__ import annotations

from lpar_eventd.engine.ports import LifecycleEvent, LifecycleSink
from lpar_eventd.sinks.base import Sink

__all__ = ["TeeSink"]


class TeeSink(Sink):
    def __init__(self, *sinks: LifecycleSink):
        self.sinks = sinks

    def emit(self, event: LifecycleEvent) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def close(self) -> None:
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()
