"""The two historical policies the scale harness compares lpar_eventd against.

Reimplemented from their description in DESIGN.md ("The two anchor policies,
exactly"), on the same ports and metrics as the default policy so the
figures are comparable. Their known weaknesses are kept on purpose: no retry
(a failed call drops the event), no resync, no cache across feed responses,
and for ``reference`` the timer table that early exits leave behind.

Both only act on MODIFY_URI events of LogicalPartition URIs whose detail
names PartitionState or NVRAM, and find an instance with ``get_instance``:
the lower-case uuid, then its high-bit form, so an LPAR nova does not know
costs two calls every time.
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Sequence

from lpar_eventd.engine import policy
from lpar_eventd.engine.events import Event, EventType, high_bit_uuid
from lpar_eventd.engine.handler import STATE, BaseHandler, Key, StageFailed
from lpar_eventd.engine.ports import InstanceInfo, LparGone

__all__ = ["LegacyHandler", "ReferenceHandler"]

LOG = logging.getLogger(__name__)

# Legacy delays these states by 15 s; every other state is emitted at once.
LEGACY_DELAYED = frozenset({"not activated", "shutting down", "suspending",
                            "resuming", "not available"})


class _AnchorHandler(BaseHandler):
    """What both anchors share: the filter, two-form get_instance, no retry."""

    retries = False

    @property
    def delay_seconds(self) -> float:
        """DESIGN.md's 15 s: the configured settle window (15 s by default), so
        a time-compressed run compresses the anchors' delay like ours."""
        return self.config.settle_seconds

    def _relevant(self, events: Sequence[Event]) -> list[Event]:
        """Count non-LPAR events as skipped; keep LPAR MODIFYs that matter."""
        out = []
        not_lpar = 0
        for event in events:
            if event.lpar_uuid is None:
                if event.data and not event.type.loses_events:
                    not_lpar += 1
            elif event.type is EventType.MODIFY_URI and (
                    event.is_partition_state or event.is_nvram):
                out.append(event)
        if not_lpar:
            self._skip("not_lpar", not_lpar)
        return out

    def _get_instance_both(self, context: Any, lpar_uuid: str) -> InstanceInfo | None:
        """Always both forms on not-found (the anchors did not dedupe them)."""
        forms = [lpar_uuid.lower(), high_bit_uuid(lpar_uuid)]
        found = self._get_by_both_forms(context, lpar_uuid, forms)
        return found[1] if found else None

    def _attempt(self, what: str, lpar_uuid: str, fn: Any, *args: Any) -> Any:
        """Run one step; on failure log and drop, as the anchors did."""
        try:
            return fn(*args)
        except StageFailed as failure:
            LOG.warning("%s policy: %s; event dropped", self.name, failure)
            self.metrics.settle_errors.inc()
            return _DROPPED

    def _emit_if_needed(self, lpar_uuid: str, inst: InstanceInfo, state: str,
                        first: float) -> bool:
        transition = policy.translate(state, inst.power_state, settled=False)
        if transition is None:
            self._skip("no_transition")
            return False
        self._emit(lpar_uuid, inst, transition, state, first)
        return True


_DROPPED = object()


