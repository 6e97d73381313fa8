"""Per-application-id event queues with long-poll, as NovaLink keeps them.

Each client (pypowervm's EventListener uses an md5 of its session token as
application id) gets its own queue, created on its first read; that first
read answers NEW_CLIENT only, because a new queue has seen nothing yet. Every
produced event is appended to every queue. A queue is bounded: an event that
finds it full drops what was queued and leaves MISSING_EVENTS in its place,
which is how a slow client learns it must resync. ``clear_all`` (a REST
restart) replaces every queue's content by CACHE_CLEARED.

All methods run on the simulator's event loop thread; nothing here locks.

    qs = EventQueues(max_events=10_000, make_event=producer)
    events = await qs.take("app-1", limit=100, wait=10.0)   # [] -> 204
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from lpar_eventd.simulator.counters import Counters
from lpar_eventd.simulator.wire import FeedEvent

__all__ = ["EventQueues", "AppQueue"]

# Produces a rendered event with no data/detail, e.g. MISSING_EVENTS.
MakeEvent = Callable[[str], FeedEvent]


class AppQueue:
    """One application id's pending events and its waiting readers."""

    def __init__(self, app_id: str):
        self.app_id = app_id
        self.events: deque[FeedEvent] = deque()
        self.wakeup = asyncio.Event()
        self.delivered = 0
        self.dropped = 0
        self.drained_at: float | None = None  # time.monotonic() of the last emptying answer

    def push(self, event: FeedEvent) -> None:
        self.events.append(event)
        self.wakeup.set()

    def replace_all(self, event: FeedEvent) -> int:
        """Drop everything queued, leave ``event``; returns how many dropped."""
        dropped = len(self.events)
        self.events.clear()
        self.push(event)
        return dropped

    def pop(self, limit: int) -> list[FeedEvent]:
        n = min(limit, len(self.events))
        out = [self.events.popleft() for _ in range(n)]
        if not self.events:
            self.wakeup.clear()
            if n:
                self.drained_at = time.monotonic()
        self.delivered += n
        return out


class EventQueues:
    """All application queues of one simulated NovaLink."""

    def __init__(self, max_events: int, make_event: MakeEvent, counters: Counters):
        self.max_events = max(1, max_events)
        self._make = make_event
        self._counters = counters
        self._queues: dict[str, AppQueue] = {}
        self.stalled_until = 0.0
        self.waiting = 0  # long polls in progress

    def __len__(self) -> int:
        return len(self._queues)

    def last_drained(self) -> float | None:
        """When an answer last emptied a queue (``time.monotonic()``): a
        backlog was consumed by then, to within one answer."""
        times = [q.drained_at for q in self._queues.values() if q.drained_at is not None]
        return max(times, default=None)

    def depths(self) -> dict[str, int]:
        return {app: len(q.events) for app, q in self._queues.items()}

    def broadcast(self, event: FeedEvent) -> None:
        """Append to every queue; a full queue overflows into MISSING_EVENTS."""
        for queue in self._queues.values():
            if len(queue.events) >= self.max_events:
                self._overflow(queue)
            queue.push(event)

    def _overflow(self, queue: AppQueue) -> None:
        dropped = queue.replace_all(self._make("MISSING_EVENTS"))
        queue.dropped += dropped
        self._counters.add("events_dropped", dropped)
        self._counters.add("queue_overflows")

    def clear_all(self) -> None:
        """A REST restart: every client gets CACHE_CLEARED, nothing else."""
        for queue in self._queues.values():
            self._counters.add("events_dropped", len(queue.events))
            queue.replace_all(self._make("CACHE_CLEARED"))

    def forget(self) -> None:
        """Drop every queue (clients then register again with NEW_CLIENT)."""
        for queue in self._queues.values():
            queue.wakeup.set()
        self._queues.clear()

    async def take(self, app_id: str, limit: int, wait: float) -> list[FeedEvent]:
        """Up to ``limit`` events, waiting up to ``wait`` s; [] means 204."""
        queue = self._queues.get(app_id)
        if queue is None:
            queue = self._queues[app_id] = AppQueue(app_id)
            self._counters.add("clients_registered")
            return [self._make("NEW_CLIENT")]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        stall = self.stalled_until - loop.time()
        if stall > 0:  # a stalled feed holds the request, whatever the wait
            await asyncio.sleep(stall)
        while not queue.events:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._queues.get(app_id) is not queue:
                return []
            self.waiting += 1
            try:
                await asyncio.wait_for(queue.wakeup.wait(), remaining)
            except TimeoutError:
                return []
            finally:
                self.waiting -= 1
        return queue.pop(limit)
