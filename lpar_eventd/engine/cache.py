"""The engine's memory of LPARs: bounded, time-limited, never authoritative.

What is cached, and why it can never cause a wrong emission:

* ``last_state``: the PartitionState last turned into a decision (an emitted
  event, or a lookup that showed nova already agreed). A settle whose read
  state equals it is skipped without asking nova: nova's view was correct
  for that state and nothing we sent since could have changed it. It is
  forgotten when nova was mid-operation (task_state skip: nova will settle
  the power state itself, we do not know to what), on DELETE_URI, and on
  expiry, so in doubt we ask nova again.
* ``instance_uuid``: which uuid form (as-is or high-bit) nova knows an LPAR
  by. The mapping of an LPAR to its instance never changes, so this saves the
  second call for high-bit LPARs and lets NVRAM stores skip the lookup.
* ``not_found``: LPARs nova does not know (VIOS-like or non-OpenStack
  partitions), for a shorter time, so an unmanaged LPAR does not cost two
  nova calls on every state change. A new instance for such an LPAR is
  noticed when the entry expires or on DELETE_URI / ADD_URI.

The instance itself (task_state, power_state) is never cached: it is read
fresh right before each decision, which is the one call that cannot be saved.
"""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache

__all__ = ["LparCaches"]


class LparCaches:
    """The three per-LPAR caches, each bounded in size and age."""

    def __init__(self, timer: Callable[[], float], size: int = 20000,
                 state_ttl: float = 3600.0, instance_ttl: float = 3600.0,
                 not_found_ttl: float = 300.0):
        self.last_state: TTLCache[str, str] = TTLCache(size, state_ttl, timer=timer)
        self.instance_uuid: TTLCache[str, str] = TTLCache(size, instance_ttl, timer=timer)
        self.not_found: TTLCache[str, bool] = TTLCache(size, not_found_ttl, timer=timer)

    def forget(self, lpar_uuid: str) -> None:
        """Drop everything known about one LPAR (deleted, or unknown again)."""
        self.last_state.pop(lpar_uuid, None)
        self.instance_uuid.pop(lpar_uuid, None)
        self.not_found.pop(lpar_uuid, None)

    def tracked(self) -> int:
        """LPARs with anything cached (for memory figures)."""
        return len(set(self.last_state) | set(self.instance_uuid) | set(self.not_found))
