"""Fetching an LPAR's NVRAM from NovaLink through pypowervm.

The directory store is handed ``fetch(lpar_uuid) -> bytes``; in the daemon
that is this fetcher over the feed's own session (``NovaLinkSource.adapter``),
so an NVRAM store costs one GET and no extra logon. The NVRAM is an extended
attribute group: NovaLink leaves ``PartitionNVRAM`` out of an LPAR entry
unless asked for it, and pypowervm asks with ``xag=[XAG.NVRAM]``, which it
sends as ``?group=NVRAM`` (without it pypowervm sends ``group=None`` and the
wrapper's ``nvram`` is None).

The bytes returned are NovaLink's base64 text as it came (ASCII), not its
decoded form: that is what nova-powervm's NVRAM stores kept and what is
written back to an LPAR on a rebuild or a migration, so a stored file can be
handed back to NovaLink untouched.

    fetch = PypowervmNvramFetcher(source.adapter)
    store = make_store("directory", "/var/lib/lpar_eventd/nvram", fetch)
    fetch("0E6C...")    # b"TlZSQU0g..." ; LparGone on 404
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import logical_partition as pvm_lpar

from lpar_eventd.engine.ports import LparGone

__all__ = ["PypowervmNvramFetcher", "NvramUnavailable"]


class NvramUnavailable(LookupError):
    """NovaLink answered the LPAR without its NVRAM.

    Raised rather than returning empty bytes: an empty answer written to the
    store would replace the last good NVRAM with nothing. The engine counts
    the failure and retries the store with backoff.
    """

    def __init__(self, lpar_uuid: str):
        super().__init__(f"NovaLink returned LPAR {lpar_uuid} without its NVRAM")
        self.lpar_uuid = lpar_uuid


class PypowervmNvramFetcher:
    """``fetch(lpar_uuid) -> bytes`` for the directory NVRAM store.

    ``adapter_fn`` returns the current pypowervm Adapter; it is called for
    every fetch so that a reconnected source's new session is used.
    """

    def __init__(self, adapter_fn: Callable[[], Any]):
        self._adapter = adapter_fn

    def __call__(self, lpar_uuid: str) -> bytes:
        try:
            resp = self._adapter().read(pvm_lpar.LPAR.schema_type, root_id=lpar_uuid,
                                        xag=[pvm_const.XAG.NVRAM])
        except pvm_exc.HttpError as exc:
            if getattr(getattr(exc, "response", None), "status", None) == 404:
                raise LparGone(lpar_uuid) from None
            raise
        nvram = pvm_lpar.LPAR.wrap(resp).nvram
        if not nvram:
            raise NvramUnavailable(lpar_uuid)
        return nvram.encode("ascii")
