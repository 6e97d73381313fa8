"""A small in-memory world for engine scenarios: one host, one nova, a fake clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import EngineConfig, Ports
from lpar_eventd.engine.inmemory import (
    FakeClock, MemoryHost, MemoryNova, MemoryNvram, MemorySink, drive)
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import Metrics

MS = "https://nl.example:12443/rest/api/uom/ManagedSystem/1B8A6C6E-0D0B-3E5E-9B5C-3A7B0E1F2A3B"
LPAR_A = "2F7D3C4A-1B2C-4D5E-8F90-A1B2C3D4E5F6"
LPAR_B = "3A1B2C3D-4E5F-4A6B-9C8D-E7F6A5B4C3D2"
VIOS = "0E2F1A3B-5C6D-4E7F-8091-A2B3C4D5E6F7"
T0 = 1000.0   # the fake clock's start: scenario time 0


def lpar_uri(uuid: str) -> str:
    return f"{MS}/LogicalPartition/{uuid}"


@dataclass
class World:
    clock: FakeClock
    host: MemoryHost
    nova: MemoryNova
    sink: MemorySink
    nvram: MemoryNvram
    metrics: Metrics
    handler: object

    def feed(self, *events: tuple[str, str, str]) -> None:
        """One feed response: (EventType, URI, EventDetail) triples, now."""
        self.handler.accept_batch([Event.parse(t, u, d, self.clock.now())
                                   for t, u, d in events])

    def state(self, uuid: str, state: str, detail: str = "PartitionState,Other") -> None:
        """The host changes an LPAR's state and says so on the feed."""
        self.host.states[uuid] = state
        self.feed(("MODIFY_URI", lpar_uri(uuid), detail))

    def wait(self, seconds: float) -> None:
        drive(self.handler, self.clock, self.clock.now() + seconds)

    def at(self, t: float) -> None:
        """Run everything due up to scenario time ``t`` (seconds from T0)."""
        drive(self.handler, self.clock, T0 + t)

    def now(self) -> float:
        return self.clock.now() - T0

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, **labels)

    def transitions(self) -> list[tuple[str, str]]:
        return [(e.lpar_uuid, e.transition.value) for e in self.sink.events]


@pytest.fixture
def make_world():
    def _make(policy: str = "default", config: EngineConfig | None = None,
              lpars: dict[str, tuple[str, int | None]] | None = None) -> World:
        """lpars: uuid -> (PowerVM state, nova power_state or None if unmanaged)."""
        lpars = lpars if lpars is not None else {
            LPAR_A: ("not activated", power_state.SHUTDOWN),
            LPAR_B: ("running", power_state.RUNNING),
        }
        config = config or EngineConfig()
        clock = FakeClock(T0)
        host = MemoryHost({u: s for u, (s, _) in lpars.items()})
        nova = MemoryNova(compute_host=config.compute_host)
        for uuid, (_, power) in lpars.items():
            if power is not None:
                nova.add(uuid.lower(), power)
        sink = MemorySink(nova)
        nvram = MemoryNvram()
        metrics = Metrics(CollectorRegistry())
        handler = make_handler(policy, Ports(host, nova, sink, nvram), config, metrics,
                               clock)
        return World(clock, host, nova, sink, nvram, metrics, handler)
    return _make


@pytest.fixture
def world(make_world):
    return make_world()
