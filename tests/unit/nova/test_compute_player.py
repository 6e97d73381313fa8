"""The nova-compute player: lifecycle events and NovaChange steps on real rows."""

from __future__ import annotations

import uuid

from nova.compute import power_state, task_states

from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.nova.compute_player import ComputePlayer
from lpar_eventd.nova.seed import InstanceSpec, create_instance
from lpar_eventd.scale.scenarios import NovaChange


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

    def test_change_to_missing_instance_is_ignored(self, nova_db):
        ComputePlayer(nova_db).apply_change(NovaChange(1.0, str(uuid.uuid4()), None))
