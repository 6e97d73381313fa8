"""The default policy, scenario by scenario, on a fake clock."""

import logging

from nova.compute import power_state, task_states

from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNova, MemoryNvram, MemorySink
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import Metrics
from tests.unit.engine.conftest import LPAR_A, LPAR_B, MS, VIOS, lpar_uri

BOOT = ["starting", "open firmware", "open firmware", "running", "running"]


def boot(world, uuid=LPAR_A):
    """A VM boot as NovaLink reports it: PartitionState changes among progress codes."""
    for state in BOOT:
        world.state(uuid, state)
        world.wait(1.0)
        world.feed(("MODIFY_URI", lpar_uri(uuid), "ReferenceCode,Other"))
        world.wait(1.0)


class TestBootStorm:
    def test_a_boot_collapses_to_one_read_one_lookup_one_event(self, world):
        boot(world)
        assert world.sink.events == []  # still inside the settle window
        world.wait(15.0)
        assert world.transitions() == [(LPAR_A, "started")]
        assert world.value("get_instance_calls_total", result="hit") == 1
        assert world.value("state_reads_total", result="ok") == 1
        assert world.value("events_coalesced_total", kind="partition_state") == 4
        assert world.value("events_received_total", type="modify") == 10
        assert world.value("partition_state_events_total") == 5
        assert world.value("lifecycle_events_emitted_total", transition="started") == 1
        assert world.value("pending_settles") == 0
        assert world.nova.instances[LPAR_A.lower()].power_state == power_state.RUNNING

    def test_settle_delay_is_measured_from_the_first_event(self, world):
        boot(world)
        world.wait(15.0)
        event = world.sink.events[0]
        # first PartitionState event at +0 s, last at +8 s, settled 15 s later
        assert event.decided_at - event.first_event_at == 23.0
        assert world.value("settle_delay_seconds_count") == 1

    def test_the_admin_context_is_created_once(self, world):
        boot(world, LPAR_A)
        world.wait(20.0)
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert len(world.sink.events) == 2
        assert world.value("admin_context_created_total") == 1
        assert world.nova.contexts == 1


class TestUnchangedState:
    """The evidence rule of engine/cache.py: when a settle may skip nova."""

    def test_one_sub_state_event_on_the_state_last_compared_asks_nova_nothing(self, world):
        boot(world)
        world.wait(20.0)
        calls = world.nova.calls
        world.state(LPAR_A, "running")  # a sub-state change: one event, same state
        world.wait(20.0)
        assert world.nova.calls == calls
        assert world.value("events_skipped_total", reason="unchanged_state") == 1

    def test_a_burst_that_ends_where_it_began_asks_nova(self, world):
        boot(world)
        world.wait(20.0)
        calls = world.nova.calls
        world.state(LPAR_A, "shutting down")
        world.wait(2.0)
        world.state(LPAR_A, "starting")
        world.wait(2.0)
        world.state(LPAR_A, "running")  # an in-guest reboot, all within the window
        world.wait(20.0)
        # the LPAR moved and came back: nova could have acted meanwhile
        assert world.nova.calls == calls + 1
        assert world.value("events_skipped_total", reason="unchanged_state") == 0
        assert world.value("events_skipped_total", reason="no_transition") == 1
        assert world.transitions() == [(LPAR_A, "started")]

    def test_a_skip_uses_the_evidence_up(self, world):
        boot(world)
        world.wait(20.0)
        calls = world.nova.calls
        for _ in range(2):  # two one-event bursts may hide a move and back
            world.state(LPAR_A, "running")
            world.wait(20.0)
        assert world.nova.calls == calls + 1
        assert world.value("events_skipped_total", reason="unchanged_state") == 1

    def test_no_transition_when_nova_already_agrees(self, world):
        world.state(LPAR_B, "running")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="no_transition") == 1
        # and it is remembered: the next one-event same-state burst costs no call
        world.state(LPAR_B, "running")
        world.wait(20.0)
        assert world.value("get_instance_calls_total", result="hit") == 1

    def test_lost_events_void_the_evidence(self, world):
        world.state(LPAR_B, "running")
        world.wait(20.0)
        world.feed(("MISSING_EVENTS", "", ""))
        world.state(LPAR_B, "running")  # pending through the resync: not verified by it
        world.wait(20.0)
        assert world.value("events_skipped_total", reason="unchanged_state") == 0
        assert world.value("get_instance_calls_total", result="hit") == 3  # settle, slice, settle

    def test_a_max_wait_flush_asks_nova(self, make_world):
        world = make_world(config=EngineConfig(settle_seconds=15.0, max_wait_seconds=10.0))
        world.state(LPAR_B, "running")
        world.wait(20.0)
        calls = world.nova.calls
        world.state(LPAR_B, "running")  # one event, but settled at max-wait
        world.wait(20.0)
        assert world.nova.calls == calls + 1
        assert world.value("max_wait_flushes_total") == 2


