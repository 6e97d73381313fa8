"""The database lookup against a real nova schema (an sqlite copy per test)."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from nova.compute import power_state, task_states, vm_states
from sqlalchemy import event

from lpar_eventd.engine.ports import InstanceInfo
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.errors import NovaUnavailable
from lpar_eventd.nova.lookup import (
    DatabaseLookup, LookupNotFound, lookup_names, make_lookup)
from lpar_eventd.nova.seed import NO_HOST, InstanceSpec, seed_instances


def _uuid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def lookup(nova_db: NovaDatabase) -> DatabaseLookup:
    return DatabaseLookup(database=nova_db)


class TestGetInstance:
    def test_found_reads_power_task_and_vm_state_and_host(self, nova_db, lookup):
        u = _uuid()
        seed_instances(nova_db, [InstanceSpec(u, power_state.RUNNING, task_states.REBOOTING)],
                       this_host="compute-a")
        info = lookup.get_instance(lookup.admin_context(), u)
        assert info == InstanceInfo(u, task_states.REBOOTING, power_state.RUNNING,
                                    vm_states.ACTIVE, "compute-a")

    def test_another_hosts_instance_and_one_without_a_host(self, nova_db, lookup):
        """An evacuated instance runs elsewhere; a shelved-offloaded one has no host."""
        away, offloaded = _uuid(), _uuid()
        seed_instances(nova_db, [
            InstanceSpec(away, power_state.RUNNING, host="compute-b"),
            InstanceSpec(offloaded, power_state.NOSTATE, vm_state=vm_states.SHELVED_OFFLOADED,
                         host=NO_HOST)])
        ctx = lookup.admin_context()
        assert lookup.get_instance(ctx, away).host == "compute-b"
        found = lookup.get_instances(ctx, [away, offloaded])
        assert (found[offloaded].host, found[offloaded].vm_state) == (
            None, vm_states.SHELVED_OFFLOADED)
        assert found[away].host == "compute-b"

    def test_upper_case_uuid_is_found(self, nova_db, lookup):
        u = _uuid()
        seed_instances(nova_db, [InstanceSpec(u, power_state.RUNNING)])
        assert lookup.get_instance(lookup.admin_context(), u.upper()).uuid == u

    def test_not_found_is_none(self, lookup):
        assert lookup.get_instance(lookup.admin_context(), _uuid()) is None

    def test_deleted_instance_is_not_found(self, nova_db, lookup):
        from lpar_eventd.nova.seed import delete_instance
        u = _uuid()
        seed_instances(nova_db, [InstanceSpec(u, power_state.SHUTDOWN)])
        assert delete_instance(nova_db, u)
        assert lookup.get_instance(lookup.admin_context(), u) is None
        assert lookup.get_instances(lookup.admin_context(), [u]) == {}


class TestGetInstances:
    def test_many_uuids_in_one_query(self, nova_db, lookup):
        present = [_uuid() for _ in range(5)]
        seed_instances(nova_db, [InstanceSpec(u, power_state.RUNNING) for u in present])
        absent = [_uuid() for _ in range(5)]
        engine = nova_db._manager.reader.get_engine()
        statements: list[str] = []

        def count(conn, cursor, statement, *args):  # noqa: ANN001
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            found = lookup.get_instances(lookup.admin_context(),
                                         [u.upper() for u in present] + absent)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert sorted(found) == sorted(present)
        assert all(found[u].power_state == power_state.RUNNING for u in present)
        assert len([s for s in statements if "FROM instances" in s]) == 1

    def test_empty_is_no_call(self, lookup):
        assert lookup.get_instances(lookup.admin_context(), []) == {}


class TestUnavailable:
    def test_missing_schema_is_one_line_nova_unavailable(self, tmp_path):
        lookup = DatabaseLookup(connection=sqlite_url(tmp_path / "empty.sqlite"))
        with pytest.raises(NovaUnavailable) as err:
            lookup.get_instance(lookup.admin_context(), _uuid())
        message = str(err.value)
        assert "\n" not in message and "SELECT" not in message
        assert "no such table: instances" in message
        assert message.startswith("nova database sqlite:///")

    def test_unreachable_directory(self, tmp_path):
        lookup = DatabaseLookup(connection=sqlite_url(tmp_path / "missing" / "nova.sqlite"))
        with pytest.raises(NovaUnavailable, match="unable to open database file"):
            lookup.get_instances(lookup.admin_context(), [_uuid()])

    def test_locked_database_fails_fast_then_recovers(self, nova_db_path):
        db = NovaDatabase(sqlite_url(nova_db_path, busy_timeout=0.05))
        lookup = DatabaseLookup(database=db)
        u = _uuid()
        seed_instances(db, [InstanceSpec(u, power_state.RUNNING)])
        locker = sqlite3.connect(nova_db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(NovaUnavailable, match="database is locked"):
                lookup.get_instance(lookup.admin_context(), u)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert lookup.get_instance(lookup.admin_context(), u).uuid == u
        db.dispose()

    def test_sync_builds_the_schema_first(self, tmp_path):
        lookup = DatabaseLookup(connection=sqlite_url(tmp_path / "new.sqlite"), sync=True)
        assert lookup.get_instance(lookup.admin_context(), _uuid()) is None
        lookup.database.dispose()

    def test_needs_a_connection(self):
        with pytest.raises(ValueError):
            DatabaseLookup()


class TestLoading:
    def test_entry_points(self):
        assert {"database", "conductor", "memory"} <= set(lookup_names())

    def test_make_database_lookup_by_name(self, nova_db_path):
        lookup = make_lookup("database", connection=sqlite_url(nova_db_path))
        assert isinstance(lookup, DatabaseLookup)
        assert lookup.get_instance(lookup.admin_context(), _uuid()) is None
        lookup.database.dispose()

    def test_unknown_name(self):
        with pytest.raises(LookupNotFound, match="choose from: .*database"):
            make_lookup("nope")

    def test_admin_context_is_admin_and_targets_the_database(self, nova_db, lookup):
        ctx = lookup.admin_context()
        assert ctx.is_admin
        assert ctx.db_connection is nova_db._manager
