"""Building the configured NVRAM store (``[nvram] store``, ``path``).

    store = make_store("directory", "/var/lib/lpar_eventd/nvram", fetch)
    store = make_store("none")
"""

from __future__ import annotations

import os

from lpar_eventd.nvram.directory import DirectoryStore, Fetch
from lpar_eventd.nvram.noop import NoopStore

__all__ = ["make_store", "STORE_NAMES"]

STORE_NAMES = ("directory", "none")


def make_store(name: str, path: str | os.PathLike[str] | None = None,
               fetch: Fetch | None = None) -> DirectoryStore | NoopStore:
    """The store ``name``: ``directory`` (needs ``path`` and ``fetch``) or ``none``."""
    if name in ("none", "noop"):
        return NoopStore()
    if name == "directory":
        if path is None or fetch is None:
            raise ValueError("the directory NVRAM store needs a path and a fetch callable")
        return DirectoryStore(path, fetch)
    raise ValueError(f"unknown NVRAM store {name!r} (choose from: {', '.join(STORE_NAMES)})")