class TestFlapping:
    def test_a_flapper_still_settles_at_max_wait(self, world):
        states = ["running", "open firmware"]
        for i in range(30):  # an event every 4 s for 2 minutes
            world.state(LPAR_A, states[i % 2])
            world.wait(4.0)
        assert world.value("max_wait_flushes_total") >= 1
        assert len(world.sink.events) >= 1
        first = world.sink.events[0]
        assert first.decided_at - first.first_event_at <= 60.0 + 1e-6


class TestTaskState:
    def test_nova_mid_operation_is_left_alone(self, world):
        world.nova.instances[LPAR_B.lower()].task_state = task_states.POWERING_OFF
        world.state(LPAR_B, "shutting down")
        world.wait(3.0)
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="task_state") == 1

    def test_any_task_state_is_left_alone_as_nova_itself_does(self, world):
        """shelve's shelving_image_uploading is in no fixed list (field case C5)."""
        world.nova.instances[LPAR_B.lower()].task_state = task_states.SHELVING_IMAGE_UPLOADING
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="task_state") == 1

    def test_after_a_task_state_skip_the_next_settle_asks_nova_again(self, world):
        inst = world.nova.instances[LPAR_B.lower()]
        inst.task_state = task_states.POWERING_OFF
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        inst.task_state, inst.power_state = None, power_state.SHUTDOWN
        # then the LPAR is started outside nova: nova must hear it
        world.state(LPAR_B, "running")
        world.wait(20.0)
        assert world.transitions() == [(LPAR_B, "started")]


class TestOtherHost:
    """nova-compute refuses to sync an instance another host runs: so do we."""

    def test_an_instance_on_another_host_is_skipped_and_counted(self, make_world):
        world = make_world(config=EngineConfig(compute_host="compute-a"))
        world.nova.instances[LPAR_B.lower()].host = "compute-b"   # evacuated
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="other_host") == 1

    def test_an_instance_without_a_host_is_not_this_hosts(self, world):
        world.nova.instances[LPAR_B.lower()].host = None           # shelved offloaded
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="other_host") == 1

    def test_instances_of_this_host_by_default(self, world):
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.transitions() == [(LPAR_B, "stopped")]


class TestInstanceLookup:
    def test_an_lpar_nova_does_not_know_costs_one_call_then_none(self, make_world):
        world = make_world(lpars={LPAR_A: ("not activated", None)})
        for _ in range(3):
            world.state(LPAR_A, "running")
            world.wait(20.0)
            world.state(LPAR_A, "not activated")
            world.wait(20.0)
        assert world.nova.calls == 1  # both uuid forms, one call
        assert world.value("get_instance_calls_total", result="not_found") == 1
        assert world.value("instance_cache_hits_total") == 5
        assert world.value("events_skipped_total", reason="instance_not_found") == 6
        assert world.host.reads == 1  # and no NovaLink read after the first

    def test_the_high_bit_form_is_found_and_remembered(self, make_world):
        world = make_world(lpars={})
        world.host.states[LPAR_A] = "not activated"
        high = "a" + LPAR_A.lower()[1:]
        world.nova.add(high, power_state.RUNNING)
        world.state(LPAR_A, "not activated")
        world.wait(20.0)
        assert world.transitions() == [(LPAR_A, "stopped")]
        assert world.sink.events[0].instance_uuid == high
        world.state(LPAR_A, "running")
        world.wait(20.0)
        assert world.nova.calls == 2
        assert world.value("instance_cache_hits_total") == 1

    def test_a_vios_or_managed_system_uri_is_not_an_lpar(self, world):
        world.feed(("MODIFY_URI", f"{MS}/VirtualIOServer/{VIOS}", "PartitionState,Other"),
                   ("MODIFY_URI", MS, "Other"))
        world.wait(20.0)
        assert world.value("events_skipped_total", reason="not_lpar") == 2
        assert world.host.reads == 0 and world.nova.calls == 0


