"""The handler: accept(event) / settle(lpar) / resync(), over the ports.

``BaseHandler`` owns what every policy shares: the one delay queue of the
host, the metrics, the per-LPAR isolation boundary and the bounded pool of
settles in flight. ``DefaultHandler`` is lpar_eventd's policy (DESIGN.md,
"Engine semantics"); the two historical policies live in ``anchors.py``.

Threads: the handler has none of its own. The daemon calls ``accept_batch``
from the feed thread and ``run_due`` from its scheduler thread, and passes an
executor (a small thread pool) for the settles; a lock guards the queue and
caches, never held during I/O. Tests pass nothing: settles then run inline
on the caller's thread, on a fake clock, deterministically.

    h = DefaultHandler(ports, EngineConfig(), Metrics(), clock)
    h.accept_batch([Event.parse("MODIFY_URI", uri, "PartitionState", clock.now())])
    h.run_due()   # nothing yet; 15 s later it reads, looks up and emits once
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Hashable, Sequence

from lpar_eventd.engine import policy
from lpar_eventd.engine.cache import LparCaches
from lpar_eventd.engine.delayq import AddResult, DelayQueue
from lpar_eventd.engine.events import Event, EventType, high_bit_uuid
from lpar_eventd.engine.ports import (
    Clock, InstanceInfo, InstanceLookup, LifecycleEvent, LifecycleSink,
    LparGone, MonotonicClock, NvramStore, StateReader, Transition, local_compute_host)
from lpar_eventd.metrics import Metrics

__all__ = ["EngineConfig", "Ports", "BaseHandler", "DefaultHandler",
           "InlineExecutor", "StageFailed"]

LOG = logging.getLogger(__name__)

STATE = "s"    # key kind: an LPAR's PartitionState settle
NVRAM = "n"    # key kind: an LPAR's coalesced NVRAM store
RESYNC = "r"   # key kind: the (single) resync request
CHUNK = "c"    # key kind: one slice of a resync's LPARs

Key = tuple[str, Hashable]
_UNEXPECTED_STAGE = {STATE: "lookup", NVRAM: "nvram", RESYNC: "resync", CHUNK: "lookup"}


@dataclass
class EngineConfig:
    """The engine's knobs; the daemon fills it from oslo.config [events]/[cache]
    and ``[nova] compute_host``.

    ``compute_host`` is the nova compute host this daemon speaks for (nova's
    ``CONF.host`` of the nova-compute service on this NovaLink partition);
    instances whose ``instance.host`` differs are another host's to sync.
    """

    settle_seconds: float = 15.0
    max_wait_seconds: float = 60.0
    max_pending: int = 10000
    nvram_settle_seconds: float = 2.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    resync_delay_seconds: float = 1.0
    resync_min_interval_seconds: float = 10.0
    resync_batch_size: int = 100
    resync_batch_interval_seconds: float = 0.5
    max_concurrent: int = 4
    cache_size: int = 20000
    state_ttl_seconds: float = 3600.0
    instance_ttl_seconds: float = 3600.0
    not_found_ttl_seconds: float = 300.0
    compute_host: str = field(default_factory=local_compute_host)


@dataclass
class Ports:
    """The adapters one handler talks through."""

    states: StateReader
    nova: InstanceLookup
    sink: LifecycleSink
    nvram: NvramStore | None = None


class InlineExecutor(Executor):
    """Runs work at once on the caller's thread (tests, virtual-clock runs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        fn(*args, **kwargs)
        return None


class _Postpone(Exception):
    """Not a failure: run this work again after ``delay`` seconds."""

    def __init__(self, delay: float):
        super().__init__(delay)
        self.delay = delay


class StageFailed(Exception):
    """A port failed; the work is retried (default policy) or dropped (anchors)."""

    def __init__(self, stage: str, lpar_uuid: str, cause: BaseException):
        super().__init__(f"{stage} failed for LPAR {lpar_uuid}: {cause!r}")
        self.stage = stage
        self.lpar_uuid = lpar_uuid
        self.cause = cause


@dataclass
class _Flight:
    """Settles in flight: a bound on their number, their start times."""

    started: dict[Key, float] = field(default_factory=dict)


