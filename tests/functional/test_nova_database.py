"""The engine against a REAL nova database (sqlite, schema by nova's db_sync).

Scenarios play as in the virtual-clock benchmark (scale/virtual.py), but nova
is a nova cell database read through nova.objects by the ``database`` lookup,
and nova-compute is played by ``ComputePlayer`` writing real rows: an LPAR
converges only if the right lifecycle event reached a real nova row.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nova import objects
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.scale import oracle
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNvram, drive
from lpar_eventd.metrics import Metrics
from lpar_eventd.nova.compute_player import ComputePlayer
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.lookup import DatabaseLookup
from lpar_eventd.nova.seed import (InstanceSpec, seed_instances, specs_from_scenario,
                                   update_instance)
from lpar_eventd.scale.scenarios import NovaChange, Scenario, build
from lpar_eventd.scale.virtual import BASE_URL
from lpar_eventd.sinks.log import LogSink
from lpar_eventd.sinks.tee import TeeSink


class TestNovaSchema:
    def test_db_sync_builds_nova_schema(self, nova_db_template, nova_db):
        print(f"\nnova db_sync (sqlite): {nova_db_template.sync_seconds:.2f} s")
        assert nova_db_template.sync_seconds < 30
        assert nova_db.version() is not None
        with sqlite3.connect(nova_db_template.path) as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"instances", "instance_extra", "instance_info_caches"} <= tables

    def test_get_by_uuid_cost(self, nova_db):
        u = str(uuid.uuid4())
        seed_instances(nova_db, [InstanceSpec(u, power_state.RUNNING)])
        ctx = nova_db.admin_context()
        objects.Instance.get_by_uuid(ctx, u, expected_attrs=[])  # warm
        n = 200
        started = time.perf_counter()
        for _ in range(n):
            objects.Instance.get_by_uuid(ctx, u, expected_attrs=[])
        each = (time.perf_counter() - started) / n
        print(f"\nInstance.get_by_uuid on sqlite: {each * 1000:.2f} ms")
        assert each < 0.05


@dataclass
class Outage:
    """Make the lookup's path to nova fail between two scenario times."""

    start: float
    end: float
    down: Callable[[], None]
    up: Callable[[], None]
    state: str = "before"

    def step(self, now: float) -> None:
        if self.state == "before" and now >= self.start:
            self.down()
            self.state = "down"
        elif self.state == "down" and now >= self.end:
            self.up()
            self.state = "after"


@dataclass
class Run:
    metrics: Metrics
    handler: DefaultHandler
    player: ComputePlayer
    sink: LogSink
    mismatches: list[str] = field(default_factory=list)

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, **labels)


def play_on_nova(scenario: Scenario, db: NovaDatabase, lookup: DatabaseLookup,
                 outage: Outage | None = None, config: EngineConfig | None = None,
                 batch_window: float = 0.05) -> Run:
    """scale.virtual.play with a real nova database as nova."""
    config = config or EngineConfig()
    host = MemoryHost({u: s.state for u, s in scenario.lpars.items()})
    seed_instances(db, specs_from_scenario(scenario))
    player = ComputePlayer(db)
    log = LogSink()
    clock = FakeClock()
    metrics = Metrics(CollectorRegistry())
    handler = DefaultHandler(Ports(host, lookup, TeeSink(log, player), MemoryNvram()),
                             config, metrics, clock)
    batch: list[Event] = []
    batch_at = 0.0

    def advance(until: float) -> None:
        if outage is None:
            drive(handler, clock, until)
            return
        # step through the outage edges so they happen at their scenario time
        for edge in (outage.start, outage.end):
            if clock.now() < edge <= until:
                drive(handler, clock, edge)
                outage.step(edge)
        drive(handler, clock, until)

    for step in scenario.steps:
        if batch and step.at > batch_at + batch_window:
            handler.accept_batch(batch)
            batch = []
        advance(step.at)
        if isinstance(step, NovaChange):
            player.apply_change(step)
            continue
        if step.lpar is not None:
            if step.event_type == "DELETE_URI":
                host.states.pop(step.lpar, None)
            elif step.state is not None:
                host.states[step.lpar] = step.state
        if not batch:
            batch_at = step.at
        batch.append(Event.parse(step.event_type, BASE_URL + step.path if step.path
                                 else "", step.detail, step.at))
    if batch:
        handler.accept_batch(batch)
    advance(scenario.duration + config.max_wait_seconds + config.settle_seconds + 180.0)
    run = Run(metrics, handler, player, log)
    run.mismatches = _mismatches(scenario, host, player)
    return run


def _mismatches(scenario: Scenario, host: MemoryHost, player: ComputePlayer) -> list[str]:
    return oracle.nova_mismatches(scenario.managed(), host.states, player)


def _lookup_via_link(db_path: Path, link: Path) -> tuple[DatabaseLookup, Outage]:
    """A lookup reaching nova through a symlink that an outage breaks.

    nova itself (the player, on the real path) keeps working, as when the
    network between lpar_eventd and the database fails.
    """
    link.symlink_to(db_path)
    lookup_db = NovaDatabase(sqlite_url(link))

    def down() -> None:
        link.unlink()
        link.symlink_to(db_path.parent / "gone" / db_path.name)
        lookup_db.dispose()   # pooled connections would still reach the file

    def up() -> None:
        link.unlink()
        link.symlink_to(db_path)

    return DatabaseLookup(database=lookup_db), Outage(0.0, 0.0, down, up)


