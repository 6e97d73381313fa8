"""The field cases (shared/cases, from public bug reports) on the fake clock.

Each class replays one case's timeline through the default policy with the
in-memory adapters and checks the expected values of the cases README; a
second test of each kind varies the pattern, since the cases are examples
of a kind of fault, not the whole of it. Times are seconds from T0.
"""

from __future__ import annotations

import logging

import pytest
from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine.handler import EngineConfig
from lpar_eventd.engine.inmemory import MemoryNvram
from lpar_eventd.engine.ports import LparGone
from lpar_eventd.nvram.directory import DirectoryStore
from tests.unit.engine.conftest import LPAR_A, LPAR_B, lpar_uri

RUNNING_BOTH = {LPAR_A: ("running", power_state.RUNNING),
                LPAR_B: ("running", power_state.RUNNING)}


def stopped_handed_to_nova(world) -> list[str]:
    return [e.lpar_uuid for e in world.sink.events if e.transition.value == "stopped"]


class TestResyncListsAGuestRebootMidWay:
    """C3: lost events, then MISSING_EVENTS while a guest reboot is at 'not
    activated'. Nova answers STOPPED for an ACTIVE instance with its stop API:
    a listed state must hold for the settle window before nova hears it."""

    def test_the_reboot_is_not_reported_stopped(self, make_world):
        world = make_world(lpars=RUNNING_BOTH)
        world.at(10)
        world.host.states[LPAR_A] = "shutting down"       # its event is lost
        world.at(13)
        world.host.states[LPAR_A] = "not activated"       # lost too
        world.at(14)
        world.feed(("MISSING_EVENTS", "", ""))
        world.at(17)
        world.state(LPAR_A, "starting")
        world.at(20)
        world.state(LPAR_A, "open firmware")
        world.at(32)
        world.state(LPAR_A, "running")
        world.at(120)
        assert world.sink.events == []
        assert world.nova.instances[LPAR_A.lower()].power_state == power_state.RUNNING
        assert world.value("resyncs_total", reason="missing_events") == 1
        assert world.host.list_reads == 1
        # the listed LPAR went through its settle: one re-read, after the reboot
        assert world.host.reads == 1

    def test_a_listed_stop_that_holds_reaches_nova_after_the_window(self, make_world):
        world = make_world(lpars=RUNNING_BOTH)
        world.at(10)
        world.host.states[LPAR_A] = "not activated"       # shut down; events lost
        world.feed(("MISSING_EVENTS", "", ""))
        world.at(20)
        assert world.sink.events == []                    # listed at 11: a sample
        world.at(40)
        assert world.transitions() == [(LPAR_A, "stopped")]
        assert world.sink.events[0].decided_at - world.sink.events[0].first_event_at == 15.0
        assert world.nova.instances[LPAR_A.lower()].power_state == power_state.SHUTDOWN

    def test_lpars_listed_in_agreement_cost_nothing_but_the_bulk_call(self, make_world):
        world = make_world(lpars=RUNNING_BOTH)
        world.feed(("NEW_CLIENT", "", ""))
        world.at(60)
        assert world.nova.calls == 1 and world.host.reads == 0
        assert world.value("events_skipped_total", reason="no_transition") == 2