class TestDelete:
    def test_delete_mid_delay_cancels_and_forgets(self, world):
        world.state(LPAR_A, "running")
        world.wait(5.0)
        del world.host.states[LPAR_A]
        world.feed(("DELETE_URI", lpar_uri(LPAR_A), ""))
        assert world.value("pending_settles") == 0
        world.wait(30.0)
        assert world.host.reads == 0 and world.sink.events == []

    def test_an_lpar_gone_at_settle_time_is_dropped(self, world):
        world.state(LPAR_A, "running")
        del world.host.states[LPAR_A]
        world.wait(20.0)
        assert world.value("events_skipped_total", reason="lpar_gone") == 1
        assert world.value("state_reads_total", result="gone") == 1
        assert world.nova.calls == 0 and world.handler.idle()


class TestResync:
    def test_cache_cleared_lists_once_and_settles_only_where_nova_disagrees(self, world):
        # both LPARs changed while NovaLink's cache was being cleared: no events
        world.host.states[LPAR_A] = "running"
        world.host.states[LPAR_B] = "not activated"
        world.feed(("CACHE_CLEARED", "", ""))
        world.wait(5.0)
        # one listing, one bulk call; a listed state is a sample, not a decision
        assert world.host.list_reads == 1 and world.nova.calls == 1
        assert world.transitions() == []
        world.wait(15.0)  # the ordinary settle: window, re-read, decide
        assert sorted(world.transitions()) == sorted([(LPAR_A, "started"),
                                                      (LPAR_B, "stopped")])
        assert world.host.reads == 2 and world.nova.calls == 3
        assert world.value("resyncs_total", reason="cache_cleared") == 1

    def test_where_listing_and_nova_agree_the_resync_costs_one_bulk_call(self, world):
        world.feed(("NEW_CLIENT", "", ""))
        world.wait(30.0)
        assert world.host.list_reads == 1 and world.nova.calls == 1
        assert world.host.reads == 0 and world.sink.events == []
        assert world.value("events_skipped_total", reason="no_transition") == 2

    def test_a_burst_of_resync_triggers_makes_one_resync(self, world):
        world.feed(("NEW_CLIENT", "", ""), ("CACHE_CLEARED", "", ""))
        world.wait(0.5)
        world.feed(("MISSING_EVENTS", "", ""))
        world.wait(5.0)
        assert world.host.list_reads == 1
        assert world.value("resyncs_total", reason="new_client") == 1
        assert world.value("resyncs_total", reason="missing_events") == 1

    def test_resyncs_are_rate_limited(self, world):
        world.feed(("CACHE_CLEARED", "", ""))
        world.wait(2.0)
        world.feed(("CACHE_CLEARED", "", ""))
        world.wait(2.0)
        assert world.host.list_reads == 1
        world.wait(10.0)
        assert world.host.list_reads == 2

    def test_resync_forgets_lpars_that_are_gone_and_skips_pending_ones(self, world):
        world.state(LPAR_A, "running")
        world.wait(20.0)
        world.state(LPAR_B, "not activated")
        del world.host.states[LPAR_A]
        world.feed(("MISSING_EVENTS", "", ""))
        world.wait(2.0)
        assert LPAR_A not in world.handler.caches.known()
        # LPAR_B's own settle is still pending, the resync left it alone
        assert world.transitions() == [(LPAR_A, "started")]
        world.wait(20.0)
        assert world.transitions()[-1] == (LPAR_B, "stopped")

    def test_resync_spreads_bulk_calls_over_time(self, make_world):
        lpars = {f"{i:08X}-0000-4000-8000-000000000000": ("running", power_state.RUNNING)
                 for i in range(250)}
        world = make_world(config=EngineConfig(resync_batch_size=100,
                                               resync_batch_interval_seconds=1.0),
                           lpars=lpars)
        world.feed(("NEW_CLIENT", "", ""))
        world.wait(1.5)
        assert world.nova.calls == 1
        world.wait(2.0)
        assert world.nova.calls == 3
        assert world.value("events_skipped_total", reason="no_transition") == 250


