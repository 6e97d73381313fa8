"""The directory NVRAM store (atomic files) and the no-op store."""

from __future__ import annotations

import os

import pytest

from lpar_eventd.engine.ports import LparGone
from lpar_eventd.nvram import DirectoryStore, NoopStore, make_store

LPAR = "0E6C1A2B-0000-4000-8000-000000000001"
INSTANCE = "8e6c1a2b-0000-4000-8000-000000000001"


class Host:
    """A fetch callable: the LPARs' NVRAM, and a switch to make it fail."""

    def __init__(self) -> None:
        self.nvram = {LPAR: b"\x00NVRAM-1"}
        self.fail = False
        self.fetches = 0

    def __call__(self, lpar_uuid: str) -> bytes:
        self.fetches += 1
        if self.fail:
            raise ConnectionError("NovaLink unavailable")
        if lpar_uuid not in self.nvram:   # as PypowervmNvramFetcher answers a 404
            raise LparGone(lpar_uuid)
        return self.nvram[lpar_uuid]


class TestDirectoryStore:
    def test_an_lpar_gone_is_said_as_such_and_keeps_the_last_nvram(self, tmp_path):
        """The engine skips a store that raises LparGone (lpar_gone): the
        store passes the fetcher's answer on and leaves the file alone."""
        host = Host()
        store = DirectoryStore(tmp_path, host, fsync=False)
        store.store(LPAR, INSTANCE)
        del host.nvram[LPAR]
        with pytest.raises(LparGone):
            store.store(LPAR, INSTANCE)
        assert store.read(INSTANCE) == b"\x00NVRAM-1"

    def test_one_file_per_instance(self, tmp_path):
        host = Host()
        store = DirectoryStore(tmp_path / "nvram", host)
        store.store(LPAR, INSTANCE)
        assert (tmp_path / "nvram" / f"{INSTANCE}.nvram").read_bytes() == b"\x00NVRAM-1"
        assert store.read(INSTANCE) == b"\x00NVRAM-1"
        assert host.fetches == 1 and store.written == 1

    def test_replaced_not_appended_and_no_temp_left(self, tmp_path):
        host = Host()
        store = DirectoryStore(tmp_path, host)
        store.store(LPAR, INSTANCE)
        host.nvram[LPAR] = b"NVRAM-2"
        store.store(LPAR, INSTANCE.upper())
        assert store.read(INSTANCE) == b"NVRAM-2"
        assert os.listdir(tmp_path) == [f"{INSTANCE}.nvram"]

    def test_unchanged_is_not_rewritten(self, tmp_path):
        store = DirectoryStore(tmp_path, Host())
        store.store(LPAR, INSTANCE)
        before = os.stat(store.file_of(INSTANCE)).st_ino
        store.store(LPAR, INSTANCE)
        assert (store.written, store.unchanged) == (1, 1)
        assert os.stat(store.file_of(INSTANCE)).st_ino == before

    def test_fetch_failure_raises_and_keeps_old_file(self, tmp_path):
        host = Host()
        store = DirectoryStore(tmp_path, host)
        store.store(LPAR, INSTANCE)
        host.fail = True
        with pytest.raises(ConnectionError):
            store.store(LPAR, INSTANCE)
        assert store.read(INSTANCE) == b"\x00NVRAM-1"

    def test_failed_write_leaves_no_temp(self, tmp_path):
        store = DirectoryStore(tmp_path, Host())
        os.mkdir(store.file_of(INSTANCE))  # a directory where the file goes
        with pytest.raises(OSError):
            store.store(LPAR, INSTANCE)
        assert sorted(os.listdir(tmp_path)) == [f"{INSTANCE}.nvram"]

    def test_not_bytes(self, tmp_path):
        with pytest.raises(TypeError, match="not bytes"):
            DirectoryStore(tmp_path, lambda lpar: "text").store(LPAR, INSTANCE)  # type: ignore[arg-type,return-value]

    @pytest.mark.parametrize("bad", ["../etc/passwd", "", "x" * 36])
    def test_refuses_non_uuid_names(self, tmp_path, bad):
        with pytest.raises(ValueError, match="not an instance uuid"):
            DirectoryStore(tmp_path, Host()).store(LPAR, bad)

    def test_delete(self, tmp_path):
        store = DirectoryStore(tmp_path, Host())
        store.store(LPAR, INSTANCE)
        assert store.delete(INSTANCE) and not store.delete(INSTANCE)
        assert store.read(INSTANCE) is None


class TestFactory:
    def test_directory(self, tmp_path):
        assert isinstance(make_store("directory", tmp_path, Host()), DirectoryStore)

    def test_none(self):
        store = make_store("none")
        store.store(LPAR, INSTANCE)
        assert isinstance(store, NoopStore) and store.calls == 1

    def test_directory_needs_path_and_fetch(self):
        with pytest.raises(ValueError, match="needs a path"):
            make_store("directory")

    def test_unknown(self):
        with pytest.raises(ValueError, match="choose from"):
            make_store("s3")

    def test_in_the_engine(self, tmp_path):
        from lpar_eventd.engine.handler import DefaultHandler, Ports
        from lpar_eventd.engine.events import Event
        from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNova, MemorySink, drive
        clock = FakeClock()
        nova = MemoryNova()
        nova.add(INSTANCE)
        store = make_store("directory", tmp_path, Host())
        handler = DefaultHandler(Ports(MemoryHost({LPAR: "running"}), nova, MemorySink(nova),
                                       store), clock=clock)
        uri = f"https://h:12443/rest/api/uom/LogicalPartition/{LPAR}"
        for t in (0.0, 0.5, 1.0):
            clock.set(t)
            handler.accept(Event.parse("MODIFY_URI", uri, "PartitionState,NVRAM", t))
        drive(handler, clock, 200.0)
        assert store.read(INSTANCE) == b"\x00NVRAM-1"
        assert store.written == 1
