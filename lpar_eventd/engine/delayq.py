"""One delay queue for every LPAR of a host: debounce, max-wait, single flight.

Contract (what the tests check):

* Debounce: ``add(key, now, delay)`` makes ``key`` due at ``now + delay``; a
  later add for a pending key pushes its due time later (the newer event
  replaces the older, reported as ``COALESCED``).
* Max-wait: a key that keeps being added is still due at
  ``first_seen + max_wait``, so a flapping LPAR settles.
* Single flight: ``pop_due`` hands a key out and marks it processing until
  ``done``. An add for a processing key is remembered (``DEFERRED``) and the
  key is re-armed when ``done`` is called, never handed out twice at once.
* Bounded: past ``max_pending`` waiting keys the oldest one is made due at
  once (``add`` reports it as forced); nothing is dropped.
* Cancel: ``cancel`` forgets a waiting or deferred key; ``drain`` forgets all.

It is a binary heap plus a key -> entry map owned by one caller (the
handler's scheduler). A debounce only ever moves a due time later, so it
updates the entry in place; the stale heap item is re-pushed at its real due
time when it surfaces. Each add is O(1) amortised and the heap never holds
more than about one item per waiting key.

    q = DelayQueue(max_pending=1000)
    q.add("A", now=0.0, delay=15.0, max_wait=60.0)
    q.pop_due(now=15.0)      # [("A", 0.0)]; "A" is processing
    q.done("A", now=15.2)
"""

from __future__ import annotations

import enum
import heapq
import itertools
from typing import Generic, TypeVar
from collections.abc import Hashable

__all__ = ["DelayQueue", "AddResult"]

K = TypeVar("K", bound=Hashable)


class AddResult(enum.Enum):
    NEW = "new"                # a new timer was armed
    COALESCED = "coalesced"    # merged into a timer already waiting
    DEFERRED = "deferred"      # the key is processing; re-armed when done


class _Entry:
    __slots__ = ("first", "due", "heap_due", "seq", "delay", "max_wait")

    def __init__(self, first: float, due: float, seq: int, delay: float,
                 max_wait: float | None):
        self.first = first
        self.due = due
        self.heap_due = due
        self.seq = seq
        self.delay = delay
        self.max_wait = max_wait


