"""Hand freed heap back to the operating system after a large, rare parse.

Why: a resync lists every LPAR of the host, and NovaLink answers with the
full LogicalPartition feed (about 20 KB an LPAR, ~40 MB for 2000). lxml and
pypowervm's wrappers allocate that through malloc, in the arena of whichever
settle worker ran the listing; once freed, glibc keeps most of it mapped,
so a long-running daemon's RSS would step up at each resync although
nothing is retained. ``malloc_trim(0)`` returns the free pages of every
arena. Elsewhere (musl, macOS) it is a no-op: RSS may then stay at its
high-water mark, which is bounded by the largest listing.

    heap.release()   # after the listing's objects are gone
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

__all__ = ["release"]

LOG = logging.getLogger(__name__)


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _find_trim()


def release() -> bool:
    """Collect cycles, then return free heap pages to the OS; True if trimmed."""
    gc.collect()
    if _TRIM is None:
        return False
    returned = bool(_TRIM(0))
    LOG.debug("malloc_trim: %s", "memory returned" if returned else "nothing to return")
    return returned
