"""Seeding and updating real nova rows, and the seed-nova command."""

from __future__ import annotations

import uuid

import pytest
from nova import objects
from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine.events import high_bit_uuid
from lpar_eventd.nova import seed
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.lookup import DatabaseLookup
from lpar_eventd.scale.scenarios import build


def _row(db: NovaDatabase, u: str) -> objects.Instance:
    return objects.Instance.get_by_uuid(db.admin_context(), u, expected_attrs=[])


class TestSeeding:
    def test_rows_are_nova_instances(self, nova_db):
        u = str(uuid.uuid4())
        assert seed.seed_instances(nova_db, [seed.InstanceSpec(
            u.upper(), power_state.SHUTDOWN, None, "vm-1")]) == 1
        row = _row(nova_db, u)
        assert (row.uuid, row.power_state, row.task_state) == (u, power_state.SHUTDOWN, None)
        assert row.vm_state == vm_states.STOPPED
        assert (row.project_id, row.user_id, row.display_name) == (
            seed.PROJECT_ID, seed.USER_ID, "vm-1")

    def test_instances_run_on_this_host_unless_told(self, nova_db):
        here, there, none = (str(uuid.uuid4()) for _ in range(3))
        seed.seed_instances(nova_db, [
            seed.InstanceSpec(here, power_state.RUNNING),
            seed.InstanceSpec(there, power_state.RUNNING, host="compute-b"),
            seed.InstanceSpec(none, vm_state=vm_states.SHELVED_OFFLOADED,
                              host=seed.NO_HOST)], this_host="compute-a")
        assert _row(nova_db, here).host == "compute-a"
        assert _row(nova_db, there).host == "compute-b"
        assert (_row(nova_db, none).host, _row(nova_db, none).vm_state) == (
            None, vm_states.SHELVED_OFFLOADED)

    def test_this_host_is_this_machine_by_default_as_in_nova(self, nova_db):
        import socket
        u = str(uuid.uuid4())
        seed.create_instance(nova_db, seed.InstanceSpec(u, power_state.RUNNING))
        assert _row(nova_db, u).host == socket.gethostname()
        assert seed.resolve_host(seed.THIS_HOST, "compute-a") == "compute-a"
        assert seed.resolve_host(seed.NO_HOST) is None
        assert seed.resolve_host("compute-b") == "compute-b"

    def test_spawning_is_building(self, nova_db):
        u = str(uuid.uuid4())
        seed.create_instance(nova_db, seed.InstanceSpec(u, task_state=task_states.SPAWNING))
        assert _row(nova_db, u).vm_state == vm_states.BUILDING

    def test_scenario_specs_carry_other_hosts(self):
        sc = build("evacuated", 10, 1)
        specs = {s.lpar_uuid: s for s in seed.specs_from_scenario(sc)}
        away = [u for u, s in sc.lpars.items() if s.host != seed.THIS_HOST]
        assert away and all(specs[u].host == sc.lpars[u].host for u in away)

    def test_scenario_specs_match_lpars(self):
        sc = build("mixed", 40, 1)
        specs = seed.specs_from_scenario(sc)
        managed = {s.uuid: s.instance for s in sc.lpars.values() if s.instance}
        assert {s.lpar_uuid: s.uuid for s in specs} == managed
        for spec in specs:
            assert spec.uuid in (spec.lpar_uuid.lower(), high_bit_uuid(spec.lpar_uuid))

    def test_instance_uuid_forms(self):
        lpar = "0E6C1A2B-0000-4000-8000-000000000001"
        assert seed.instance_uuid_for(lpar) == lpar.lower()
        assert seed.instance_uuid_for(lpar, high_bit=True)[0] == "8"


