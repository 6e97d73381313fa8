"""Play a scenario through a policy on a virtual clock (no network, no sleep).

The world is the in-memory host and nova of ``engine.inmemory``; the sink
is nova-compute by nova's own rules (``nova_rules.RulesCompute``: stale
drops, the power-state sync, stops and forced stops that power LPARs off), so
a policy's mistakes show up as nova's wrong actions and mismatches against
what nova does when told the truth (``nova_judge``). Events close together (``batch_window``) reach
the handler as one batch, as they would in one long-poll response; silent
steps change the host without an event (lost events).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNova, MemoryNvram, drive
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import SKIP_REASONS, Metrics
from lpar_eventd.nova.hosts import resolve_host
from lpar_eventd.scale.nova_judge import NovaView, judge, tell_the_truth
from lpar_eventd.scale.nova_rules import RulesCompute, apply_change
from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario

__all__ = ["World", "RunResult", "play", "play_events", "lower_bound", "read_lower_bound",
           "FIGURES"]

BASE_URL = "https://novalink.example:12443"

# (column name, counter summed over its labels, unused)
FIGURES: list[tuple[str, str, None]] = [
    ("events_received", "events_received_total", None),
    ("coalesced", "events_coalesced_total", None),
    ("skipped", "events_skipped_total", None),
    ("get_instance_calls", "get_instance_calls_total", None),
    ("state_reads", "state_reads_total", None),
    ("lifecycle_events", "lifecycle_events_emitted_total", None),
    ("nvram_stores", "nvram_stores_total", None),
    ("admin_contexts", "admin_context_created_total", None),
    ("resyncs", "resyncs_total", None),
]


@dataclass
class World:
    """The in-memory host and nova a scenario plays on.

    ``nova.compute_host`` is the compute host playing the scenario (its
    THIS_HOST; the engine's ``compute_host`` must be the same).
    """

    host: MemoryHost
    nova: MemoryNova
    sink: RulesCompute
    nvram: MemoryNvram
    scenario: Scenario | None = None

    @classmethod
    def of(cls, scenario: Scenario, compute_host: str | None = None) -> "World":
        host = MemoryHost({u: s.state for u, s in scenario.lpars.items()})
        nova = MemoryNova(compute_host=compute_host) if compute_host else MemoryNova()
        for spec in scenario.lpars.values():
            if spec.instance:
                nova.add(spec.instance, spec.power_state, None, spec.vm_state,
                         resolve_host(spec.host, nova.compute_host))
        return cls(host, nova, RulesCompute(nova.compute_host, nova.instances, host.states),
                   MemoryNvram(host), scenario)

    @property
    def compute_host(self) -> str:
        return self.nova.compute_host

    def apply(self, step: HostEvent | NovaChange) -> None:
        if isinstance(step, NovaChange):
            self._apply_nova(step)
        elif step.lpar is not None and self.sink.takes(step.lpar, step.event_type):
            if step.event_type == "DELETE_URI":
                self.host.states.pop(step.lpar, None)
            elif step.state is not None:
                self.host.states[step.lpar] = step.state

    def _apply_nova(self, step: NovaChange) -> None:
        this = self.nova.compute_host
        if step.create:
            self.nova.add(step.instance, step.power_state or 0, step.task_state,
                          step.vm_state, resolve_host(step.host, this) if step.host else this)
            return
        if step.delete:
            self.nova.instances.pop(step.instance, None)
            return
        inst = self.nova.instances.get(step.instance)
        if inst is None:
            return
        apply_change(inst, step, this)

    def view(self, residual: bool = True) -> NovaView:
        """Nova's whole view of the run so far, judged against the scenario's
        truth (``nova_judge``); with ``residual`` nova's periodic sync runs
        once (it changes the world: call it at the end)."""
        assert self.scenario is not None, "World.of(scenario) knows the truth"
        rules = self.sink.rules
        actions = [(r.instance, r.action or "") for r in rules.actions()]
        stale = sum(1 for r in rules.reactions if r.outcome == "stale")
        final = {u: (i.vm_state, i.power_state) for u, i in self.nova.instances.items()}
        changed = 0
        if residual:
            rules.periodic()
            changed = sum(1 for u, i in self.nova.instances.items()
                          if final.get(u) != (i.vm_state, i.power_state))
        return judge(tell_the_truth(self.scenario, self.compute_host), actions, final,
                     stale, changed)

    def mismatches(self, managed: dict[str, str] | None = None) -> list[str]:
        """Instances whose (vm_state, power_state) is not what nova's rules give
        when told the truth (nova_judge; instances of other hosts included:
        nova's rules leave them alone, as the truth does)."""
        return self.view(residual=False).examples["mismatch"]


@dataclass
class RunResult:
    policy: str
    figures: dict[str, float]
    mismatches: list[str]
    settle_p50: float
    settle_p99: float
    wall_seconds: float
    events: int
    extra: dict[str, Any] = field(default_factory=dict)


def play(scenario: Scenario, policy_name: str, config: EngineConfig | None = None,
         batch_window: float = 0.05) -> RunResult:
    """Run ``scenario`` through ``policy_name``; return its figures."""
    config = config or EngineConfig()
    world = World.of(scenario, config.compute_host)
    clock = FakeClock()
    metrics = Metrics(CollectorRegistry())
    handler = make_handler(policy_name, Ports(world.host, world.nova, world.sink,
                                              world.nvram), config, metrics, clock)
    started = time.perf_counter()
    batch: list[Event] = []
    batch_at = 0.0
    for step in scenario.steps:
        if batch and step.at > batch_at + batch_window:
            handler.accept_batch(batch)
            batch = []
        drive(handler, clock, step.at)
        world.apply(step)
        if isinstance(step, HostEvent) and not step.silent:
            if not batch:
                batch_at = step.at
            batch.append(Event.parse(step.event_type, BASE_URL + step.path if step.path
                                     else "", step.detail, step.at))
    if batch:
        handler.accept_batch(batch)
    tail = config.max_wait_seconds + config.settle_seconds + 120.0
    drive(handler, clock, scenario.duration + tail)
    wall = time.perf_counter() - started
    finals = {u: i.power_state for u, i in sorted(world.nova.instances.items())}
    reactions = world.sink.rules.reactions
    view = world.view()
    return RunResult(
        policy_name, {**_figures(metrics), **view.figures()},
        view.examples["mismatch"], *_settle_quantiles(world.sink.events), wall,
        len(scenario.host_events()),
        {"pending_after": len(handler.queue), "idle": handler.idle(),
         "leaked_timers": len(getattr(handler, "timers", {})),
         "refused_other_host": sum(1 for r in reactions if r.outcome == "other_host"),
         "refused_task_state": sum(1 for r in reactions if r.outcome == "task_state"),
         "final_power_states": finals})


def play_events(events: Iterable[Event], policy_name: str, world: World,
                config: EngineConfig | None = None) -> tuple[Any, Metrics]:
    """Run already-parsed events (a recorded feed) through a policy."""
    config = config or EngineConfig()
    clock = FakeClock()
    metrics = Metrics(CollectorRegistry())
    handler = make_handler(policy_name, Ports(world.host, world.nova, world.sink,
                                              world.nvram), config, metrics, clock)
    for event in events:
        drive(handler, clock, event.received_at)
        handler.accept(event)
    drive(handler, clock, clock.now() + config.max_wait_seconds + 120.0)
    return handler, metrics


def _figures(metrics: Metrics) -> dict[str, float]:
    out = {column: metrics.total(name) for column, name, _ in FIGURES}
    for reason in SKIP_REASONS:
        out["skipped_" + reason] = metrics.value("events_skipped_total", reason=reason)
    return out


def _settle_quantiles(events: list[Any]) -> tuple[float, float]:
    delays = sorted(e.decided_at - e.first_event_at for e in events)
    if not delays:
        return 0.0, 0.0
    return (delays[len(delays) // 2],
            delays[min(len(delays) - 1, int(len(delays) * 0.99))])


def lower_bound(scenario: Scenario, config: EngineConfig | None = None) -> int:
    """Bursts of nova-managed LPARs in which the LPAR's state changed at any
    point: the nova calls a debouncing policy cannot save.

    Each managed LPAR's PartitionState events are cut into bursts the way
    the settle window and max-wait cut them. A burst counts when the LPAR's
    state changed at any moment of it (the scenario's truth knows every
    state, also those whose events were lost), even when it ends on the
    state it began with: nova could have acted meanwhile (a nova start
    writes RUNNING, then the guest halts), and only nova can say whether it
    did, so the policy must ask it (engine/cache.py, the evidence rule). A
    burst of sub-state events only (running -> running) needs no call.

    This replaces the bound that counted only bursts ending on another
    state than they began with: it assumed that a burst ending where it
    began costs nothing, which is the shortcut that left nova wrong (field
    case C8). Changes seen only through a lost-events resync (no event of
    theirs reached the feed) are left out: the resync's bulk calls cover them.
    """
    return sum(1 for _, changed in _bursts(scenario, config) if changed)


def read_lower_bound(scenario: Scenario, config: EngineConfig | None = None) -> int:
    """Every burst of a nova-managed LPAR: the NovaLink state reads any
    debouncing policy needs. The feed names the changed property, never its
    value, so the final state of a burst can only be known by reading it
    once, whether or not it turns out to differ from the last one."""
    return sum(1 for _ in _bursts(scenario, config))


def _bursts(scenario: Scenario, config: EngineConfig | None = None
            ) -> Iterator[tuple[str, bool]]:
    """(LPAR, whether its state changed during the burst) of each settle
    window's burst of PartitionState events of a managed LPAR, cut by the
    settle window and max-wait as the default policy cuts them; a burst
    still waiting when its LPAR's DELETE_URI comes is cancelled, as the
    policy cancels its settle. Silent steps (lost events) open no burst;
    they count as changes of a burst they fall in, and move the truth the
    next steps are compared with."""
    config = config or EngineConfig()
    managed = scenario.managed()
    state: dict[str, str | None] = {u: s.state for u, s in scenario.lpars.items()}
    changed: dict[str, bool] = {}
    bursts: dict[str, tuple[float, float]] = {}

    def close(lpar: str) -> tuple[str, bool]:
        del bursts[lpar]
        return lpar, changed.pop(lpar, False)

    for step in scenario.host_changes():
        lpar = step.lpar
        if lpar is None or lpar not in managed:
            continue
        burst = bursts.get(lpar)
        if burst is not None and (step.at - burst[1] > config.settle_seconds
                                  or step.at - burst[0] >= config.max_wait_seconds):
            yield close(lpar)
            burst = None
        if step.event_type == "DELETE_URI" and not step.silent:
            bursts.pop(lpar, None)    # a settle still waiting is cancelled
            changed.pop(lpar, None)
            continue
        if step.state is None or step.event_type != "MODIFY_URI":
            continue
        if step.state != state.get(lpar) and (burst is not None or not step.silent):
            changed[lpar] = True
        state[lpar] = step.state
        if not step.silent:
            bursts[lpar] = (burst[0] if burst else step.at, step.at)
    for lpar in list(bursts):
        yield close(lpar)