class BaseHandler:
    """Shared machinery; subclasses implement ``_handle`` and ``_work``."""

    name = "base"
    #: whether a failed settle is retried with backoff (anchors drop it)
    retries = True

    def __init__(self, ports: Ports, config: EngineConfig | None = None,
                 metrics: Metrics | None = None, clock: Clock | None = None,
                 executor: Executor | None = None):
        self.ports = ports
        self.config = config or EngineConfig()
        self.metrics = metrics or Metrics()
        self.clock = clock or MonotonicClock()
        self._executor = executor or InlineExecutor()
        self._inline = isinstance(self._executor, InlineExecutor)
        self._lock = threading.Lock()
        self.queue: DelayQueue[Key] = DelayQueue(self.config.max_pending)
        self._flight = _Flight()
        self._attempts: dict[Key, int] = {}
        self._unknown_types: set[str] = set()
        self.wakeup: Callable[[], None] = lambda: None
        self.metrics.longest_running_settle.set_function(self._longest_running)
        self.metrics.max_pending.set(self.config.max_pending)

    # -- feed side -----------------------------------------------------
    def accept(self, event: Event) -> None:
        self.accept_batch((event,))

    def accept_batch(self, events: Sequence[Event]) -> None:
        """Take one feed response; cheap for the default policy, no I/O."""
        received = self.metrics.received
        partition_state = 0
        for event in events:
            received[event.type.metric_label].inc()
            if event.type is EventType.UNKNOWN:
                self._note_unknown(event)
            elif (event.type is EventType.MODIFY_URI and event.lpar_uuid is not None
                  and event.is_partition_state):
                partition_state += 1
        if partition_state:
            self.metrics.partition_state_events.inc(partition_state)
        self._handle(events)
        self.metrics.pending_settles.set(len(self.queue))
        self.wakeup()

    def _handle(self, events: Sequence[Event]) -> None:
        raise NotImplementedError

    def _note_unknown(self, event: Event) -> None:
        raw = event.raw_type[:64]
        if raw not in self._unknown_types and len(self._unknown_types) < 64:
            self._unknown_types.add(raw)
            LOG.warning("Unknown NovaLink event type %r (data %r): counted as "
                        "'other' and otherwise ignored", raw, event.data[:200])

    def _skip(self, reason: str, count: int = 1) -> None:
        self.metrics.skipped[reason].inc(count)

    def _schedule(self, key: Key, now: float, delay: float,
                  max_wait: float | None, kind: str | None) -> None:
        """Arm or push back a timer (caller holds the lock); an event's
        (``kind``) merged into a waiting timer counts as coalesced."""
        result, forced = self.queue.add(key, now, delay, max_wait)
        if result is AddResult.COALESCED and kind is not None:
            self.metrics.coalesced[kind].inc()
        if forced:
            self.metrics.early_settles.inc(len(forced))
            LOG.info("%d LPARs pending (max_pending): settling %d early",
                     len(self.queue), len(forced))

    # -- scheduler side ------------------------------------------------
    def run_due(self) -> float | None:
        """Start every due settle the pool has room for; return the next due time."""
        now = self.clock.now()
        with self._lock:
            room = None if self._inline else max(
                0, self.config.max_concurrent - len(self._flight.started))
            due = self.queue.pop_due(now, room) if room != 0 else []
            for key, _ in due:
                self._flight.started[key] = now
        for key, first in due:
            self._executor.submit(self._run, key, first)
        with self._lock:
            self.metrics.pending_settles.set(len(self.queue))
            nxt = self.queue.next_due()
            full = room is not None and len(self._flight.started) >= self.config.max_concurrent
        if full and nxt is not None and nxt <= now:
            # Work is due but every worker is busy: a finishing settle calls
            # wakeup(). Returning the past due time would make the scheduler
            # spin and starve the workers of the GIL.
            return None
        return nxt

    def idle(self) -> bool:
        """Nothing waiting and nothing in flight."""
        with self._lock:
            return not len(self.queue) and not self._flight.started

    def in_flight(self) -> int:
        with self._lock:
            return len(self._flight.started)

    def _run(self, key: Key, first: float) -> None:
        """The per-LPAR isolation boundary: nothing escapes, everything counts."""
        started = self.clock.now()
        retry_stage = None
        postpone = None
        try:
            self._work(key, first)
        except _Postpone as wait:
            postpone = wait.delay
        except StageFailed as failure:
            retry_stage = failure.stage
            if self.retries:
                LOG.warning("%s (attempt %d)", failure, self._attempts.get(key, 0) + 1)
            else:  # the anchors drop it: lost work must show in the counters
                self.metrics.settle_errors.inc()
                LOG.warning("%s policy: %s; settle dropped", self.name, failure)
        except Exception:  # the isolation boundary: log, count, go on
            retry_stage = _UNEXPECTED_STAGE.get(key[0], "lookup")
            self.metrics.settle_errors.inc()
            LOG.exception("Unexpected error settling %s for LPAR %s", key[0], key[1])
        finally:
            self._finish(key, first, started, retry_stage, postpone)

    def _finish(self, key: Key, first: float, started: float,
                retry_stage: str | None, postpone: float | None = None) -> None:
        now = self.clock.now()
        if (key[0] == STATE and key not in self._attempts
                and started - first >= self.config.max_wait_seconds - 1e-6):
            self.metrics.max_wait_flushes.inc()
        self.metrics.settle_duration.observe(max(0.0, now - started))
        with self._lock:
            self._flight.started.pop(key, None)
            if postpone is not None:
                self.queue.retry(key, now, postpone, first)
            elif retry_stage is not None and self.retries:
                attempt = self._attempts.get(key, 0) + 1
                self._attempts[key] = attempt
                self.metrics.retried[retry_stage].inc()
                self.queue.retry(key, now, self._backoff(attempt), first)
            else:
                self._attempts.pop(key, None)
                self.queue.done(key, now)
            self.metrics.pending_settles.set(len(self.queue))
        self.wakeup()

    def _backoff(self, attempt: int) -> float:
        cfg = self.config
        return min(cfg.retry_max_seconds, cfg.retry_base_seconds * 2 ** (attempt - 1))

    def _work(self, key: Key, first: float) -> None:
        raise NotImplementedError

    def _longest_running(self) -> float:
        started = list(self._flight.started.values())
        return max(0.0, self.clock.now() - min(started)) if started else 0.0

    # -- shutdown ------------------------------------------------------
    def shutdown(self, mode: str = "cancel") -> int:
        """Stop pending work: ``cancel`` drops it, ``settle`` makes it due now.

        Returns how many settles were cancelled or flushed. Settles already in
        flight are left to finish; the daemon waits for them within a bound.
        """
        with self._lock:
            if mode == "settle":
                keys = self.queue.keys()
                now = self.clock.now()
                for key in keys:
                    self.queue.cancel(key)
                    self.queue.add(key, now, 0.0)
            else:
                keys = self.queue.drain()
                self._attempts.clear()
                self._forget_chunks()
            self.metrics.pending_settles.set(len(self.queue))
        return len(keys)

    def _forget_chunks(self) -> None:
        """Hook for policies holding work outside the queue (lock held)."""

    # -- port calls, counted --------------------------------------------
    def _read_state(self, lpar_uuid: str) -> str:
        try:
            state = self.ports.states.read_state(lpar_uuid)
        except LparGone:
            self.metrics.reads["gone"].inc()
            raise
        except Exception as exc:
            self.metrics.reads["error"].inc()
            raise StageFailed("state_read", lpar_uuid, exc) from exc
        self.metrics.reads["ok"].inc()
        return policy.normalize_state(state)

    def _new_context(self) -> Any:
        self.metrics.admin_context_created.inc()
        return self.ports.nova.admin_context()

    def _get_instance(self, context: Any, lpar_uuid: str, form: str,
                      last_form: bool) -> InstanceInfo | None:
        calls = self.metrics.calls
        try:
            inst = self.ports.nova.get_instance(context, form)
        except Exception as exc:
            calls["error"].inc()
            raise StageFailed("lookup", lpar_uuid, exc) from exc
        if inst is not None:
            calls["hit"].inc()
        else:
            calls["not_found" if last_form else "miss"].inc()
        return inst

    def _get_by_both_forms(self, context: Any, lpar_uuid: str,
                           forms: Sequence[str]) -> tuple[str, InstanceInfo] | None:
        for i, form in enumerate(forms):
            inst = self._get_instance(context, lpar_uuid, form, i == len(forms) - 1)
            if inst is not None:
                return form, inst
        return None

    def _emit(self, lpar_uuid: str, inst: InstanceInfo, transition: Transition,
              state: str, first: float) -> None:
        now = self.clock.now()
        event = LifecycleEvent(inst.uuid, lpar_uuid, transition, state, first, now)
        try:
            self.ports.sink.emit(event)
        except Exception as exc:
            raise StageFailed("sink", lpar_uuid, exc) from exc
        self.metrics.emitted[transition.value].inc()
        self.metrics.settle_delay.observe(max(0.0, now - first))
        LOG.info("LPAR %s is %s: emitted %s for instance %s", lpar_uuid, state,
                 transition.value.upper(), inst.uuid)

    def _store_nvram(self, lpar_uuid: str, instance_uuid: str) -> None:
        if self.ports.nvram is None:
            return
        try:
            self.ports.nvram.store(lpar_uuid, instance_uuid)
        except LparGone as gone:
            self._nvram_gone(lpar_uuid, gone)
            return
        except Exception as exc:
            self.metrics.stores["error"].inc()
            raise StageFailed("nvram", lpar_uuid, exc) from exc
        self.metrics.stores["ok"].inc()

    def _nvram_gone(self, lpar_uuid: str, gone: LparGone) -> None:
        """The store found the LPAR gone. The anchors, as they shipped, count
        it as a failed store like any other (the default policy skips it)."""
        self.metrics.stores["error"].inc()
        raise StageFailed("nvram", lpar_uuid, gone) from gone


