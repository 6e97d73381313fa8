"""Engine benchmark: events per second on one core, bytes per tracked LPAR.

Throughput feeds the raw strings of a recorded-like storm (type, URI,
detail) through ``Event.parse`` and ``accept_batch`` in feed-sized batches,
with settles running against the in-memory ports on a virtual clock, exactly
the work the daemon's feed and scheduler threads do minus the network.
Memory is measured with tracemalloc after N LPARs have each settled (what a
long-running daemon holds) and while they are all pending (a storm's peak).
Figures are medians of several repeats; nothing here asserts a threshold.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import (
    FakeClock, MemoryHost, MemoryNova, MemoryNvram, MemorySink, drive)
from lpar_eventd.metrics import Metrics
from lpar_eventd.scale import scenarios
from lpar_eventd.scale.virtual import BASE_URL, World

__all__ = ["throughput", "memory_per_lpar", "BenchFigures"]


@dataclass
class BenchFigures:
    events: int
    accept_events_per_s: float      # parse + accept only
    total_events_per_s: float       # parse + accept + every settle
    repeats: int


def _raw_stream(scenario: scenarios.Scenario) -> list[tuple[float, str, str, str]]:
    return [(s.at, s.event_type, BASE_URL + s.path if s.path else "", s.detail)
            for s in scenario.host_events()]


def throughput(lpars: int = 2000, repeats: int = 5, batch: int = 50,
               seed: int = 1) -> BenchFigures:
    """Median events/s over ``repeats`` runs of the mixed scenario."""
    scenario = scenarios.build("mixed", lpars, seed)
    raw = _raw_stream(scenario)
    accept_rates, total_rates = [], []
    for _ in range(repeats):
        accept_s, total_s = _one_run(scenario, raw, batch)
        accept_rates.append(len(raw) / accept_s)
        total_rates.append(len(raw) / total_s)
    return BenchFigures(len(raw), statistics.median(accept_rates),
                        statistics.median(total_rates), repeats)


def _one_run(scenario: scenarios.Scenario, raw: list[tuple[float, str, str, str]],
             batch: int) -> tuple[float, float]:
    world = World.of(scenario)
    # the host is settled in its final states so settles do real work
    for step in scenario.host_events():
        world.apply(step)
    clock = FakeClock()
    handler = DefaultHandler(Ports(world.host, world.nova, world.sink, world.nvram),
                             EngineConfig(), Metrics(CollectorRegistry()), clock)
    parse = Event.parse
    accept_time = 0.0
    gc.collect()
    t0 = time.perf_counter()
    for start in range(0, len(raw), batch):
        chunk = raw[start:start + batch]
        a0 = time.perf_counter()
        events = [parse(t, u, d, at) for at, t, u, d in chunk]
        handler.accept_batch(events)
        accept_time += time.perf_counter() - a0
        drive(handler, clock, chunk[-1][0])
    drive(handler, clock, clock.now() + 600.0)
    total = time.perf_counter() - t0
    return accept_time, total


def memory_per_lpar(lpars: int = 10000) -> dict[str, float]:
    """tracemalloc bytes per LPAR: settled (steady state) and all pending (peak)."""
    host = MemoryHost()
    nova = MemoryNova()
    for i in range(lpars):
        uuid = f"{i & 0x7:01X}{i:07X}-0000-4000-8000-{i:012X}"
        host.states[uuid] = "running"
        nova.add(uuid.lower(), 4)
    uris = [f"{BASE_URL}/rest/api/uom/ManagedSystem/0A1B/LogicalPartition/{u}"
            for u in host.states]
    clock = FakeClock()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    handler = DefaultHandler(Ports(host, nova, MemorySink(nova), MemoryNvram()),
                             EngineConfig(), Metrics(CollectorRegistry()), clock)
    for start in range(0, lpars, 100):
        handler.accept_batch([Event.parse("MODIFY_URI", u, "PartitionState,Other",
                                          clock.now()) for u in uris[start:start + 100]])
    gc.collect()
    pending = _diff(tracemalloc.take_snapshot(), base)
    drive(handler, clock, clock.now() + 120.0)
    gc.collect()
    settled = _diff(tracemalloc.take_snapshot(), base)
    tracemalloc.stop()
    return {"lpars": lpars, "pending_bytes_per_lpar": pending / lpars,
            "settled_bytes_per_lpar": settled / lpars,
            "tracked": handler.caches.tracked()}


def _diff(snapshot: tracemalloc.Snapshot, base: tracemalloc.Snapshot) -> int:
    return sum(stat.size_diff for stat in snapshot.compare_to(base, "filename"))
