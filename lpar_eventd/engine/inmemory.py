"""In-memory adapters for every port: a host, a nova, a sink, an NVRAM store.

They are what unit tests and the virtual-clock benchmarks run the engine
against. Each keeps what it recorded on the instance and can be told to fail
its next N calls, so tests can play an unreliable NovaLink or nova.

    clock = FakeClock()
    host, nova = MemoryHost(), MemoryNova()
    sink = MemorySink(nova)        # plays nova-compute: applies what it hears
    handler = DefaultHandler(Ports(host, nova, sink), clock=clock)
    drive(handler, clock, until=clock.now() + 60)

Instances run on the world's own compute host unless told otherwise
(``MemoryNova.compute_host``, by default this machine's name, as
``EngineConfig.compute_host``), so a test that never mentions hosts plays
"this host"; ``add(..., host="compute-b")`` puts one on another host.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping

from nova.compute import power_state

from lpar_eventd.engine import policy
from lpar_eventd.engine.ports import (
    InstanceInfo, LifecycleEvent, LparGone, local_compute_host)

__all__ = ["FakeClock", "MemoryHost", "MemoryNova", "MemorySink", "MemoryNvram",
           "NovaInstance", "OWN_HOST", "drive", "InjectedFailure"]


class InjectedFailure(ConnectionError):
    """What a port told to fail raises."""


class _Faulty:
    """Fail the next ``fail_next`` calls, or every call while ``down``."""

    fail_next: int = 0
    down: bool = False

    def _maybe_fail(self, what: str) -> None:
        if self.down:
            raise InjectedFailure(f"{what}: unavailable")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise InjectedFailure(f"{what}: injected failure")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 0.0):
        self._now = now

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, now: float) -> None:
        self._now = max(self._now, now)


class MemoryHost(_Faulty):
    """A NovaLink host's LPAR states (the StateReader port)."""

    def __init__(self, states: Mapping[str, str] | None = None):
        self.states: dict[str, str] = dict(states or {})
        self.reads = 0
        self.list_reads = 0

    def read_state(self, lpar_uuid: str) -> str:
        self.reads += 1
        self._maybe_fail("NovaLink")
        try:
            return self.states[lpar_uuid]
        except KeyError:
            raise LparGone(lpar_uuid) from None

    def list_lpars(self) -> Mapping[str, str]:
        self.list_reads += 1
        self._maybe_fail("NovaLink")
        return dict(self.states)


@dataclass
class NovaInstance:
    """A nova instance row as the engine sees it (mutable, unlike InstanceInfo)."""

    uuid: str
    power_state: int
    task_state: str | None
    vm_state: str
    host: str | None

    def info(self) -> InstanceInfo:
        return InstanceInfo(self.uuid, self.task_state, self.power_state,
                            self.vm_state, self.host)


class _OwnHost:
    """``MemoryNova.add``'s default host: the world's own compute host."""


OWN_HOST = _OwnHost()


@dataclass
class MemoryNova(_Faulty):
    """Nova's instances (the InstanceLookup port), on ``compute_host`` and others.

    ``refused`` counts the lifecycle events ``apply`` did not act on, by the
    reason nova-compute would give (``other_host``, ``task_state``,
    ``not_found``).
    """

    instances: dict[str, NovaInstance] = field(default_factory=dict)
    calls: int = 0
    contexts: int = 0
    compute_host: str = field(default_factory=local_compute_host)
    refused: Counter[str] = field(default_factory=Counter)

    def add(self, uuid: str, power: int = power_state.NOSTATE,
            task_state: str | None = None, vm_state: str | None = None,
            host: str | None | _OwnHost = OWN_HOST) -> NovaInstance:
        """An instance; vm_state defaults to what its power_state implies,
        host to the world's own compute host (None: no host, e.g. offloaded)."""
        inst = NovaInstance(uuid.lower(), power, task_state,
                            vm_state or policy.implied_vm_state(power, task_state),
                            self.compute_host if isinstance(host, _OwnHost) else host)
        self.instances[inst.uuid] = inst
        return inst

    def admin_context(self) -> Any:
        self.contexts += 1
        return {"is_admin": True, "n": self.contexts}

    def get_instance(self, context: Any, instance_uuid: str) -> InstanceInfo | None:
        self.calls += 1
        self._maybe_fail("nova")
        inst = self.instances.get(instance_uuid.lower())
        return inst.info() if inst else None

    def get_instances(self, context: Any,
                      instance_uuids: Iterable[str]) -> Mapping[str, InstanceInfo]:
        self.calls += 1
        self._maybe_fail("nova")
        out = {}
        for uuid in instance_uuids:
            inst = self.instances.get(uuid.lower())
            if inst is not None:
                out[uuid] = inst.info()
        return out

    def apply(self, event: LifecycleEvent) -> None:
        """What nova-compute does with a lifecycle event: sync its power_state,
        unless the instance is gone, on another host or mid-operation (the
        refusals of nova's ``_sync_instance_power_state``)."""
        inst = self.instances.get(event.instance_uuid)
        if inst is None:
            self.refused["not_found"] += 1
        elif inst.host != self.compute_host:
            self.refused["other_host"] += 1
        elif inst.task_state is not None:
            self.refused["task_state"] += 1
        else:
            inst.power_state = policy.applied_power_state(event.transition)


class MemorySink(_Faulty):
    """Records every lifecycle event; with a MemoryNova, applies it too."""

    def __init__(self, nova: MemoryNova | None = None):
        self.events: list[LifecycleEvent] = []
        self._nova = nova

    def emit(self, event: LifecycleEvent) -> None:
        self._maybe_fail("sink")
        self.events.append(event)
        if self._nova is not None:
            self._nova.apply(event)


class MemoryNvram(_Faulty):
    """Records NVRAM stores as (lpar uuid, instance uuid).

    Given the ``host`` whose LPARs it reads, a store for an LPAR no longer
    on it raises LparGone, as the real stores do on NovaLink's 404.
    """

    def __init__(self, host: MemoryHost | None = None) -> None:
        self.stored: list[tuple[str, str]] = []
        self._host = host

    def store(self, lpar_uuid: str, instance_uuid: str) -> None:
        self._maybe_fail("nvram")
        if self._host is not None and lpar_uuid not in self._host.states:
            raise LparGone(lpar_uuid)
        self.stored.append((lpar_uuid, instance_uuid))


_guard = itertools.count()


def drive(handler: Any, clock: FakeClock, until: float) -> None:
    """Step the fake clock through every due time up to ``until``, running due work."""
    while True:
        nxt = handler.run_due()
        if nxt is None or nxt > until:
            break
        if nxt > clock.now():
            clock.set(nxt)
    clock.set(until)
    handler.run_due()
