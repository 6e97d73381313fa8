"""The no-op NVRAM store: for hosts where nothing needs the NVRAM kept.

NVRAM events are still coalesced and counted; only the store does nothing.

    store = NoopStore()
"""

from __future__ import annotations

__all__ = ["NoopStore"]


class NoopStore:
    """NvramStore port that stores nothing (counts the calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def store(self, lpar_uuid: str, instance_uuid: str) -> None:
        self.calls += 1
