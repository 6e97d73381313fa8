"""The standalone way, end to end in the host stack: the lpar-eventd daemon
decides, its nova-compute sink sends each decision over a real rabbitmq-server,
the receiver the simulated host's driver starts (embed.receive) hands it to
emit_event, and nova's own compute manager acts on it."""

from __future__ import annotations

import pytest
from nova.compute import power_state, vm_states

from lpar_eventd.scale.scenarios import HostBuilder
from lpar_eventd.testbed.procs import total

from tests.functional.testbed.test_embedded import WAVE, storm_then_wave

pytestmark = pytest.mark.slow


def test_the_daemon_delivers_through_rabbitmq_and_nova_acts_right(rabbitmq, host_stack):
    scenario, wave = storm_then_wave()
    stack = host_stack(scenario, speed=10.0, mode="standalone", transport_url=rabbitmq.url)
    assert stack.wait_quiet(timeout=30)
    stack.play().result(timeout=120)
    stack.finish_changes()
    stack.wait_delivered()
    assert stack.wait_quiet(timeout=60)
    samples = stack.scrape()                       # the daemon's /metrics
    view = stack.nova_view()
    assert (view.wrong_nova_actions, view.missed_nova_actions, view.mismatch) == (0, 0, 0), \
        view.examples
    assert (view.nova_stop_calls, view.nova_force_stop_calls) == (WAVE, 0)
    rows = stack.rows()
    managed = scenario.managed()
    assert {rows[managed[lpar]] for lpar in wave} == {(vm_states.STOPPED, power_state.SHUTDOWN)}
    # every decision the daemon made reached nova through the broker
    handed = stack.witness()["events"]
    assert len(handed) >= total(samples, "lpar_eventd_lifecycle_events_emitted_total") > 0
    assert samples.get('lpar_eventd_retries_total{stage="sink"}', 0) == 0


def test_standalone_needs_a_broker():
    from lpar_eventd.testbed.hoststack import HostOptions, HostStack
    with pytest.raises(ValueError, match="transport_url"):
        HostStack(HostBuilder("x", 1).finish(), None, None,  # type: ignore[arg-type]
                  HostOptions(mode="standalone"))
