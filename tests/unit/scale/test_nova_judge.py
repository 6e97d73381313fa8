"""Judging nova's view: the truth of a scenario, and a run held against it."""

from nova.compute import power_state, vm_states

from lpar_eventd.scale import scenarios
from lpar_eventd.scale.nova_judge import judge, stopped_intervals, tell_the_truth
from lpar_eventd.scale.scenarios import HostBuilder


def one_host(*ops: str) -> tuple[scenarios.Scenario, list[str]]:
    """A host with one LPAR per op: 'halt' (shut down inside the guest),
    'reboot' (a guest reboot), 'hmc-boot' (started outside nova while nova
    says stopped)."""
    b = HostBuilder.for_host("A168A3EC-BB3E-3EAD-86C1-7D98B9D50239", 1, "truth")
    lpars = []
    for i, op in enumerate(ops):
        lpar = b.lpar("not activated" if op == "hmc-boot" else "running")
        t = 10.0 + i
        if op == "halt":
            b.shutdown(t, lpar)
        elif op == "reboot":
            b.reboot(t, lpar, by_nova=False)
        elif op == "hmc-boot":
            b.boot(t, lpar)
        lpars.append(lpar)
    return b.finish(), lpars


def test_the_truth_stops_a_halted_guest_force_stops_an_outside_start_leaves_a_reboot():
    sc, (halt, reboot, boot) = one_host("halt", "reboot", "hmc-boot")
    inst = sc.managed()
    truth = tell_the_truth(sc)
    assert dict(truth.actions) == {(inst[halt], "stop"): 1, (inst[boot], "force_stop"): 1}
    assert truth.final[inst[halt]] == (vm_states.STOPPED, power_state.SHUTDOWN)
    assert truth.final[inst[reboot]] == (vm_states.ACTIVE, power_state.RUNNING)
    assert truth.final[inst[boot]] == (vm_states.STOPPED, power_state.SHUTDOWN)
    assert truth.lpar_final[boot] == "not activated"     # nova powered it off
    assert truth.residual == 0


def test_a_reboots_stopped_gap_is_shorter_than_the_hold():
    sc, (reboot,) = one_host("reboot")
    ((start, end),) = stopped_intervals(sc)[reboot]
    assert 0 < end - start < 15.0


def test_a_run_that_stopped_a_rebooting_guest_made_a_wrong_action_and_left_nova_wrong():
    sc, (reboot,) = one_host("reboot")
    instance = sc.managed()[reboot]
    view = judge(tell_the_truth(sc), [(instance, "stop")],
                 {instance: (vm_states.STOPPED, power_state.SHUTDOWN)}, stale=2)
    assert (view.wrong_nova_actions, view.missed_nova_actions, view.mismatch) == (1, 0, 1)
    assert (view.nova_stop_calls, view.nova_dropped_stale) == (1, 2)
    assert instance in view.examples["wrong"][0]


def test_a_run_that_never_told_nova_of_a_halt_missed_the_stop():
    sc, (halt,) = one_host("halt")
    instance = sc.managed()[halt]
    view = judge(tell_the_truth(sc), [], {instance: (vm_states.ACTIVE, power_state.RUNNING)})
    assert (view.wrong_nova_actions, view.missed_nova_actions, view.mismatch) == (0, 1, 1)


def test_the_mixed_storm_has_nova_stop_force_stop_and_a_crash_left_to_the_periodic_sync():
    truth = tell_the_truth(scenarios.build("mixed", 200, 1))
    kinds = {kind for _, kind in truth.actions}
    assert kinds == {"stop", "force_stop"}
    assert truth.residual > 0        # crashes: nova drops STOPPED (driver: CRASHED)


def test_an_instance_nova_itself_failed_on_is_counted_apart_not_as_a_mismatch():
    sc, (halt,) = one_host("halt")
    instance = sc.managed()[halt]
    view = judge(tell_the_truth(sc), [], {instance: (vm_states.ACTIVE, power_state.SHUTDOWN)},
                 failed=[instance])
    assert (view.nova_failed, view.missed_nova_actions, view.mismatch) == (1, 0, 0)
    assert view.examples["failed"] == [instance]
