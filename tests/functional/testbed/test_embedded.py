"""The engine embedded in nova-compute (lpar_eventd.embed), end to end.

nova's own ComputeManager with the simulated host's driver, which starts
lpar_eventd from init_host on its own pypowervm adapter and hands every
decision to its emit_event: a deploy storm nova drives itself, then a wave of
guests shut down from inside (out of band): nova must hear each halt and stop
the instance, and do nothing else.
"""

from __future__ import annotations

import pytest
from nova.compute import power_state, vm_states

from lpar_eventd.scale import scenarios
from lpar_eventd.scale.scenarios import HostBuilder
from lpar_eventd.testbed.procs import total

pytestmark = pytest.mark.slow

LPARS, WAVE = 20, 8


def storm_then_wave() -> tuple[scenarios.Scenario, list[str]]:
    sc = scenarios.build("deploy-storm", LPARS, 5)
    wave = sorted(sc.managed())[:WAVE]
    b = HostBuilder.for_host(sc.ms_uuid, 11, "wave")
    start = sc.duration + 10.0
    for i, lpar in enumerate(wave):
        b.shutdown(start + 0.7 * i, lpar)
    sc.steps = sorted(sc.steps + b.sc.steps, key=lambda s: s.at)
    return sc, wave


def test_embedded_engine_deploy_storm_and_power_off_wave_leave_nova_right(host_stack):
    scenario, wave = storm_then_wave()
    stack = host_stack(scenario, speed=10.0)
    assert stack.wait_quiet(timeout=30)
    stack.play().result(timeout=120)
    stack.finish_changes()
    stack.wait_delivered()
    assert stack.wait_quiet(timeout=60)
    samples = stack.scrape()
    view = stack.nova_view()
    assert (view.wrong_nova_actions, view.missed_nova_actions, view.mismatch) == (0, 0, 0), \
        view.examples
    assert (view.nova_stop_calls, view.nova_force_stop_calls, view.residual) == (WAVE, 0, 0)
    rows = stack.rows()
    managed = scenario.managed()
    assert {rows[managed[lpar]] for lpar in wave} == {(vm_states.STOPPED, power_state.SHUTDOWN)}
    assert sum(1 for row in rows.values() if row == (vm_states.ACTIVE, power_state.RUNNING)) \
        == LPARS - WAVE
    # the decisions came from the embedded engine, served from inside nova-compute
    assert samples['lpar_eventd_lifecycle_events_emitted_total{transition="stopped"}'] == WAVE
    assert total(samples, "lpar_eventd_events_received_total") >= len(scenario.host_events())
    assert samples.get("process_resident_memory_bytes", 0) > 0