class TestFailures:
    def test_a_failing_lookup_is_retried_with_backoff_and_others_go_on(self, world):
        world.nova.fail_next = 2
        world.state(LPAR_A, "running")
        world.state(LPAR_B, "not activated")
        world.wait(15.0)
        assert world.value("retries_total", stage="lookup") == 2
        assert world.value("get_instance_calls_total", result="error") == 2
        world.wait(5.0)
        assert sorted(world.transitions()) == sorted([(LPAR_A, "started"),
                                                      (LPAR_B, "stopped")])
        assert world.handler.idle()

    def test_backoff_doubles_and_is_capped(self, make_world):
        world = make_world(config=EngineConfig(retry_base_seconds=1.0,
                                               retry_max_seconds=4.0))
        world.host.down = True
        world.state(LPAR_A, "running")
        world.wait(15.0)
        times = []
        for _ in range(6):
            before = world.value("retries_total", stage="state_read")
            nxt = world.handler.run_due()
            times.append(nxt - world.clock.now())
            world.clock.set(nxt)
            world.handler.run_due()
            assert world.value("retries_total", stage="state_read") == before + 1
        assert times[:4] == [1.0, 2.0, 4.0, 4.0]
        world.host.down = False
        world.wait(5.0)
        assert world.transitions() == [(LPAR_A, "started")]

    def test_a_failing_sink_is_retried_and_nothing_is_lost(self, world):
        world.sink.fail_next = 1
        world.state(LPAR_A, "running")
        world.wait(20.0)
        assert world.value("retries_total", stage="sink") == 1
        assert world.transitions() == [(LPAR_A, "started")]

    def test_an_unexpected_error_is_contained_counted_and_retried(self, world):
        calls = {"n": 0}
        real = world.nova.get_instances

        def broken(context, uuids):
            calls["n"] += 1
            if calls["n"] == 1:
                raise KeyError("bug in an adapter")
            return real(context, uuids)

        world.nova.get_instances = broken
        world.state(LPAR_A, "running")
        world.wait(20.0)
        assert world.value("settle_errors_total") == 0  # a port error, counted as lookup
        assert world.value("retries_total", stage="lookup") == 1
        assert world.transitions() == [(LPAR_A, "started")]


class TestEventOrder:
    def test_an_event_during_a_settle_rearms_after_it(self, world):
        seen = []
        real = world.host.read_state

        def read_and_change(uuid):
            state = real(uuid)
            seen.append(state)
            if len(seen) == 1:  # the LPAR changes while we settle it
                world.host.states[uuid] = "not activated"
                world.feed(("MODIFY_URI", lpar_uri(uuid), "PartitionState"))
            return state

        world.host.read_state = read_and_change
        world.state(LPAR_A, "running")
        world.wait(15.0)
        assert world.transitions() == [(LPAR_A, "started")]
        world.wait(15.0)
        assert seen == ["running", "not activated"]
        assert world.transitions()[-1] == (LPAR_A, "stopped")


class TestBounded:
    def test_past_max_pending_the_oldest_settle_early(self, make_world):
        lpars = {f"{i:08X}-0000-4000-8000-000000000000": ("not activated", power_state.RUNNING)
                 for i in range(10)}
        world = make_world(config=EngineConfig(max_pending=4), lpars=lpars)
        for uuid in lpars:
            world.state(uuid, "not activated")
        assert world.value("early_settles_total") == 6
        world.wait(0.0)
        assert len(world.sink.events) == 6
        world.wait(20.0)
        assert len(world.sink.events) == 10


class TestNvram:
    def test_an_nvram_burst_is_one_store(self, world):
        world.state(LPAR_B, "running")
        world.wait(20.0)  # the uuid form is known now
        for _ in range(5):
            world.feed(("MODIFY_URI", lpar_uri(LPAR_B), "NVRAM"))
            world.wait(0.5)
        world.wait(5.0)
        assert world.nvram.stored == [(LPAR_B, LPAR_B.lower())]
        assert world.value("events_coalesced_total", kind="nvram") == 4
        assert world.value("nvram_stores_total", result="ok") == 1

    def test_nvram_of_a_booting_lpar_waits_for_its_settle_instead_of_a_call(self, world):
        world.feed(("MODIFY_URI", lpar_uri(LPAR_A), "NVRAM"))
        boot(world)
        world.wait(30.0)
        assert world.nova.calls == 1
        assert world.nvram.stored == [(LPAR_A, LPAR_A.lower())]


