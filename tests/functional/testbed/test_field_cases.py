"""Field cases through the real stack, judged by nova's own compute manager.

Case C3 (../shared/cases/C3_resync_mid_reboot.py): a guest reboots inside the
OS; NovaLink's feed overflows, so the 'shutting down' and 'not activated'
events are lost; MISSING_EVENTS arrives while the LPAR is 'not activated';
the LPAR starts again 3 s later. Real nova-compute answers a STOPPED for an
ACTIVE instance whose LPAR is off with its stop API: the reboot is killed
and the VM stays off. No STOPPED may reach nova. (Before issue 12 the engine
took the resync's listing for a decision: one wrong nova action here.)
"""

from __future__ import annotations

import pytest

from lpar_eventd.scale.scenarios import FieldBuilder, Scenario

pytestmark = pytest.mark.slow

#: x2, not more: the engine waits a fixed 1 s before a resync (not one of the
#: windows a run compresses), so faster the listing would come after the
#: LPAR already started again, which is not C3 any more.
SPEED = 2.0


def c3() -> tuple[Scenario, str]:
    b = FieldBuilder.for_host("1CAB7366-6B73-342C-9F43-DDFEB9F8EDD3", 3, "C3")
    lpar = b.lpar("running")
    b.lpar("running")                       # an untouched bystander
    b.modify(10.0, lpar, "PartitionState,Other", "shutting down")
    b.modify(13.0, lpar, "PartitionState,Other", "not activated")
    b.lose_events(9.0, 14.0)                # both lost; MISSING_EVENTS at 14
    b.modify(17.0, lpar, "PartitionState,Other", "starting")
    b.modify(20.0, lpar, "PartitionState", "open firmware")
    b.modify(32.0, lpar, "PartitionState,Other", "running")
    return b.finish(), lpar


def test_c3_a_resync_mid_reboot_makes_nova_take_no_wrong_action(host_stack):
    scenario, lpar = c3()
    stack = host_stack(scenario, speed=SPEED)
    assert stack.wait_quiet(timeout=30)                  # the start-up resync
    stack.play().result(timeout=60)
    assert stack.wait_quiet(timeout=60)
    view = stack.nova_view()
    samples = stack.scrape()
    stopped = samples.get('lpar_eventd_lifecycle_events_emitted_total{transition="stopped"}')
    print(f"\nC3 through nova's compute manager: {view}; STOPPED emitted {stopped}")
    assert view.wrong_nova_actions == 0, view.examples
    assert view.mismatch == 0, view.examples
    assert stack.sim.lpar_state(lpar) == "running"
    assert samples['lpar_eventd_resyncs_total{reason="missing_events"}'] == 1