def uuid_forms(lpar_uuid: str) -> list[str]:
    """The uuids nova may know an LPAR by: as-is and high-bit, lower case."""
    plain = lpar_uuid.lower()
    high = high_bit_uuid(plain)
    return [plain] if high == plain else [plain, high]


@dataclass
class _Slice:
    """One resync slice: listed states waiting for their bulk nova call, and
    the evidence epoch of the listing (evidence from a listing taken before
    another lost-events notice is void)."""

    states: dict[str, str]
    epoch: int


class DefaultHandler(BaseHandler):
    """lpar_eventd's policy: debounce every PartitionState burst, ask nova once.

    Per LPAR: one settle after the burst (settle window, bounded by max-wait),
    one state read, no nova call only where the evidence rule of ``cache.py``
    proves nova's view cannot have changed, else one ``get_instance`` with a
    cached context and uuid form; a skip for instances of another compute
    host and while nova drives an operation (any task_state), and at most one
    lifecycle event. Lost events (NEW_CLIENT, CACHE_CLEARED, MISSING_EVENTS)
    trigger one coalesced, rate-limited resync that reads the LPAR list once
    and asks nova about them in bulk, a slice at a time; a listed state is a
    sample, never a decision: an LPAR whose listing and nova disagree goes
    through its ordinary settle (window, re-read, decision).
    """

    name = "default"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.caches = LparCaches(self.clock.now, cfg.cache_size,
                                 cfg.state_ttl_seconds, cfg.instance_ttl_seconds,
                                 cfg.not_found_ttl_seconds)
        self._context: Any = None
        self._resync_reasons: set[str] = set()
        self._last_resync = float("-inf")
        # resync slices waiting for their bulk call; an LPAR that reports a
        # change meanwhile leaves its slice (the listed state is stale then,
        # and its own settle will read the new one)
        self._chunks: dict[int, _Slice] = {}
        self._chunk_of: dict[str, int] = {}
        self._chunk_ids = 0

    # -- accept ---------------------------------------------------------
    def _handle(self, events: Sequence[Event]) -> None:
        cfg = self.config
        not_lpar = 0
        with self._lock:
            for event in events:
                etype = event.type
                uuid = event.lpar_uuid
                if etype.loses_events:
                    self.caches.doubt_all()
                    self._request_resync(etype.metric_label, event.received_at)
                    continue
                if uuid is None:
                    if event.data:
                        not_lpar += 1
                    continue
                if etype is EventType.MODIFY_URI:
                    if event.is_partition_state:
                        self._leave_chunk(uuid)
                        self.caches.note_event(uuid)
                        self._schedule((STATE, uuid), event.received_at,
                                       cfg.settle_seconds, cfg.max_wait_seconds,
                                       "partition_state")
                    if event.is_nvram and self.ports.nvram is not None:
                        self._schedule((NVRAM, uuid), event.received_at,
                                       cfg.nvram_settle_seconds,
                                       cfg.max_wait_seconds, "nvram")
                elif etype is EventType.DELETE_URI:
                    self._forget(uuid)
                elif etype is EventType.ADD_URI:
                    self.caches.not_found.pop(uuid, None)
        if not_lpar:
            self._skip("not_lpar", not_lpar)

    def _forget(self, uuid: str) -> None:
        """DELETE_URI: cancel its timers and drop its caches (lock held)."""
        self._leave_chunk(uuid)
        for kind in (STATE, NVRAM):
            self.queue.cancel((kind, uuid))
            self._attempts.pop((kind, uuid), None)
        self.caches.forget(uuid)
        LOG.debug("LPAR %s deleted: forgotten", uuid)

    def _request_resync(self, reason: str, now: float) -> None:
        """Coalesce resync triggers; at most one per min interval (lock held)."""
        self._resync_reasons.add(reason)
        cfg = self.config
        delay = max(cfg.resync_delay_seconds,
                    self._last_resync + cfg.resync_min_interval_seconds - now)
        self.queue.add((RESYNC, 0), now, delay,
                       delay + cfg.resync_min_interval_seconds)

    # -- work -----------------------------------------------------------
    def _work(self, key: Key, first: float) -> None:
        kind, ident = key
        if kind == STATE:
            self._settle_state(ident, first)
        elif kind == NVRAM:
            self._settle_nvram(ident, first)
        elif kind == RESYNC:
            self._resync()
        elif kind == CHUNK:
            self._settle_chunk(ident, first)

    def _settle_state(self, uuid: str, first: float) -> None:
        """Read once; skip nova only on evidence (cache.py); else decide.

        A failure (raised StageFailed) leaves the events counted, so the
        retry answers for them; every other ending consumes what it saw.
        """
        with self._lock:
            seen = self.caches.events_seen(uuid)
            epoch = self.caches.epoch
            unmanaged = uuid in self.caches.not_found
        if unmanaged:  # nova does not know it: not even worth a NovaLink read
            self.metrics.instance_cache_hits.inc()
            self._skip("instance_not_found")
            self._settled(uuid, seen)
            return
        try:
            state = self._read_state(uuid)
        except LparGone:
            self._skip("lpar_gone")
            with self._lock:
                self.queue.cancel((NVRAM, uuid))
                self.caches.forget(uuid)
            LOG.info("LPAR %s is gone from NovaLink: dropped", uuid)
            return
        flushed = self.clock.now() - first >= self.config.max_wait_seconds - 1e-6
        with self._lock:
            unchanged = not flushed and self.caches.may_skip(uuid, state, seen)
        if unchanged:
            self._skip("unchanged_state")
            self._settled(uuid, seen)
            LOG.debug("LPAR %s is still %s after one event: nova not asked", uuid, state)
            return
        found = self._lookup(uuid)
        if found is None:
            self._skip("instance_not_found")
            self._settled(uuid, seen)
            return
        if self._nova_declines(uuid, found, state):
            self._settled(uuid, seen)
            return
        transition = policy.translate(state, found.power_state)
        if transition is not None:
            self._emit(uuid, found, transition, state, first)
        else:
            self._skip("no_transition")
        self._settled(uuid, seen, state, epoch)

    def _settled(self, uuid: str, seen: int, compared: str | None = None,
                 epoch: int = 0) -> None:
        """End of a settle: consume its events; keep evidence only of a
        comparison with nova (``compared``), else drop it (cache.py)."""
        with self._lock:
            self.caches.consume(uuid, seen)
            if compared is None:
                self.caches.doubt(uuid)
            else:
                self.caches.confirm(uuid, compared, epoch)

    def _nova_declines(self, uuid: str, inst: InstanceInfo, state: str) -> bool:
        """nova-compute's own refusals, counted: another host's instance, or
        an operation in flight (any task_state). See policy.py."""
        if inst.host != self.config.compute_host:
            self._skip("other_host")
            LOG.info("LPAR %s is %s but instance %s is on host %s, not %s: skipped",
                     uuid, state, inst.uuid, inst.host, self.config.compute_host)
            return True
        if policy.nova_is_busy(inst.task_state):
            self._skip("task_state")
            LOG.debug("LPAR %s is %s but nova is %s: skipped", uuid, state,
                      inst.task_state)
            return True
        return False

    def _context_once(self) -> Any:
        """The one admin context (nova's get_admin_context is cheap, no I/O)."""
        with self._lock:
            if self._context is None:
                self._context = self._new_context()
            return self._context

    def _lookup(self, uuid: str) -> InstanceInfo | None:
        """Instance for an LPAR: negative cache, then known form, then both forms."""
        caches = self.caches
        forms = uuid_forms(uuid)
        with self._lock:
            if uuid in caches.not_found:
                self.metrics.instance_cache_hits.inc()
                return None
            mapped = caches.instance_uuid.get(uuid)
        if mapped is not None and len(forms) > 1:
            if mapped != forms[0]:
                self.metrics.instance_cache_hits.inc()
            forms = [mapped]
        if len(forms) == 1:
            found = self._get_by_both_forms(self._context_once(), uuid, forms)
        else:
            found = self._get_either_form(uuid, forms)
        with self._lock:
            self._remember(uuid, found[0] if found else None)
        return found[1] if found else None

    def _get_either_form(self, uuid: str, forms: list[str]) -> tuple[str, InstanceInfo] | None:
        """Both uuid forms in one nova call (a uuid-filtered instance list)."""
        calls = self.metrics.calls
        try:
            found = self.ports.nova.get_instances(self._context_once(), forms)
        except Exception as exc:
            calls["error"].inc()
            raise StageFailed("lookup", uuid, exc) from exc
        for form in forms:
            if form in found:
                calls["hit"].inc()
                return form, found[form]
        calls["not_found"].inc()
        return None

    def _remember(self, uuid: str, form: str | None) -> None:
        """Record which uuid form nova knows, or that it knows none (lock held)."""
        if form is None:
            self.caches.instance_uuid.pop(uuid, None)
            self.caches.not_found[uuid] = True
        else:
            self.caches.not_found.pop(uuid, None)
            self.caches.instance_uuid[uuid] = form

    def _settle_nvram(self, uuid: str, first: float) -> None:
        if self.ports.nvram is None:
            return
        with self._lock:
            instance_uuid = self.caches.instance_uuid.get(uuid)
            state_pending = ((STATE, uuid) in self.queue
                             or self.queue.is_processing((STATE, uuid)))
        waited = self.clock.now() - first
        if instance_uuid is None and (state_pending
                                      or waited < self.config.max_wait_seconds):
            # A new or changing LPAR's state settle will soon learn its uuid
            # form: store after it (within max-wait) instead of spending a
            # nova call on the mapping now.
            raise _Postpone(self.config.settle_seconds)
        if instance_uuid is None:
            inst = self._lookup(uuid)
            if inst is None:
                self._skip("instance_not_found")
                return
            instance_uuid = inst.uuid
        self._store_nvram(uuid, instance_uuid)

    def _nvram_gone(self, lpar_uuid: str, gone: LparGone) -> None:
        """The LPAR was deleted before its NVRAM settled (nova deleting the
        instance: nova's 'inherent yet benign race'): dropped like a settle
        that finds it gone, neither an error nor retried."""
        self._skip("lpar_gone")
        LOG.info("LPAR %s is gone from NovaLink: its NVRAM store is dropped", lpar_uuid)

    # -- resync -----------------------------------------------------------
    def _resync(self) -> None:
        """Read the LPAR list once; forget the gone; verify the rest in slices."""
        try:
            listing = dict(self.ports.states.list_lpars())
        except Exception as exc:
            self.metrics.lpar_list_reads.labels(result="error").inc()
            raise StageFailed("resync", "*", exc) from exc
        self.metrics.lpar_list_reads.labels(result="ok").inc()
        now = self.clock.now()
        cfg = self.config
        with self._lock:
            reasons, self._resync_reasons = self._resync_reasons or {"startup"}, set()
            self._last_resync = now
            for reason in reasons:
                self.metrics.resyncs.labels(reason=reason).inc()
            listed = {uuid.upper(): policy.normalize_state(s)
                      for uuid, s in listing.items()}
            for uuid in self._known() - set(listed):
                self._forget(uuid)
            items = sorted(listed.items())
            size = max(1, cfg.resync_batch_size)
            for n, start in enumerate(range(0, len(items), size)):
                self._chunk_ids += 1
                self._chunks[self._chunk_ids] = _Slice(dict(items[start:start + size]),
                                                       self.caches.epoch)
                for uuid, _ in items[start:start + size]:
                    self._chunk_of[uuid] = self._chunk_ids
                self.queue.add((CHUNK, self._chunk_ids), now,
                               n * cfg.resync_batch_interval_seconds)
        LOG.info("Resync (%s): %d LPARs listed, verifying in slices of %d",
                 ",".join(sorted(reasons)), len(listed), size)

    def _forget_chunks(self) -> None:
        self._chunks.clear()
        self._chunk_of.clear()
        self.caches.events.clear()

    def _leave_chunk(self, uuid: str) -> None:
        """Drop an LPAR from the resync slice waiting for it (lock held)."""
        chunk_id = self._chunk_of.pop(uuid, None)
        if chunk_id is not None and chunk_id in self._chunks:
            self._chunks[chunk_id].states.pop(uuid, None)

    def _drop_chunk(self, chunk_id: int) -> None:
        """A slice is done: forget it and its reverse index (lock held)."""
        chunk = self._chunks.pop(chunk_id, None)
        for uuid in chunk.states if chunk else ():
            if self._chunk_of.get(uuid) == chunk_id:
                del self._chunk_of[uuid]

    def _known(self) -> set[str]:
        known = self.caches.known()
        known.update(k[1] for k in self.queue.keys() if k[0] in (STATE, NVRAM))
        return known

    def _settle_chunk(self, chunk_id: int, first: float) -> None:
        """Verify one slice of listed LPARs with one bulk nova call."""
        with self._lock:
            chunk = self._chunks.get(chunk_id)
            items = [(u, s) for u, s in (chunk.states.items() if chunk else ())
                     if (STATE, u) not in self.queue and not self.queue.is_processing((STATE, u))]
            if not items or chunk is None:
                self._drop_chunk(chunk_id)
                return
        forms = {form: uuid for uuid, _ in items for form in uuid_forms(uuid)}
        try:
            found = self.ports.nova.get_instances(self._context_once(), list(forms))
        except Exception as exc:
            self.metrics.calls["error"].inc()
            raise StageFailed("lookup", f"resync slice {chunk_id}", exc) from exc
        self.metrics.calls["hit"].inc()
        with self._lock:
            self._drop_chunk(chunk_id)
        by_lpar = {forms[form]: (form, inst) for form, inst in found.items() if form in forms}
        for uuid, state in items:
            self._verify_listed(uuid, state, by_lpar.get(uuid), chunk.epoch)

    def _verify_listed(self, uuid: str, state: str,
                       found: tuple[str, InstanceInfo] | None, epoch: int) -> None:
        """One listed LPAR of a resync slice: a sample, never a decision.

        Where the listing and nova agree (nothing to emit) the agreement is
        recorded as evidence; where nova declines (another host, a task in
        flight) nothing is recorded; where they disagree, the LPAR's
        ordinary settle is scheduled: the listing may have caught a step of
        a reboot (a 3 s 'not activated'), and only a state that holds for
        the settle window, read again, may reach nova.
        """
        with self._lock:
            self._remember(uuid, found[0] if found else None)
        if found is None:
            self._skip("instance_not_found")
            return
        inst = found[1]
        if self._nova_declines(uuid, inst, state):
            with self._lock:
                self.caches.doubt(uuid)
            return
        if policy.translate(state, inst.power_state) is None:
            self._skip("no_transition")
            with self._lock:
                self.caches.confirm(uuid, state, epoch)
            return
        LOG.info("Resync lists LPAR %s as %s but nova's power_state is %s: "
                 "settling it", uuid, state, inst.power_state)
        cfg = self.config
        with self._lock:
            self.caches.doubt(uuid)
            self._schedule((STATE, uuid), self.clock.now(), cfg.settle_seconds,
                           cfg.max_wait_seconds, None)
