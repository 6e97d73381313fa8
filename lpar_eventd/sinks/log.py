"""The ``log`` sink: one structured line per lifecycle event (the demo default).

The line is logfmt-style ``key=value`` pairs after a fixed message, so it
reads well in a terminal and greps and parses well in a log pipeline; the
same fields go into the record's ``extra`` (``lpar_eventd``) for JSON
formatters.

    LogSink().emit(event)
    # lifecycle transition=started instance=0e6c... lpar=0E6C... state=running delay=15.2s
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lpar_eventd.engine.ports import LifecycleEvent
from lpar_eventd.sinks.base import Sink, event_times

__all__ = ["LogSink", "format_event"]

LOG = logging.getLogger("lpar_eventd.lifecycle")


def format_event(event: LifecycleEvent) -> str:
    delay = max(0.0, event.decided_at - event.first_event_at)
    state = event.observed_state.replace(" ", "_")
    return (f"lifecycle transition={event.transition.value} "
            f"instance={event.instance_uuid} lpar={event.lpar_uuid} "
            f"state={state} delay={delay:.1f}s")


class LogSink(Sink):
    """Logs each event at ``level`` on ``logger`` (``lpar_eventd.lifecycle``)."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO,
                 wall: Callable[[], float] = time.time):
        self._log = logger or LOG
        self._level = level
        self._wall = wall
        self.emitted = 0

    def emit(self, event: LifecycleEvent) -> None:
        fields = {"instance_uuid": event.instance_uuid, "pvm_uuid": event.lpar_uuid,
                  "transition": event.transition.value,
                  "observed_state": event.observed_state,
                  **event_times(event, self._wall())}
        self._log.log(self._level, "%s", format_event(event),
                      extra={"lpar_eventd": fields})
        self.emitted += 1
