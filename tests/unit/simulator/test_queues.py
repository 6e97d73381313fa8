import asyncio
import time

from lpar_eventd.simulator.counters import Counters
from lpar_eventd.simulator.host import Host
from lpar_eventd.simulator.queues import EventQueues


def _setup(max_events=5):
    counters = Counters()
    host = Host(counters, base_url="https://h:12443")
    queues = EventQueues(max_events, host.make_event, counters)
    host.broadcast = queues.broadcast
    return host, queues, counters


def _run(coro):
    return asyncio.run(coro)


def test_new_client_first_then_events_then_empty():
    async def scenario():
        host, queues, _ = _setup()
        first = await queues.take("a", 10, 0)
        host.emit("MODIFY_URI", "/rest/api/uom/ManagedSystem/X", "Other")
        second = await queues.take("a", 10, 0)
        third = await queues.take("a", 10, 0.01)
        return first, second, third
    first, second, third = _run(scenario())
    assert [e.event_type for e in first] == ["NEW_CLIENT"]
    assert [e.data for e in second] == ["https://h:12443/rest/api/uom/ManagedSystem/X"]
    assert third == []


def test_long_poll_wakes_on_event():
    async def scenario():
        host, queues, _ = _setup()
        await queues.take("a", 10, 0)
        waiter = asyncio.create_task(queues.take("a", 10, 5.0))
        await asyncio.sleep(0)
        host.emit("MODIFY_URI", "", "Other")
        return await asyncio.wait_for(waiter, 1.0)
    assert len(_run(scenario())) == 1


def test_overflow_and_clear():
    async def scenario():
        host, queues, counters = _setup(max_events=3)
        await queues.take("a", 10, 0)
        for _ in range(5):
            host.emit("MODIFY_URI", "", "Other")
        overflowed = await queues.take("a", 10, 0)
        host.emit("MODIFY_URI", "", "Other")
        queues.clear_all()
        cleared = await queues.take("a", 10, 0)
        return overflowed, cleared, counters
    overflowed, cleared, counters = _run(scenario())
    assert [e.event_type for e in overflowed] == ["MISSING_EVENTS", "MODIFY_URI", "MODIFY_URI"]
    assert [e.event_type for e in cleared] == ["CACHE_CLEARED"]
    assert counters.get("events_dropped") == 4 and counters.get("queue_overflows") == 1


def test_event_ids_increase():
    host, _, _ = _setup()
    ids = [host.make_event("X").event_id for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_the_answer_that_empties_a_backlog_is_timed():
    async def scenario():
        host, queues, _ = _setup(max_events=100)
        await queues.take("a", 10, 0)  # NEW_CLIENT registers the queue
        assert queues.last_drained() is None
        for _ in range(15):
            host.emit("MODIFY_URI", "/rest/api/uom/ManagedSystem/X", "Other")
        await queues.take("a", 10, 0)
        partly = queues.last_drained()
        before = time.monotonic()
        await queues.take("a", 10, 0)
        return partly, before, queues.last_drained()
    partly, before, drained = _run(scenario())
    assert partly is None, "10 of 15 taken: the backlog is not consumed yet"
    assert drained is not None and drained >= before