class DelayQueue(Generic[K]):
    """Keyed debounce scheduler; see the module docstring for the contract."""

    def __init__(self, max_pending: int = 0):
        self._max_pending = max_pending
        self._entries: dict[K, _Entry] = {}   # waiting, insertion ordered
        self._ready: dict[K, _Entry] = {}     # forced early by max_pending
        self._heap: list[tuple[float, int, K]] = []
        self._processing: set[K] = set()
        self._deferred: dict[K, _Entry] = {}
        self._seq = itertools.count()
        self.forced = 0  # keys made due early by max_pending, ever

    # -- queries -------------------------------------------------------
    def __len__(self) -> int:
        """Keys waiting or deferred (what the pending gauge shows)."""
        return len(self._entries) + len(self._ready) + len(self._deferred)

    def __contains__(self, key: object) -> bool:
        return key in self._entries or key in self._ready or key in self._deferred

    def is_processing(self, key: K) -> bool:
        return key in self._processing

    @property
    def processing(self) -> int:
        return len(self._processing)

    def next_due(self) -> float | None:
        """Earliest time something may be due (a wake-up time, never late)."""
        if self._ready:
            return float("-inf")
        heap = self._heap
        while heap:
            due, seq, key = heap[0]
            entry = self._entries.get(key)
            if entry is not None and entry.seq == seq:
                return due
            heapq.heappop(heap)
        return None

    # -- mutations -----------------------------------------------------
    def add(self, key: K, now: float, delay: float,
            max_wait: float | None = None) -> tuple[AddResult, list[K]]:
        """Arm or push back ``key``'s timer; returns the result and forced keys."""
        if key in self._processing:
            return self._defer(key, now, delay, max_wait), []
        entry = self._entries.get(key)
        if entry is not None:
            entry.due = _capped(now + delay, entry.first, entry.max_wait)
            if entry.due < entry.heap_due:
                self._push(key, entry, entry.due)
            return AddResult.COALESCED, []
        if key in self._ready:
            return AddResult.COALESCED, []
        self._arm(key, _Entry(now, _capped(now + delay, now, max_wait), 0,
                              delay, max_wait))
        return AddResult.NEW, self._enforce_bound()

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[K, float]]:
        """Hand out due keys (oldest forced ones first) as (key, first_seen)."""
        out: list[tuple[K, float]] = []
        while self._ready and (limit is None or len(out) < limit):
            key = next(iter(self._ready))
            out.append(self._start(key, self._ready.pop(key)))
        heap = self._heap
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            _, seq, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is None or entry.seq != seq:
                continue
            if entry.due > now:
                self._push(key, entry, entry.due)
                continue
            del self._entries[key]
            out.append(self._start(key, entry))
        return out

    def done(self, key: K, now: float) -> bool:
        """Finish processing ``key``; re-arm it if events came meanwhile."""
        self._processing.discard(key)
        entry = self._deferred.pop(key, None)
        if entry is None:
            return False
        entry.due = max(now, _capped(now + entry.delay, entry.first, entry.max_wait))
        self._arm(key, entry)
        return True

    def retry(self, key: K, now: float, delay: float, first_seen: float) -> None:
        """Finish processing ``key`` and schedule it again after ``delay``.

        Events that arrived meanwhile are folded into the retry, which keeps
        the original first_seen so the settle-delay histogram stays honest.
        """
        self._processing.discard(key)
        deferred = self._deferred.pop(key, None)
        first = min(first_seen, deferred.first) if deferred else first_seen
        existing = self._entries.get(key)
        if existing is not None:  # cannot normally happen; keep the earlier
            return
        self._arm(key, _Entry(first, now + delay, 0, delay, None))

    def cancel(self, key: K) -> bool:
        """Forget a waiting or deferred key (processing keys run to the end)."""
        found = self._entries.pop(key, None) or self._ready.pop(key, None)
        deferred = self._deferred.pop(key, None)
        return found is not None or deferred is not None

    def drain(self) -> list[K]:
        """Forget every waiting and deferred key; return them."""
        keys = list(self._entries) + list(self._ready) + list(self._deferred)
        self._entries.clear()
        self._ready.clear()
        self._deferred.clear()
        self._heap.clear()
        return keys

    def keys(self) -> list[K]:
        return list(self._entries) + list(self._ready) + list(self._deferred)

    # -- internals -----------------------------------------------------
    def _defer(self, key: K, now: float, delay: float,
               max_wait: float | None) -> AddResult:
        if key in self._deferred:
            return AddResult.COALESCED
        self._deferred[key] = _Entry(now, now + delay, 0, delay, max_wait)
        return AddResult.DEFERRED

    def _arm(self, key: K, entry: _Entry) -> None:
        self._entries[key] = entry
        self._push(key, entry, entry.due)

    def _push(self, key: K, entry: _Entry, due: float) -> None:
        entry.seq = next(self._seq)
        entry.heap_due = due
        heapq.heappush(self._heap, (due, entry.seq, key))

    def _start(self, key: K, entry: _Entry) -> tuple[K, float]:
        self._processing.add(key)
        return key, entry.first

    def _enforce_bound(self) -> list[K]:
        forced: list[K] = []
        if self._max_pending <= 0:
            return forced
        while len(self._entries) > self._max_pending:
            oldest = next(iter(self._entries))
            self._ready[oldest] = self._entries.pop(oldest)
            forced.append(oldest)
        self.forced += len(forced)
        return forced


def _capped(due: float, first: float, max_wait: float | None) -> float:
    if max_wait is None:
        return due
    return min(due, first + max_wait)
