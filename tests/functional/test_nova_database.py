"""The engine's nova lookups against a REAL nova database (sqlite, schema by
nova's db_sync): cost, locks, two writers, the seed command.

What nova does with the engine's decisions is judged by nova's own compute
manager in the host stack tests (test_pipeline_nova_db, tests/functional/testbed).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid

from nova import objects
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemorySink, drive
from lpar_eventd.metrics import Metrics
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.lookup import DatabaseLookup
from lpar_eventd.nova.seed import (InstanceSpec, seed_instances, update_instance)
from lpar_eventd.scale.scenarios import build
from lpar_eventd.scale.virtual import BASE_URL


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


class TestLockedDatabase:
    def test_locked_then_released_every_lpar_converges(self, nova_db_path):
        """nova's database locked by a writer: lookups fail fast, retry, converge."""
        db = NovaDatabase(sqlite_url(nova_db_path, busy_timeout=0.02))
        lpars = {str(uuid.uuid4()).upper(): "running" for _ in range(10)}
        seed_instances(db, [InstanceSpec(u.lower(), power_state.SHUTDOWN) for u in lpars])
        host = MemoryHost(lpars)
        sink = MemorySink()
        clock = FakeClock()
        metrics = Metrics(CollectorRegistry())
        handler = DefaultHandler(Ports(host, DatabaseLookup(database=db), sink),
                                 EngineConfig(), metrics, clock)
        locker = sqlite3.connect(nova_db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            handler.accept_batch([Event.parse(
                "MODIFY_URI", f"{BASE_URL}/rest/api/uom/LogicalPartition/{u}",
                "PartitionState", 0.0) for u in lpars])
            drive(handler, clock, 60.0)
            assert metrics.value("get_instance_calls_total", result="error") >= 10
            assert sink.events == []
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        drive(handler, clock, 300.0)
        assert sorted(e.lpar_uuid for e in sink.events) == sorted(lpars)
        assert {e.transition.value for e in sink.events} == {"started"}
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
    """nova-api and nova-compute write the same sqlite file from two processes."""

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
