"""PowerVM state + nova's view -> the transition nova needs."""

import pytest
from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine import policy
from lpar_eventd.engine.ports import Transition


@pytest.mark.parametrize("state,power,expected", [
    ("running", power_state.SHUTDOWN, Transition.STARTED),
    ("starting", power_state.SHUTDOWN, Transition.STARTED),
    ("open firmware", power_state.NOSTATE, Transition.STARTED),
    ("migrating running", power_state.SHUTDOWN, Transition.STARTED),
    ("running", power_state.RUNNING, None),
    ("not activated", power_state.RUNNING, Transition.STOPPED),
    ("error", power_state.RUNNING, Transition.STOPPED),
    ("Unknown", power_state.RUNNING, Transition.STOPPED),
    ("not activated", power_state.SHUTDOWN, None),
    ("suspending", power_state.RUNNING, Transition.SUSPENDED),
    ("suspending", power_state.SUSPENDED, None),
    ("resuming", power_state.SUSPENDED, Transition.RESUMED),
    ("resuming", power_state.RUNNING, None),
    ("shutting down", power_state.RUNNING, None),
    ("hardware discovery", power_state.SHUTDOWN, None),
    ("not available", power_state.RUNNING, None),
])
def test_translation_table(state, power, expected):
    assert policy.translate(state, power) is expected
    assert policy.translate(state, power, settled=False) is expected


def test_settled_suspend_reaches_nova_but_not_in_the_anchor_table():
    assert policy.translate("suspended", power_state.RUNNING) is Transition.SUSPENDED
    assert policy.translate("suspended", power_state.RUNNING, settled=False) is None


def test_nova_is_busy_whatever_the_task_state_as_nova_itself_rules():
    every = [v for k, v in vars(task_states).items() if k.isupper() and isinstance(v, str)]
    assert len(every) > 40
    for ts in every:
        assert policy.nova_is_busy(ts), ts
    assert not policy.nova_is_busy(None)


def test_the_reference_list_lags_nova_as_it_shipped():
    for ts in (task_states.SPAWNING, task_states.REBOOTING, task_states.POWERING_OFF,
               task_states.DELETING, task_states.REBOOT_STARTED_HARD,
               task_states.SHELVING_OFFLOADING, task_states.MIGRATING):
        assert policy.reference_skips(ts)
    for ts in (None, task_states.IMAGE_SNAPSHOT, task_states.SCHEDULING,
               task_states.SHELVING_IMAGE_UPLOADING, task_states.RESIZE_PREP):
        assert not policy.reference_skips(ts)


def test_the_vm_state_a_power_state_implies():
    assert policy.implied_vm_state(power_state.RUNNING) == vm_states.ACTIVE
    assert policy.implied_vm_state(power_state.SHUTDOWN) == vm_states.STOPPED
    assert policy.implied_vm_state(power_state.NOSTATE) == vm_states.BUILDING
    assert policy.implied_vm_state(power_state.RUNNING, task_states.SPAWNING) == \
        vm_states.BUILDING


def test_expected_power_state_after_settling():
    assert policy.expected_power_state("running") == power_state.RUNNING
    assert policy.expected_power_state("suspended") == power_state.SUSPENDED
    assert policy.expected_power_state("not activated") == power_state.SHUTDOWN
    assert policy.expected_power_state("shutting down") is None
