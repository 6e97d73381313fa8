"""The historical policies behave as DESIGN.md describes them, warts included."""

from nova.compute import power_state, task_states

from tests.unit.engine.conftest import LPAR_A, LPAR_B, lpar_uri


class TestLegacy:
    def test_every_event_costs_a_lookup_with_a_new_context_and_a_read(self, make_world):
        world = make_world("legacy")
        for state in ("starting", "open firmware", "running"):
            world.state(LPAR_A, state)
            world.wait(1.0)
        assert world.value("get_instance_calls_total", result="hit") == 3
        assert world.value("admin_context_created_total") == 3
        assert world.value("state_reads_total", result="ok") == 3
        # none of these is a delayed state: each is translated at once
        assert world.transitions() == [(LPAR_A, "started")]
        assert world.value("events_skipped_total", reason="no_transition") == 2

    def test_instances_are_cached_only_within_one_feed_response(self, make_world):
        world = make_world("legacy")
        world.host.states[LPAR_A] = "running"
        world.feed(("MODIFY_URI", lpar_uri(LPAR_A), "PartitionState"),
                   ("MODIFY_URI", lpar_uri(LPAR_A), "NVRAM"))
        assert world.nova.calls == 1
        assert world.nvram.stored == [(LPAR_A, LPAR_A.lower())]

    def test_delayed_states_wait_15s_against_the_captured_instance(self, make_world):
        world = make_world("legacy")
        world.state(LPAR_B, "shutting down")
        world.wait(5.0)
        world.state(LPAR_B, "not activated")
        world.wait(14.0)
        assert world.sink.events == []
        world.wait(2.0)
        assert world.transitions() == [(LPAR_B, "stopped")]

    def test_an_unknown_lpar_costs_two_calls_every_time(self, make_world):
        world = make_world("legacy", lpars={LPAR_A: ("running", None)})
        for _ in range(3):
            world.state(LPAR_A, "running")
        assert world.nova.calls == 6
        assert world.value("get_instance_calls_total", result="miss") == 3
        assert world.value("get_instance_calls_total", result="not_found") == 3

    def test_no_task_state_check(self, make_world):
        world = make_world("legacy")
        world.nova.instances[LPAR_A.lower()].task_state = task_states.SPAWNING
        world.state(LPAR_A, "running")
        assert world.transitions() == [(LPAR_A, "started")]


class TestReference:
    def test_every_partition_state_event_is_delayed_then_looked_up_once(self, make_world):
        world = make_world("reference")
        for state in ("starting", "open firmware", "running"):
            world.state(LPAR_A, state)
            world.wait(2.0)
        assert world.nova.calls == 0
        world.wait(15.0)
        assert world.transitions() == [(LPAR_A, "started")]
        assert world.nova.calls == 1 and world.value("admin_context_created_total") == 1

    def test_no_max_wait_so_a_flapper_waits_until_it_stops(self, make_world):
        world = make_world("reference")
        for i in range(40):
            world.state(LPAR_A, ("running", "open firmware")[i % 2])
            world.wait(4.0)
        assert world.sink.events == []
        world.wait(15.0)
        assert len(world.sink.events) == 1

    def test_task_state_skip_and_the_timer_left_in_the_table(self, make_world):
        world = make_world("reference")
        world.nova.instances[LPAR_B.lower()].task_state = task_states.POWERING_OFF
        world.state(LPAR_B, "not activated")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.value("events_skipped_total", reason="task_state") == 1
        assert LPAR_B in world.handler.timers  # the small leak DESIGN.md describes

    def test_no_resync_and_no_cache_across_batches(self, make_world):
        world = make_world("reference", lpars={LPAR_A: ("running", None)})
        world.feed(("CACHE_CLEARED", "", ""))
        world.wait(20.0)
        assert world.host.list_reads == 0
        for _ in range(2):
            world.state(LPAR_A, "not activated")
            world.wait(20.0)
        assert world.nova.calls == 4  # two forms, each settle

    def test_nvram_per_event_with_the_uuid_map(self, make_world):
        world = make_world("reference")
        for _ in range(3):
            world.feed(("MODIFY_URI", lpar_uri(LPAR_B), "NVRAM"))
        assert len(world.nvram.stored) == 3 and world.nova.calls == 1
        world.feed(("NEW_CLIENT", "", ""))
        world.feed(("MODIFY_URI", lpar_uri(LPAR_B), "NVRAM"))
        assert world.nova.calls == 2

    def test_a_failed_settle_is_dropped_and_counted_never_retried(self, make_world):
        world = make_world("reference")
        world.nova.fail_next = 1
        world.state(LPAR_A, "running")
        world.wait(60.0)
        assert world.sink.events == []  # reference's known weakness: no retry
        assert world.value("settle_errors_total") == 1
        assert world.value("retries_total", stage="lookup") == 0
        assert world.handler.idle()

    def test_suspend_never_reaches_nova_known_bug(self, make_world):
        world = make_world("reference")
        world.state(LPAR_B, "suspending")
        world.wait(3.0)
        world.state(LPAR_B, "suspended")
        world.wait(20.0)
        assert world.sink.events == []
        assert world.nova.instances[LPAR_B.lower()].power_state == power_state.RUNNING


def test_default_policy_does_get_suspend_to_nova(make_world):
    world = make_world("default")
    world.state(LPAR_B, "suspending")
    world.wait(3.0)
    world.state(LPAR_B, "suspended")
    world.wait(20.0)
    assert world.transitions() == [(LPAR_B, "suspended")]
