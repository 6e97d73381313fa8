"""Record any NovaLink's event feed (real or simulated) to the replay format.

Uses the real pypowervm Session and EventListener, exactly as the daemon
reads a feed, and writes every raw event as one JSON line (``replay``). With
``states=True`` a PartitionState event of an LPAR is followed by one quick
property read, so the log carries the state and replays faithfully; that
costs one REST read per such event on the recorded host, hence opt-in.

    rec = Recorder(session, open("feed.jsonl", "a"), states=True)
    rec.start(); ...; rec.stop()
"""

from __future__ import annotations

import json
import logging
import threading
from typing import IO, Any

from pypowervm import adapter as pvm_adapter

from lpar_eventd.engine.events import parse_lpar_uuid
from lpar_eventd.simulator.replay import write_event

__all__ = ["Recorder"]

LOG = logging.getLogger(__name__)


class _Handler(pvm_adapter.RawEventHandler):
    def __init__(self, recorder: "Recorder"):
        self.recorder = recorder

    def process(self, events: list[dict[str, Any]]) -> None:
        self.recorder.record(events)


class Recorder:
    """Subscribes to a Session's event feed and appends every event to ``out``."""

    def __init__(self, session: pvm_adapter.Session, out: IO[str], states: bool = False):
        self.session = session
        self.adapter = pvm_adapter.Adapter(session)
        self.out = out
        self.states = states
        self.count = 0
        self.done = threading.Event()
        self.max_events: int | None = None
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._listener: Any = None

    def start(self) -> None:
        self._listener = self.session.get_event_listener()
        self._listener.subscribe(self._handler)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.shutdown()
            self._listener = None

    def record(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                state = self._state(event) if self.states else None
                write_event(self.out, event.get("EventType") or "",
                            event.get("EventData"), event.get("EventDetail"), state)
                self.count += 1
            if self.max_events is not None and self.count >= self.max_events:
                self.done.set()

    def _state(self, event: dict[str, Any]) -> str | None:
        detail = event.get("EventDetail") or ""
        uuid = parse_lpar_uuid(event.get("EventData"))
        if uuid is None or "PartitionState" not in detail.split(","):
            return None
        try:
            resp = self.adapter.read("LogicalPartition", root_id=uuid,
                                     suffix_type="quick", suffix_parm="PartitionState")
            return json.loads(resp.body)
        except Exception:  # a logged boundary: the event is still recorded
            LOG.warning("could not read the state of %s", uuid, exc_info=True)
            return None
