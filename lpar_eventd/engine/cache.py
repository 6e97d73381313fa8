"""The engine's memory of LPARs: bounded, time-limited, never authoritative.

What lets a settle skip nova (the evidence rule)
------------------------------------------------
nova's view of an instance (its power_state) changes in two ways only: when
nova-compute handles a lifecycle event (ours), and when nova itself finishes
an operation (start, stop, reboot, shelve, ...) and writes the power state
its driver reads from PowerVM at that moment (nova/compute/manager.py:
``instance.power_state = self._get_power_state(instance)``). So once a
settle has compared an LPAR's state X with nova (nova agreed, or was told),
nova's view can become wrong for X only if nova wrote a power state while
the LPAR was in another state and the LPAR then came back to X: at least
two state changes, and NovaLink sends one PartitionState event per change.
The field case behind this rule: nova starts an LPAR (nova writes RUNNING)
and the guest halts again, all inside one settle window; the burst ends on
the state last acted on, yet nova is wrong (cases README, C8).

Hence a settle may skip nova (``unchanged_state``) only when all of these hold:

* there is ``evidence``: the state X that the last settle compared with nova,
  recorded in the current epoch (see lost events below);
* the state read now is X;
* exactly one PartitionState event was received for the LPAR since that
  comparison began (``events``): the LPAR changed at most once, so it cannot
  have left X and come back. Zero events (a settle scheduled by a resync, or
  a retry) and two or more (it may have moved and come back while nova acted)
  both ask nova;
* the settle is not a max-wait flush (the LPAR kept changing).

A skip uses the evidence up, so the next settle asks nova: two one-event
bursts cannot hide a move-and-back between them (the second burst's event
may be for a change the first settle already read before its event came).
A task_state skip, an other-host skip, an instance nova does not know and a
gone LPAR drop the evidence too. (nova's periodic power-state sync writes
what its driver reported without setting a task_state; a sample taken just
before an LPAR moved and came back may be written stale, and is corrected
by that sync's next run, as in nova without lpar_eventd.) A lost-events notice (NEW_CLIENT,
CACHE_CLEARED, MISSING_EVENTS) starts a new epoch: changes may have gone
uncounted, so every older piece of evidence is void; the resync that follows
records new evidence where its listing and nova agree.

The other caches
----------------
* ``instance_uuid``: which uuid form (as-is or high-bit) nova knows an LPAR
  by. The mapping of an LPAR to its instance never changes, so this saves the
  second call for high-bit LPARs and lets NVRAM stores skip the lookup.
* ``not_found``: LPARs nova does not know (VIOS-like or non-OpenStack
  partitions), for a shorter time, so an unmanaged LPAR does not cost two
  nova calls on every state change. A new instance for such an LPAR is
  noticed when the entry expires or on DELETE_URI / ADD_URI.

The instance itself (task_state, power_state, host) is never cached: it is
read fresh right before each decision, which is the one call that cannot be
saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

__all__ = ["LparCaches", "Evidence"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """The PartitionState a settle compared with nova, and in which epoch."""

    state: str
    epoch: int


class LparCaches:
    """Per-LPAR memory: evidence, uuid forms, not-found, event counts.

    The three caches are bounded in size and age; ``events`` holds only LPARs
    whose PartitionState events no settle has answered for yet (each settle
    consumes what it saw), so it is bounded by the LPARs pending or settling.
    """

    def __init__(self, timer: Callable[[], float], size: int = 20000,
                 state_ttl: float = 3600.0, instance_ttl: float = 3600.0,
                 not_found_ttl: float = 300.0):
        self.evidence: TTLCache[str, Evidence] = TTLCache(size, state_ttl, timer=timer)
        self.instance_uuid: TTLCache[str, str] = TTLCache(size, instance_ttl, timer=timer)
        self.not_found: TTLCache[str, bool] = TTLCache(size, not_found_ttl, timer=timer)
        self.events: dict[str, int] = {}
        self.epoch = 0

    # -- PartitionState events --------------------------------------------
    def note_event(self, lpar_uuid: str) -> None:
        """One more PartitionState event no settle has answered for yet."""
        self.events[lpar_uuid] = self.events.get(lpar_uuid, 0) + 1

    def events_seen(self, lpar_uuid: str) -> int:
        """What a settle starting now answers for (snapshot it at the start)."""
        return self.events.get(lpar_uuid, 0)

    def consume(self, lpar_uuid: str, seen: int) -> None:
        """A settle finished: the events it saw are answered for; later ones
        (arrived while it ran) stay for the next settle."""
        left = self.events.get(lpar_uuid, 0) - seen
        if left > 0:
            self.events[lpar_uuid] = left
        else:
            self.events.pop(lpar_uuid, None)

    # -- evidence -----------------------------------------------------------
    def may_skip(self, lpar_uuid: str, state: str, seen: int) -> bool:
        """The evidence rule of the module docstring (max-wait aside)."""
        evidence = self.evidence.get(lpar_uuid)
        return (seen == 1 and evidence is not None and evidence.epoch == self.epoch
                and evidence.state == state)

    def confirm(self, lpar_uuid: str, state: str, epoch: int) -> None:
        """A settle compared ``state`` with nova (nova agreed, or was told).

        ``epoch`` is the epoch when that settle began: evidence gathered
        across a lost-events notice is void from the start.
        """
        self.evidence[lpar_uuid] = Evidence(state, epoch)

    def doubt(self, lpar_uuid: str) -> None:
        """Drop an LPAR's evidence: its next settle asks nova."""
        self.evidence.pop(lpar_uuid, None)

    def doubt_all(self) -> None:
        """Events may have been lost: void every LPAR's evidence at once."""
        self.epoch += 1

    # -- lifetime -----------------------------------------------------------
    def forget(self, lpar_uuid: str) -> None:
        """Drop everything known about one LPAR (deleted, or unknown again)."""
        self.evidence.pop(lpar_uuid, None)
        self.instance_uuid.pop(lpar_uuid, None)
        self.not_found.pop(lpar_uuid, None)
        self.events.pop(lpar_uuid, None)

    def known(self) -> set[str]:
        """LPARs the engine has compared with nova or knows the uuid form of."""
        return set(self.evidence) | set(self.instance_uuid)

    def tracked(self) -> int:
        """LPARs with anything cached (for memory figures)."""
        return len(set(self.evidence) | set(self.instance_uuid) | set(self.not_found))
