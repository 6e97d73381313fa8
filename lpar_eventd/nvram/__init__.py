"""NVRAM stores behind the engine's NvramStore port (see ``factory.make_store``),
and the pypowervm fetcher the directory store reads NVRAM with."""

from lpar_eventd.nvram.directory import DirectoryStore
from lpar_eventd.nvram.factory import STORE_NAMES, make_store
from lpar_eventd.nvram.fetch import NvramUnavailable, PypowervmNvramFetcher
from lpar_eventd.nvram.noop import NoopStore

__all__ = ["DirectoryStore", "NoopStore", "make_store", "STORE_NAMES",
           "PypowervmNvramFetcher", "NvramUnavailable"]