class TestEvacuatedInstanceSeenFromItsOldHost:
    """C4: this host restarts after instance E was evacuated to host-b; E's
    stale LPAR here is 'not activated' until nova-compute's cleanup deletes
    it. Nova's view of E is host-b's to keep (nova-compute refuses it too).
    The shared case script cannot say which host runs E (its HOST_OF is not
    visible to the product): here the in-memory nova knows."""

    E = "5C3D4E5F-6071-4C8D-9EAF-0B1C2D3E4F50"
    L = "6D4E5F60-7182-4D9E-AFB0-1C2D3E4F5061"

    @pytest.fixture
    def world(self, make_world):
        world = make_world(config=EngineConfig(compute_host="host-a"),
                           lpars={self.E: ("not activated", None),
                                  self.L: ("running", power_state.RUNNING)})
        world.nova.add(self.E.lower(), power_state.RUNNING, host="host-b")
        return world

    def test_no_event_for_the_instance_another_host_runs(self, world):
        world.at(0)
        world.feed(("NEW_CLIENT", "", ""))
        world.at(5)
        world.state(self.E, "not activated")               # NovaLink re-reports it
        world.at(40)
        del world.host.states[self.E]
        world.feed(("DELETE_URI", lpar_uri(self.E), ""))
        world.at(100)
        assert world.sink.events == []
        # skipped by the resync's bulk check and by its own settle, counted
        assert world.value("events_skipped_total", reason="other_host") == 2
        assert world.nova.instances[self.E.lower()].power_state == power_state.RUNNING

    def test_a_cold_migrated_instance_is_left_to_its_new_host(self, world):
        """Resize seen from the source: the LPAR is powered off under
        resize_migrating, then nova moves the instance to host-b."""
        inst = world.nova.instances[self.L.lower()]
        inst.task_state = task_states.RESIZE_MIGRATING
        world.state(self.L, "shutting down")
        world.at(4)
        world.state(self.L, "not activated")
        world.at(10)
        inst.task_state, inst.host = task_states.RESIZE_MIGRATED, "host-b"
        world.at(30)
        inst.task_state, inst.vm_state = None, vm_states.RESIZED
        world.state(self.L, "not activated")                # the stale source LPAR
        world.feed(("CACHE_CLEARED", "", ""))
        world.at(120)
        assert world.sink.events == []
        # the first settle (t=19) already sees host-b: nova checks the host
        # before the task_state, and so does the engine; then E in the
        # resync's slice, then L's own settle after the CACHE_CLEARED
        assert world.value("events_skipped_total", reason="other_host") == 3
        assert world.value("events_skipped_total", reason="task_state") == 0

    def test_an_instance_without_a_host_is_not_this_hosts_either(self, world):
        """nova's own check is ``self.host != instance.host``: None differs."""
        inst = world.nova.instances[self.L.lower()]
        inst.host, inst.vm_state = None, vm_states.SHELVED_OFFLOADED
        world.state(self.L, "not activated")
        world.at(60)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="other_host") == 1

    def test_unconfigured_worlds_are_this_host(self, make_world):
        """EngineConfig and the in-memory nova default to the same host name
        (this machine's, as nova-compute's CONF.host does)."""
        world = make_world()
        world.state(LPAR_B, "not activated")
        world.at(30)
        assert world.transitions() == [(LPAR_B, "stopped")]


class TestShelveUnderNovasTaskStates:
    """C5: nova shelves an instance; every PowerVM change is nova's own, under
    task states no fixed list of 'in-operation' states has (shelving_image_*)."""

    def test_no_event_while_any_task_state_is_set(self, make_world):
        world = make_world(lpars={LPAR_A: ("running", power_state.RUNNING)})
        inst = world.nova.instances[LPAR_A.lower()]
        world.at(0)
        inst.task_state = task_states.SHELVING
        world.at(1)
        world.state(LPAR_A, "shutting down")
        world.at(6)
        world.state(LPAR_A, "not activated")
        world.at(6.5)
        world.feed(("MODIFY_URI", lpar_uri(LPAR_A), "NVRAM"))
        world.at(8)
        inst.task_state = task_states.SHELVING_IMAGE_PENDING_UPLOAD
        world.at(10)
        inst.task_state = task_states.SHELVING_IMAGE_UPLOADING
        world.at(190)
        inst.task_state, inst.power_state = None, power_state.SHUTDOWN
        world.at(191)
        inst.task_state = task_states.SHELVING_OFFLOADING
        world.at(200)
        del world.host.states[LPAR_A]
        world.feed(("DELETE_URI", lpar_uri(LPAR_A), ""))
        world.at(201)
        inst.task_state = None
        world.at(260)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="task_state") == 1

    def test_a_task_state_nova_adds_tomorrow_is_skipped_too(self, make_world):
        world = make_world()
        world.nova.instances[LPAR_B.lower()].task_state = "some_future_operation"
        world.state(LPAR_B, "not activated")
        world.at(30)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="task_state") == 1

    def test_after_the_operation_the_next_burst_asks_nova_again(self, make_world):
        world = make_world(lpars={LPAR_A: ("running", power_state.RUNNING)})
        inst = world.nova.instances[LPAR_A.lower()]
        inst.task_state = task_states.SHELVING_IMAGE_UPLOADING
        world.state(LPAR_A, "not activated")
        world.at(30)
        inst.task_state = None          # nova forgot to write SHUTDOWN (a nova bug)
        world.state(LPAR_A, "not activated")               # one event, same state
        world.at(60)
        assert world.transitions() == [(LPAR_A, "stopped")]


