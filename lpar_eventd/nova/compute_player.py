"""Playing nova-compute (and nova-api) against a real nova database.

The engine's mistakes only show when someone acts on what it emits. In
production that is nova-compute: on a lifecycle event it syncs the
instance's power_state, unless an operation is in flight (task_state set),
in which case the operation itself will set it. ``ComputePlayer`` does
exactly that to real nova rows, and also plays a scenario's ``NovaChange``
steps (nova-api creating and deleting instances, operations setting and
clearing task_state), so a harness can run scenarios against the real
database lookup and count final-state mismatches.

    player = ComputePlayer(db)
    sink = TeeSink(LogSink(), player)   # hear every event, then apply it
    player.apply_change(NovaChange(at=3.0, instance=u, task_state="rebooting"))
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from collections.abc import Mapping

from lpar_eventd.engine import policy
from lpar_eventd.engine.ports import InstanceInfo, LifecycleEvent, local_compute_host
from lpar_eventd.nova import seed
from lpar_eventd.nova.database import NovaDatabase
from lpar_eventd.nova.errors import NovaUnavailable
from lpar_eventd.nova.lookup import DatabaseLookup

__all__ = ["ComputePlayer"]

LOG = logging.getLogger(__name__)


class ComputePlayer:
    """Applies lifecycle events and nova-side changes to a nova database.

    It is a LifecycleSink (``emit``), so it can stand where nova-compute's
    event handler stands. ``applied`` and ``ignored`` count what it did.
    """

    def __init__(self, db: NovaDatabase, compute_host: str | None = None):
        self.db = db
        #: the host it plays nova-compute of (instance.host of its instances)
        self.compute_host = compute_host or local_compute_host()
        self._reader = DatabaseLookup(database=db)
        self.applied = 0
        self.ignored = 0
        # sqlite fails a read-then-write transaction at once ("database is
        # locked") when another one in this process writes: settle workers
        # apply one at a time (nova-compute itself handles events in order).
        self._write_lock = threading.Lock()
        self.change_retries = 0

    # -- nova-compute -------------------------------------------------------
    def emit(self, event: LifecycleEvent) -> None:
        self.apply(event)

    def apply(self, event: LifecycleEvent) -> bool:
        """Sync power_state as nova-compute would; False if it did not.

        Not applied when the instance is gone, on another host or nova is
        mid-operation (task_state set): nova-compute's power-state sync
        skips those too.
        """
        with self._write_lock:
            return self._apply(event)

    def _apply(self, event: LifecycleEvent) -> bool:
        ctx = self._reader.admin_context()
        inst = self._reader.get_instance(ctx, event.instance_uuid)
        if inst is None or inst.task_state is not None or inst.host != self.compute_host:
            self.ignored += 1
            LOG.debug("nova-compute ignores %s for %s (task_state %s, host %s)",
                      event.transition.value, event.instance_uuid,
                      *((inst.task_state, inst.host) if inst else ("n/a", "n/a")))
            return False
        wanted = policy.applied_power_state(event.transition)
        if inst.power_state != wanted:
            seed.set_power_state(self.db, event.instance_uuid, wanted)
        self.applied += 1
        return True

    # -- nova-api / operations ------------------------------------------------
    def apply_change(self, change: Any) -> None:
        """Play one ``scenarios.NovaChange`` (create, delete, task/power state).

        Same meaning as the in-memory world: a change that is neither a
        create nor a delete sets task_state (None clears it) and, when
        given, power_state, vm_state and host (seed.THIS_HOST is this
        player's host, seed.NO_HOST nova's None).
        """
        if change.create:
            seed.create_instance(self.db, seed.InstanceSpec(
                change.instance, change.power_state or 0, change.task_state,
                vm_state=change.vm_state, host=change.host or seed.THIS_HOST),
                this_host=self.compute_host)
            return
        if change.delete:
            seed.delete_instance(self.db, change.instance)
            return
        values: dict[str, Any] = {"task_state": change.task_state}
        if change.power_state is not None:
            values["power_state"] = change.power_state
        if change.vm_state is not None:
            values["vm_state"] = change.vm_state
        if change.host is not None:
            values["host"] = seed.resolve_host(change.host, self.compute_host)
        seed.update_instance(self.db, change.instance, **values)

    def apply_change_retried(self, change: Any, attempts: int = 20) -> bool:
        """``apply_change`` as nova-api would: an sqlite database locked by the
        daemon's own writes is retried (briefly) instead of losing the change.
        Returns False when every attempt failed (the caller counts it)."""
        for attempt in range(attempts):
            try:
                with self._write_lock:
                    self.apply_change(change)
                return True
            except NovaUnavailable:
                self.change_retries += 1
                time.sleep(0.02 * (attempt + 1))
        return False

    def instances(self, uuids: list[str]) -> Mapping[str, InstanceInfo]:
        """Current rows for ``uuids`` (one query), for final-state checks."""
        return self._reader.get_instances(self._reader.admin_context(), uuids)


def embedded_compute_sink(database: NovaDatabase | None = None,
                          connection: str | None = None,
                          compute_host: str | None = None) -> ComputePlayer:
    """The ``embedded-compute`` sink: nova-compute's part on the embedded database.

    With the embedded nova database nothing else would apply lifecycle
    events, so the demo and the scale harness run this next to the log sink.
    """
    if database is None:
        if connection is None:
            raise ValueError("embedded-compute needs the [nova] database")
        database = NovaDatabase(connection)
    return ComputePlayer(database, compute_host)
