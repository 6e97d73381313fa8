"""NVRAM from the simulator through the real pypowervm client, into the store."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lpar_eventd.engine.ports import LparGone
from lpar_eventd.nvram import PypowervmNvramFetcher, make_store
from lpar_eventd.scale.scenarios import HostEvent
from lpar_eventd.simulator import Simulator
from lpar_eventd.sources.novalink import NovaLinkSettings, connect

from tests.functional.conftest import PASSWORD, USER


@pytest.fixture
def adapter(simulator: Simulator) -> Iterator[Any]:
    adapter = connect(NovaLinkSettings(host="127.0.0.1", port=simulator.http_port,
                                       protocol="http", username=USER,
                                       password=PASSWORD, timeout=10.0))
    yield adapter
    adapter.session._logoff()


def _lpar(simulator: Simulator) -> str:
    lpar = str(uuid.uuid4()).upper()
    simulator.add_lpar(lpar, "running", event=False)
    return lpar


def _nvram_event(simulator: Simulator, lpar: str) -> None:
    """What the hypervisor does when the guest writes NVRAM."""
    host = simulator.core.host  # type: ignore[union-attr]
    simulator.call(host.apply, HostEvent(0.0, "MODIFY_URI", host.lpar_path(lpar),
                                         "NVRAM", lpar))


def _served(simulator: Simulator, lpar: str) -> str:
    return simulator.call(lambda: simulator.core.host.lpar(lpar).nvram)  # type: ignore[union-attr]


class TestFetchFromNovaLink:
    def test_returns_the_lpars_current_nvram_as_novalink_sends_it(self, simulator, adapter):
        lpar = _lpar(simulator)
        fetch = PypowervmNvramFetcher(lambda: adapter)
        first = fetch(lpar)
        assert first == _served(simulator, lpar).encode("ascii")
        assert base64.b64decode(first).startswith(f"NVRAM {lpar} v0".encode())
        _nvram_event(simulator, lpar)
        second = fetch(lpar)
        assert second != first
        assert base64.b64decode(second).startswith(f"NVRAM {lpar} v1".encode())

    def test_a_deleted_lpar_is_gone(self, simulator, adapter):
        with pytest.raises(LparGone):
            PypowervmNvramFetcher(lambda: adapter)(str(uuid.uuid4()).upper())

    def test_an_expired_session_logs_on_again(self, simulator, adapter):
        lpar = _lpar(simulator)
        simulator.expire_tokens()
        assert PypowervmNvramFetcher(lambda: adapter)(lpar) == \
            _served(simulator, lpar).encode("ascii")


class TestIntoTheDirectoryStore:
    def test_the_store_keeps_the_latest_nvram_and_skips_unchanged(self, simulator,
                                                                  adapter, tmp_path):
        lpar = _lpar(simulator)
        instance = lpar.lower()
        store = make_store("directory", tmp_path / "nvram",
                           PypowervmNvramFetcher(lambda: adapter))
        store.store(lpar, instance)
        store.store(lpar, instance)
        assert (store.written, store.unchanged) == (1, 1)
        _nvram_event(simulator, lpar)
        store.store(lpar, instance)
        assert store.written == 2
        assert (tmp_path / "nvram" / f"{instance}.nvram").read_bytes() == \
            _served(simulator, lpar).encode("ascii")