class TestUpdates:
    def test_task_and_power_state(self, nova_db):
        u = str(uuid.uuid4())
        seed.create_instance(nova_db, seed.InstanceSpec(u, power_state.RUNNING))
        assert seed.set_task_state(nova_db, u, task_states.POWERING_OFF)
        assert seed.set_power_state(nova_db, u, power_state.SHUTDOWN)
        row = _row(nova_db, u)
        assert (row.task_state, row.power_state, row.vm_state) == (
            task_states.POWERING_OFF, power_state.SHUTDOWN, vm_states.STOPPED)
        assert seed.set_task_state(nova_db, u, None)
        assert _row(nova_db, u).task_state is None

    def test_vm_state_and_host(self, nova_db):
        u = str(uuid.uuid4())
        seed.create_instance(nova_db, seed.InstanceSpec(u, power_state.RUNNING))
        assert seed.update_instance(nova_db, u, host="compute-b", vm_state=vm_states.RESIZED)
        row = _row(nova_db, u)
        assert (row.host, row.vm_state) == ("compute-b", vm_states.RESIZED)

    def test_missing_instance_is_false(self, nova_db):
        u = str(uuid.uuid4())
        assert not seed.set_task_state(nova_db, u, None)
        assert not seed.delete_instance(nova_db, u)

    def test_delete(self, nova_db):
        u = str(uuid.uuid4())
        seed.create_instance(nova_db, seed.InstanceSpec(u))
        assert seed.delete_instance(nova_db, u)
        lookup = DatabaseLookup(database=nova_db)
        assert lookup.get_instance(lookup.admin_context(), u) is None


class TestPowerStateNames:
    @pytest.mark.parametrize("value,expected", [
        ("running", power_state.RUNNING), ("SHUTDOWN", power_state.SHUTDOWN),
        ("nostate", power_state.NOSTATE), ("7", power_state.SUSPENDED), (4, 4)])
    def test_parse(self, value, expected):
        assert seed.parse_power_state(value) == expected

    def test_unknown(self):
        with pytest.raises(ValueError, match="choose from"):
            seed.parse_power_state("flying")


class TestCommand:
    def test_builds_schema_and_seeds_a_scenario(self, tmp_path, capsys):
        path = tmp_path / "demo" / "nova.sqlite"
        lpar = "1E6C1A2B-0000-4000-8000-000000000001"
        assert seed.main(["--sqlite", str(path), "--scenario", "deploy-storm",
                          "--lpars", "5", "--lpar", f"+{lpar}:running:rebooting"]) == 0
        out = capsys.readouterr().out
        assert "nova schema ready" in out and "seeded 1 instances" in out
        db = NovaDatabase(sqlite_url(path))
        row = _row(db, high_bit_uuid(lpar))
        assert (row.power_state, row.task_state) == (power_state.RUNNING, "rebooting")
        db.dispose()

    def test_the_host_of_seeded_instances(self, tmp_path, capsys):
        path = tmp_path / "nova.sqlite"
        here, away = ("1E6C1A2B-0000-4000-8000-00000000000" + n for n in "12")
        assert seed.main(["--sqlite", str(path), "--host", "novalink-a", "--lpar", here,
                          "--lpar", f"{away}:running::compute-b"]) == 0
        db = NovaDatabase(sqlite_url(path))
        assert _row(db, here.lower()).host == "novalink-a"
        assert _row(db, away.lower()).host == "compute-b"
        db.dispose()

    def test_existing_lpars_of_a_scenario(self, nova_db_path, capsys):
        sc = build("reboot-wave", 6, 3)
        assert seed.main(["--connection", sqlite_url(nova_db_path), "--no-sync",
                          "--scenario", "reboot-wave", "--lpars", "6", "--seed", "3"]) == 0
        assert "seeded 6 instances" in capsys.readouterr().out
        db = NovaDatabase(sqlite_url(nova_db_path))
        lookup = DatabaseLookup(database=db)
        found = lookup.get_instances(lookup.admin_context(),
                                     [s.instance for s in sc.lpars.values()])
        assert len(found) == 6
        db.dispose()

    def test_failure_is_one_line_and_exit_1(self, tmp_path, capsys):
        rc = seed.main(["--sqlite", str(tmp_path / "x.sqlite"), "--no-sync",
                        "--lpar", "1E6C1A2B-0000-4000-8000-000000000001"])
        assert rc == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("seed-nova: nova database") and "\n" not in err