class TestScenarioOnRealNova:
    @pytest.mark.slow
    def test_mixed_converges_with_zero_mismatches(self, nova_db, caplog):
        caplog.set_level("INFO", logger="lpar_eventd.lifecycle")
        scenario = build("mixed", 50, 1)
        run = play_on_nova(scenario, nova_db, DatabaseLookup(database=nova_db))
        assert run.mismatches == []
        emitted = run.metrics.total("lifecycle_events_emitted_total")
        assert emitted > 0 and run.sink.emitted == emitted
        assert run.player.applied + run.player.ignored == emitted
        assert run.value("get_instance_calls_total", result="error") == 0
        assert run.handler.idle()
        lines = [r.getMessage() for r in caplog.records if r.name == "lpar_eventd.lifecycle"]
        assert len(lines) == emitted and all(m.startswith("lifecycle transition=")
                                             for m in lines)

    def _play_with_outage(self, nova_db_path: Path, tmp_path: Path, start: float,
                          end: float) -> Run:
        scenario = build("mixed", 50, 1)
        db = NovaDatabase(sqlite_url(nova_db_path))
        lookup, outage = _lookup_via_link(nova_db_path, tmp_path / "link.sqlite")
        outage.start, outage.end = start, end
        try:
            run = play_on_nova(scenario, db, lookup, outage)
        finally:
            db.dispose()
            lookup.database.dispose()
        assert outage.state == "after"
        return run

    @pytest.mark.slow
    def test_nova_unreachable_for_a_while_then_back_converges(self, nova_db_path,
                                                              tmp_path, caplog):
        # 25 s of scenario time without nova while deploys, reboots and
        # power-offs settle (after the CACHE_CLEARED resync has verified).
        run = self._play_with_outage(nova_db_path, tmp_path, 33.0, 58.0)
        assert run.value("get_instance_calls_total", result="error") > 0
        assert run.value("retries_total", stage="lookup") > 0
        assert run.mismatches == []
        assert run.handler.idle()
        warnings = [r.getMessage() for r in caplog.records
                    if "nova database" in r.getMessage()]
        assert warnings and all("\n" not in m and "unable to open database file" in m
                                for m in warnings)

    @pytest.mark.slow
    def test_nova_unreachable_across_a_resync_converges(self, nova_db_path, tmp_path):
        scenario_span = 60.0  # mixed, 50 LPARs: CACHE_CLEARED at span / 2
        run = self._play_with_outage(nova_db_path, tmp_path, 5.0, scenario_span * 1.45)
        assert run.mismatches == []

class TestLockedDatabase:
    def test_locked_then_released_every_lpar_converges(self, nova_db_path):
        """nova's database locked by a writer: lookups fail fast, retry, converge."""
        db = NovaDatabase(sqlite_url(nova_db_path, busy_timeout=0.02))
        lpars = {str(uuid.uuid4()).upper(): "running" for _ in range(10)}
        seed_instances(db, [InstanceSpec(u.lower(), power_state.SHUTDOWN) for u in lpars])
        host = MemoryHost(lpars)
        player = ComputePlayer(db)
        clock = FakeClock()
        metrics = Metrics(CollectorRegistry())
        handler = DefaultHandler(Ports(host, DatabaseLookup(database=db), player),
                                 EngineConfig(), metrics, clock)
        locker = sqlite3.connect(nova_db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            handler.accept_batch([Event.parse(
                "MODIFY_URI", f"{BASE_URL}/rest/api/uom/LogicalPartition/{u}",
                "PartitionState", 0.0) for u in lpars])
            drive(handler, clock, 60.0)
            assert metrics.value("get_instance_calls_total", result="error") >= 10
            assert player.applied == 0
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        drive(handler, clock, 300.0)
        rows = player.instances([u.lower() for u in lpars])
        assert {r.power_state for r in rows.values()} == {power_state.RUNNING}
        assert metrics.value("lifecycle_events_emitted_total", transition="started") == 10
        assert handler.idle()
        db.dispose()


def test_seed_nova_command_then_lookup(tmp_path):
    """The seed-nova path a demo takes: build, seed from a scenario, look up."""
    from lpar_eventd.nova.seed import main
    path = tmp_path / "demo.sqlite"
    assert main(["--sqlite", str(path), "--scenario", "reboot-wave", "--lpars", "4"]) == 0
    assert os.path.exists(path)
    scenario = build("reboot-wave", 4, 1)
    lookup = DatabaseLookup(connection=sqlite_url(path))
    found = lookup.get_instances(lookup.admin_context(),
                                 [s.instance for s in scenario.lpars.values()])
    assert {i.power_state for i in found.values()} == {power_state.RUNNING}
    lookup.database.dispose()


class TestTwoWriters:
    """nova-api and the daemon's compute sink write the same sqlite file."""

    def test_concurrent_instance_saves_queue_instead_of_failing(self, nova_db_path):
        with sqlite3.connect(nova_db_path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        url = sqlite_url(nova_db_path, busy_timeout=10.0)
        writers = [NovaDatabase(url), NovaDatabase(url)]  # two engines: two "processes"
        uuids = [str(uuid.uuid4()) for _ in writers]
        seed_instances(writers[0], [InstanceSpec(u, power_state.SHUTDOWN) for u in uuids])
        failures: list[BaseException] = []

        def save_many(db: NovaDatabase, instance: str) -> None:
            for i in range(60):
                try:
                    update_instance(db, instance, power_state=i % 2)
                except Exception as exc:  # collected: the assertion names it
                    failures.append(exc)

        threads = [threading.Thread(target=save_many, args=pair)
                   for pair in zip(writers, uuids)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for db in writers:
            db.dispose()
        assert failures == []
