"""The directory NVRAM store: one file per instance, replaced atomically.

When an LPAR's burst of NVRAM events has settled, the engine calls
``store(lpar_uuid, instance_uuid)`` once; this store fetches the LPAR's
current NVRAM (an injected ``fetch(lpar_uuid) -> bytes``: in the daemon a
pypowervm read of the LPAR with ``?group=NVRAM``) and writes it to
``<path>/<instance_uuid>.nvram``. The write goes to a temporary file in the
same directory, is flushed to disk, then renamed over the old file
(``os.replace``), so a reader or a crash sees the old NVRAM or the new, never
half of one. An unchanged NVRAM is not rewritten.

A failed fetch or write raises (the engine counts and retries); a fetch
that finds the LPAR gone raises ``LparGone`` (the pypowervm fetcher does on
NovaLink's 404), which the engine skips as ``lpar_gone`` without a retry.

    store = DirectoryStore("/var/lib/lpar_eventd/nvram", fetch=novalink_nvram)
    store.store("0E6C...", "0e6c...")
    store.read("0e6c...")   # the bytes, or None
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["DirectoryStore", "Fetch", "SUFFIX"]

LOG = logging.getLogger(__name__)

Fetch = Callable[[str], bytes]
SUFFIX = ".nvram"


def _checked_uuid(instance_uuid: str) -> str:
    """The canonical lower-case uuid; refuses anything else (it names a file)."""
    try:
        return str(uuidlib.UUID(instance_uuid))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not an instance uuid: {instance_uuid!r}") from None


class DirectoryStore:
    """NvramStore port: NVRAM files in one directory, written atomically."""

    def __init__(self, path: str | os.PathLike[str], fetch: Fetch, *, fsync: bool = True):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._fetch = fetch
        self._fsync = fsync
        self.written = 0
        self.unchanged = 0

    def file_of(self, instance_uuid: str) -> Path:
        return self.path / (_checked_uuid(instance_uuid) + SUFFIX)

    def store(self, lpar_uuid: str, instance_uuid: str) -> None:
        target = self.file_of(instance_uuid)
        data = self._fetch(lpar_uuid)
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"NVRAM fetch for LPAR {lpar_uuid} returned "
                            f"{type(data).__name__}, not bytes")
        if self.read(instance_uuid) == data:
            self.unchanged += 1
            return
        self._write_atomically(target, bytes(data))
        self.written += 1
        LOG.debug("stored %d bytes of NVRAM of LPAR %s in %s", len(data), lpar_uuid, target)

    def read(self, instance_uuid: str) -> bytes | None:
        """The stored NVRAM of an instance, or None."""
        try:
            return self.file_of(instance_uuid).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, instance_uuid: str) -> bool:
        """Remove an instance's NVRAM (instance deleted); False if there was none."""
        try:
            self.file_of(instance_uuid).unlink()
        except FileNotFoundError:
            return False
        return True

    def _write_atomically(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix="." + target.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if self._fsync:
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self._fsync:
            self._sync_directory()

    def _sync_directory(self) -> None:
        """Make the rename itself durable (POSIX: fsync the directory)."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
