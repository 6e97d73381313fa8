"""The nova-compute player: lifecycle events and NovaChange steps on real rows."""

from __future__ import annotations

import uuid

from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.nova.compute_player import ComputePlayer
from lpar_eventd.nova.seed import InstanceSpec, create_instance
from lpar_eventd.scale.scenarios import NO_HOST, OTHER_HOST, THIS_HOST, NovaChange


def _event(u: str, transition: Transition) -> LifecycleEvent:
    return LifecycleEvent(u, u.upper(), transition, "running", 0.0, 15.0)


def _state(player: ComputePlayer, u: str):
    return player.instances([u]).get(u)


class TestLifecycleEvents:
    def test_applies_power_state(self, nova_db):
        u = str(uuid.uuid4())
        create_instance(nova_db, InstanceSpec(u, power_state.SHUTDOWN))
        player = ComputePlayer(nova_db)
        player.emit(_event(u, Transition.STARTED))
        assert _state(player, u).power_state == power_state.RUNNING
        assert player.apply(_event(u, Transition.SUSPENDED))
        assert _state(player, u).power_state == power_state.SUSPENDED
        assert player.applied == 2

    def test_ignored_while_nova_is_in_an_operation(self, nova_db):
        u = str(uuid.uuid4())
        create_instance(nova_db, InstanceSpec(u, power_state.RUNNING, task_states.REBOOTING))
        player = ComputePlayer(nova_db)
        assert not player.apply(_event(u, Transition.STOPPED))
        assert _state(player, u).power_state == power_state.RUNNING
        assert player.ignored == 1

    def test_ignored_for_another_hosts_instance(self, nova_db):
        """nova-compute's power sync refuses an instance whose host is not its own."""
        u = str(uuid.uuid4())
        create_instance(nova_db, InstanceSpec(u, power_state.RUNNING, host="compute-b"))
        player = ComputePlayer(nova_db, compute_host="compute-a")
        assert not player.apply(_event(u, Transition.STOPPED))
        assert _state(player, u).power_state == power_state.RUNNING

    def test_ignored_for_unknown_instance(self, nova_db):
        player = ComputePlayer(nova_db)
        assert not player.apply(_event(str(uuid.uuid4()), Transition.STARTED))


class TestNovaChanges:
    def test_create_operate_delete(self, nova_db):
        u = str(uuid.uuid4())
        player = ComputePlayer(nova_db)
        player.apply_change(NovaChange(1.0, u, task_states.SPAWNING, power_state.NOSTATE,
                                       create=True))
        assert _state(player, u).task_state == task_states.SPAWNING
        player.apply_change(NovaChange(9.0, u, None, power_state.RUNNING))
        info = _state(player, u)
        assert (info.task_state, info.power_state) == (None, power_state.RUNNING)
        player.apply_change(NovaChange(20.0, u, task_states.DELETING))
        assert _state(player, u).task_state == task_states.DELETING
        player.apply_change(NovaChange(30.0, u, delete=True))
        assert _state(player, u) is None

    def test_shelve_offload_then_unshelve_here_moves_the_host(self, nova_db):
        u = str(uuid.uuid4())
        player = ComputePlayer(nova_db, compute_host="compute-a")
        player.apply_change(NovaChange(0.0, u, None, power_state.RUNNING, create=True))
        assert _state(player, u).host == "compute-a"
        player.apply_change(NovaChange(1.0, u, None, power_state.NOSTATE,
                                       vm_state=vm_states.SHELVED_OFFLOADED, host=NO_HOST))
        info = _state(player, u)
        assert (info.host, info.vm_state) == (None, vm_states.SHELVED_OFFLOADED)
        player.apply_change(NovaChange(2.0, u, task_states.SPAWNING, host=THIS_HOST))
        assert _state(player, u).host == "compute-a"
        player.apply_change(NovaChange(3.0, u, None, host=OTHER_HOST))
        assert _state(player, u).host == OTHER_HOST

    def test_change_to_missing_instance_is_ignored(self, nova_db):
        ComputePlayer(nova_db).apply_change(NovaChange(1.0, str(uuid.uuid4()), None))