class TestNvramOfAGoneLpar:
    """A store that finds the LPAR gone (nova deleting it) is a quiet skip."""

    def test_it_is_skipped_not_an_error_nor_retried(self, world, caplog):
        world.handler.ports.nvram = MemoryNvram(world.host)   # answers LparGone
        world.state(LPAR_B, "running")
        world.wait(20.0)                                      # its uuid form is known
        world.feed(("MODIFY_URI", lpar_uri(LPAR_B), "NVRAM"))
        world.wait(1.0)
        del world.host.states[LPAR_B]                         # gone before the store
        with caplog.at_level(logging.WARNING):
            world.wait(5.0)
        assert world.value("events_skipped_total", reason="lpar_gone") == 1
        assert world.value("nvram_stores_total", result="error") == 0
        assert world.value("retries_total", stage="nvram") == 0
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert world.handler.idle()

    def test_the_anchors_count_it_as_a_failed_store_as_they_did(self, make_world):
        world = make_world("reference")
        world.handler.ports.nvram = MemoryNvram(world.host)
        del world.host.states[LPAR_B]
        world.feed(("MODIFY_URI", lpar_uri(LPAR_B), "NVRAM"))
        assert world.value("nvram_stores_total", result="error") == 1
        assert world.value("settle_errors_total") == 1


class TestUnknownInput:
    def test_unknown_event_types_are_counted_and_ignored(self, world):
        world.feed(("SOMETHING_NEW", lpar_uri(LPAR_A), "PartitionState"),
                   ("INVALID_URI", lpar_uri(LPAR_A), ""),
                   ("", "", ""))
        world.wait(20.0)
        assert world.value("events_received_total", type="other") == 3
        assert world.host.reads == 0 and world.handler.idle()

    def test_malformed_uris_are_not_lpars(self, world):
        world.feed(("MODIFY_URI", "https://h/rest/api/uom/LogicalPartition/xyz", "PartitionState"),
                   ("MODIFY_URI", "\udcff\x00", "PartitionState"))
        world.wait(20.0)
        assert world.value("events_skipped_total", reason="not_lpar") == 2


class TestShutdown:
    def test_cancel_drops_pending_settles(self, world):
        world.state(LPAR_A, "not activated")
        assert world.handler.shutdown("cancel") == 1
        world.wait(30.0)
        assert world.sink.events == [] and world.value("pending_settles") == 0

    def test_settle_mode_flushes_them_now(self, world):
        world.state(LPAR_B, "not activated")
        assert world.handler.shutdown("settle") == 1
        world.wait(0.0)
        assert world.transitions() == [(LPAR_B, "stopped")]


class TestResyncSliceRetry:
    def test_a_retried_slice_never_applies_a_state_listed_before_a_change(self, world):
        world.nova.down = True
        world.feed(("CACHE_CLEARED", "", ""))
        world.wait(3.0)  # listed: A not activated, B running; the slice fails
        assert world.value("retries_total", stage="lookup") >= 1
        world.state(LPAR_B, "not activated")  # B changes while nova is down
        world.wait(1.0)
        world.nova.down = False
        world.wait(60.0)
        # B's own settle told nova STOPPED; the slice must not undo it with 'running'
        assert world.transitions() == [(LPAR_B, "stopped")]
        assert world.nova.instances[LPAR_B.lower()].power_state == power_state.SHUTDOWN
        assert not world.handler._chunks and not world.handler._chunk_of


class _HeldExecutor:
    """A pool whose workers are all busy until the test lets a job run."""

    def __init__(self):
        self.jobs = []

    def submit(self, fn, *args):
        self.jobs.append((fn, args))

    def run_one(self):
        fn, args = self.jobs.pop(0)
        fn(*args)


class TestScheduling:
    def test_a_full_pool_sleeps_until_a_settle_finishes_instead_of_spinning(self):
        clock = FakeClock(1000.0)
        host = MemoryHost({LPAR_A: "not activated", LPAR_B: "running"})
        nova = MemoryNova()
        pool = _HeldExecutor()
        handler = make_handler("default", Ports(host, nova, MemorySink(nova), MemoryNvram()),
                               EngineConfig(max_concurrent=1),
                               Metrics(CollectorRegistry()), clock, executor=pool)
        woken = []
        handler.wakeup = lambda: woken.append(clock.now())
        for uuid in (LPAR_A, LPAR_B):
            handler.accept_batch([Event.parse("MODIFY_URI", lpar_uri(uuid),
                                              "PartitionState", clock.now())])
        clock.advance(20.0)
        # LPAR_B is due too, but the only worker is busy: no due time in the
        # past (the scheduler would busy-loop), wait for the worker instead.
        assert handler.run_due() is None
        assert len(pool.jobs) == 1
        pool.run_one()
        assert woken, "a finishing settle wakes the scheduler"
        handler.run_due()
        assert len(pool.jobs) == 1, "the second LPAR starts once a worker is free"