class LegacyHandler(_AnchorHandler):
    """The handler before the 2017 fix: look up and read on every event."""

    name = "legacy"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # uuid -> (instance captured when the event arrived, state read then)
        self._delayed: dict[str, tuple[InstanceInfo, str]] = {}

    def _handle(self, events: Sequence[Event]) -> None:
        batch: dict[str, InstanceInfo] = {}
        for event in self._relevant(events):
            uuid = event.lpar_uuid
            inst = batch.get(event.data)
            if inst is None:
                inst = self._attempt("lookup", uuid, self._get_instance_both,
                                     self._new_context(), uuid)
                if inst is _DROPPED:
                    continue
                if inst is None:
                    self._skip("instance_not_found")
                    continue
                batch[event.data] = inst
            if event.is_partition_state:
                self._on_state(event, inst)
            if event.is_nvram:
                self._attempt("nvram", uuid, self._store_nvram, uuid, inst.uuid)

    def _on_state(self, event: Event, inst: InstanceInfo) -> None:
        uuid = event.lpar_uuid
        try:
            state = self._read_state(uuid)
        except LparGone:
            self._skip("lpar_gone")
            return
        except StageFailed as failure:
            LOG.warning("legacy policy: %s; event dropped", failure)
            self.metrics.settle_errors.inc()
            return
        key = (STATE, uuid)
        with self._lock:
            if state in LEGACY_DELAYED:
                self._delayed[uuid] = (inst, state)
                self._schedule(key, event.received_at, self.delay_seconds, None,
                               "partition_state")
                return
            if self.queue.cancel(key):
                self._delayed.pop(uuid, None)
        self._attempt("sink", uuid, self._emit_if_needed, uuid, inst, state,
                      event.received_at)

    def _work(self, key: Key, first: float) -> None:
        uuid = key[1]
        with self._lock:
            captured = self._delayed.pop(uuid, None)
        if captured is not None:
            inst, state = captured
            self._attempt("sink", uuid, self._emit_if_needed, uuid, inst, state, first)

    def _forget_chunks(self) -> None:
        self._delayed.clear()


class ReferenceHandler(_AnchorHandler):
    """The 2017 fix: delay every PartitionState event, fetch the instance late."""

    name = "reference"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._context: Any = None
        self._uuid_map: dict[str, str] = {}
        # uuid -> instance fetched in the batch the event came in (or None)
        self._captured: dict[str, InstanceInfo | None] = {}
        # the timer table: entries removed only when an event is emitted
        self.timers: dict[str, float] = {}

    def _context_once(self) -> Any:
        if self._context is None:
            self._context = self._new_context()
        return self._context

    def _handle(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.type in (EventType.NEW_CLIENT, EventType.CACHE_CLEARED):
                self._uuid_map.clear()
            elif event.type is EventType.DELETE_URI and event.lpar_uuid:
                self._uuid_map.pop(event.lpar_uuid, None)
        batch: dict[str, InstanceInfo | None] = {}
        for event in self._relevant(events):
            if event.is_nvram:
                self._on_nvram(event, batch)
            if event.is_partition_state:
                uuid = event.lpar_uuid
                with self._lock:
                    self._captured[uuid] = batch.get(event.data)
                    self.timers[uuid] = event.received_at
                    self._schedule((STATE, uuid), event.received_at,
                                   self.delay_seconds, None, "partition_state")

    def _on_nvram(self, event: Event, batch: dict[str, InstanceInfo | None]) -> None:
        uuid = event.lpar_uuid
        instance_uuid = self._uuid_map.get(uuid)
        if instance_uuid is None:
            if event.data not in batch:
                inst = self._attempt("lookup", uuid, self._get_instance_both,
                                     self._context_once(), uuid)
                if inst is _DROPPED:
                    return
                batch[event.data] = inst
            inst = batch[event.data]
            if inst is None:
                self._skip("instance_not_found")
                return
            instance_uuid = self._uuid_map[uuid] = inst.uuid
        self._attempt("nvram", uuid, self._store_nvram, uuid, instance_uuid)

    def _work(self, key: Key, first: float) -> None:
        uuid = key[1]
        with self._lock:
            inst = self._captured.pop(uuid, None)
        try:
            state = self._read_state(uuid)
        except LparGone:
            self._skip("lpar_gone")
            return
        if inst is None:
            inst = self._get_instance_both(self._context_once(), uuid)
            if inst is None:
                self._skip("instance_not_found")
                return
        if policy.reference_skips(inst.task_state):
            self._skip("task_state")
            return
        if self._emit_if_needed(uuid, inst, state, first):
            with self._lock:
                self.timers.pop(uuid, None)

    def _forget_chunks(self) -> None:
        self._captured.clear()