class TestNovaOperationAndGuestInsideOneBurst:
    """C8: nova's own start (stop) changes nova's view between two settles,
    and the guest undoes it inside one burst that ends on the state last
    acted on: 'same state as last time' proves nothing, nova must be asked."""

    def _history_and_window(self, world):
        a = world.nova.instances[LPAR_A.lower()]
        b = world.nova.instances[LPAR_B.lower()]
        world.at(1)
        world.state(LPAR_A, "shutting down")     # A shut down from inside, nova told
        world.at(4)
        world.state(LPAR_A, "not activated")
        world.at(5)
        world.state(LPAR_B, "running")           # B: a sub-state change nova agreed with
        world.at(100)
        assert world.transitions() == [(LPAR_A, "stopped")]
        T = 200
        world.at(T)
        a.task_state = task_states.POWERING_ON
        b.task_state = task_states.POWERING_OFF
        world.at(T + 0.5)
        world.state(LPAR_A, "starting")
        world.state(LPAR_B, "shutting down")
        world.at(T + 2)
        world.state(LPAR_A, "open firmware")
        world.at(T + 4)
        a.task_state, a.power_state = None, power_state.RUNNING
        world.state(LPAR_B, "not activated")
        world.at(T + 5)
        b.task_state, b.power_state = None, power_state.SHUTDOWN
        world.at(T + 8)
        world.state(LPAR_B, "starting")           # started outside nova
        world.at(T + 10)
        world.state(LPAR_A, "running")
        world.state(LPAR_B, "open firmware")
        world.at(T + 18)
        world.state(LPAR_A, "shutting down")      # the guest halts again
        world.at(T + 20)
        world.state(LPAR_B, "running")
        world.at(T + 22)
        world.state(LPAR_A, "not activated")
        world.at(T + 200)

    @pytest.mark.parametrize("policy", ["default", "reference"])
    def test_nova_hears_both_and_ends_right(self, make_world, policy):
        world = make_world(policy, lpars=RUNNING_BOTH)
        self._history_and_window(world)
        assert world.transitions()[1:] == [(LPAR_B, "started"), (LPAR_A, "stopped")]
        assert world.nova.instances[LPAR_A.lower()].power_state == power_state.SHUTDOWN
        assert world.nova.instances[LPAR_B.lower()].power_state == power_state.RUNNING
        assert world.value("events_skipped_total", reason="unchanged_state") == 0


class TestNvramOfAnLparBeingDeleted:
    """C9: nova deletes an instance; its NVRAM settles after the LPAR is gone
    but before the DELETE_URI comes. Dropped like a settle that finds the
    LPAR gone: no store error, no retry, no warning."""

    def _delete(self, world):
        world.state(LPAR_A, "running")            # the uuid form gets known
        world.at(30)
        inst = world.nova.instances[LPAR_A.lower()]
        T = 100
        world.at(T)
        inst.task_state = task_states.DELETING
        world.at(T + 0.5)
        world.state(LPAR_A, "shutting down")
        world.at(T + 3)
        world.state(LPAR_A, "not activated")
        world.at(T + 3.5)
        world.feed(("MODIFY_URI", lpar_uri(LPAR_A), "NVRAM"))
        world.at(T + 5.3)
        del world.host.states[LPAR_A]
        world.at(T + 5.8)
        world.feed(("DELETE_URI", lpar_uri(LPAR_A), ""))
        world.at(T + 6)
        del world.nova.instances[LPAR_A.lower()]
        world.at(T + 120)

    def test_the_directory_store_finding_it_gone_is_a_quiet_skip(self, make_world,
                                                                  tmp_path, caplog):
        world = make_world(lpars={LPAR_A: ("running", power_state.RUNNING)})

        def fetch(lpar: str) -> bytes:   # as PypowervmNvramFetcher answers a 404
            if lpar not in world.host.states:
                raise LparGone(lpar)
            return b"TlZSQU0gZGF0YQ=="

        world.handler.ports.nvram = DirectoryStore(tmp_path, fetch, fsync=False)
        with caplog.at_level(logging.WARNING):
            self._delete(world)
        assert world.value("nvram_stores_total", result="error") == 0
        assert world.value("retries_total", stage="nvram") == 0
        assert world.value("events_skipped_total", reason="lpar_gone") == 1
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert world.sink.events == [] and world.handler.idle()

    def test_the_reference_counted_it_as_a_failed_store(self, make_world):
        """The anchors stay as they shipped: a store error, dropped."""
        world = make_world("reference", lpars={LPAR_A: ("running", power_state.RUNNING)})
        world.handler.ports.nvram = MemoryNvram(world.host)   # answers LparGone
        world.host.states.pop(LPAR_A)
        world.feed(("MODIFY_URI", lpar_uri(LPAR_A), "NVRAM"))
        assert world.value("nvram_stores_total", result="error") == 1
        assert world.value("settle_errors_total") == 1
