"""The simulated PowerVM host: its partitions and the events they produce.

One place turns a host event (from a scenario, a replayed log, a live
operation or a control call) into both of its effects: the REST model
changes (an LPAR appears, changes state, goes away) and the event is
rendered once and queued for every client. Doing both in one call on the
loop thread is what makes a quick-property read agree with the feed: by the
time a client sees ``PartitionState``, the new state is already readable.

    host = Host(queues, counters, base_url="https://127.0.0.1:12443")
    host.load(scenario)
    host.apply(HostEvent(0.0, "MODIFY_URI", path, "PartitionState,Other", uuid, "running"))
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from lpar_eventd.engine.events import parse_lpar_uuid
from lpar_eventd.scale.scenarios import ROOT, HostEvent, Scenario, lpar_path
from lpar_eventd.simulator import wire
from lpar_eventd.simulator.counters import Counters
from lpar_eventd.simulator.partition import Partition, check_state

__all__ = ["Host", "UnknownPartition", "DEFAULT_MS_UUID"]

DEFAULT_MS_UUID = "A168A3EC-BB3E-3EAD-86C1-7D98B9D50239"
# Feed events every client gets on its own; never broadcast from a scenario.
_PER_CLIENT = frozenset({"NEW_CLIENT"})


class UnknownPartition(KeyError):
    """No LPAR (or VIOS) with that uuid: answered 404."""


class Host:
    """Partitions, VIOS and the managed system, plus event production."""

    def __init__(self, counters: Counters, base_url: str = "",
                 ms_uuid: str = DEFAULT_MS_UUID):
        self.counters = counters
        self.base_url = base_url
        self.ms_uuid = ms_uuid
        self.ms_name = "sim-host"
        self.lpars: dict[str, Partition] = {}
        self.vios: dict[str, Partition] = {}
        self._ids = itertools.count(int(time.time() * 1000))
        self._partition_ids = itertools.count(2)
        self.broadcast: Callable[[wire.FeedEvent], None] = lambda event: None
        self.cache_cleared: Callable[[], None] = lambda: None
        #: LPARs whose power a management call took over (``power``): the
        #: scenario's own later steps for them are no longer played.
        self.held: set[str] = set()

    # -- the world -------------------------------------------------------------
    def load(self, scenario: Scenario) -> None:
        """Replace the host's partitions by a scenario's starting world."""
        self.ms_uuid = scenario.ms_uuid
        self.lpars.clear()
        self.vios.clear()
        self.held.clear()
        for spec in scenario.lpars.values():
            self.add_lpar(spec.uuid, spec.state, spec.name)
        for number, uuid in enumerate(scenario.vios, 1):
            self.vios[uuid] = Partition(uuid, f"vios{number}", next(self._partition_ids),
                                        "running", kind="VirtualIOServer")

    def add_lpar(self, uuid: str, state: str = "not activated",
                 name: str | None = None) -> Partition:
        uuid = uuid.upper()
        part = Partition(uuid, name or f"vm-{uuid[:8].lower()}",
                         next(self._partition_ids), check_state(state))
        self.lpars[uuid] = part
        return part

    def lpar(self, uuid: str) -> Partition:
        try:
            return self.lpars[uuid.upper()]
        except KeyError:
            raise UnknownPartition(uuid) from None

    def vios_partition(self, uuid: str) -> Partition:
        try:
            return self.vios[uuid.upper()]
        except KeyError:
            raise UnknownPartition(uuid) from None

    def lpar_path(self, uuid: str) -> str:
        return lpar_path(self.ms_uuid, uuid)

    def vios_path(self, uuid: str) -> str:
        return f"{ROOT}/ManagedSystem/{self.ms_uuid}/VirtualIOServer/{uuid}"

    # -- events ------------------------------------------------------------------
    def make_event(self, event_type: str, path: str = "", detail: str = "") -> wire.FeedEvent:
        """Render an event (not queued): NEW_CLIENT, MISSING_EVENTS, ... ."""
        data = self.base_url + path if path else ""
        return wire.render_event(self.base_url, event_type, next(self._ids), data,
                                 detail, int(time.time() * 1000))

    def emit(self, event_type: str, path: str = "", detail: str = "") -> wire.FeedEvent:
        """Render an event and queue it for every client."""
        event = self.make_event(event_type, path, detail)
        self.counters.add_label("events_produced", event_type)
        self.broadcast(event)
        return event

    def apply(self, step: HostEvent, scripted: bool = True) -> None:
        """Apply one host event to the model, then queue it (unless the step
        is silent: the change happens, its event is lost).

        A scripted step (a scenario's, a replay's) of an LPAR that a power
        call took over is dropped and counted (``steps_superseded``): the
        script says what the guest would have done, and once nova powered
        the LPAR off the guest does nothing more. Its DELETE_URI still
        applies (nova deletes what it stopped).
        """
        etype = step.event_type
        if etype in _PER_CLIENT:
            return
        if scripted and self.held and step.lpar and step.lpar.upper() in self.held:
            if etype != "DELETE_URI":
                self.counters.add("steps_superseded")
                return
            self.held.discard(step.lpar.upper())
        if etype == "CACHE_CLEARED":
            self.counters.add_label("events_produced", etype)
            self.cache_cleared()
            return
        lpar = (step.lpar or parse_lpar_uuid(step.path) or "").upper()
        if lpar:
            self._apply_lpar(etype, lpar, step.detail, step.state)
        elif step.state is not None:
            self._apply_vios(step.path, step.detail, step.state)
        if not step.silent:
            self.emit(etype, step.path, step.detail)

    def _apply_lpar(self, etype: str, uuid: str, detail: str, state: str | None) -> None:
        if etype == "DELETE_URI":
            self.lpars.pop(uuid, None)
            return
        part = self.lpars.get(uuid)
        if part is None:  # ADD_URI, or a replayed log naming an LPAR we lack
            default = "not activated" if etype == "ADD_URI" else "running"
            part = self.add_lpar(uuid, state or default)
        part.apply(detail, state)

    def _apply_vios(self, path: str, detail: str, state: str) -> None:
        uuid = path.rstrip("/").rsplit("/", 1)[-1].upper()
        if "/VirtualIOServer/" in path and uuid in self.vios:
            self.vios[uuid].apply(detail, state)
