"""The pypowervm NVRAM fetcher, with pypowervm's own path building and parsing
but no network: the adapter answers with the simulator's wire format."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc

from lpar_eventd.engine.ports import LparGone
from lpar_eventd.nvram import NvramUnavailable, PypowervmNvramFetcher
from lpar_eventd.simulator import wire
from lpar_eventd.simulator.partition import Partition

LPAR = "0E6C1A2B-0000-4000-8000-000000000001"
MS = "A168A3EC-BB3E-3EAD-86C1-7D98B9D50239"
BASE = "https://novalink.example:12443"


class Adapter:
    """Answers ``read`` as NovaLink would, recording the path pypowervm builds."""

    def __init__(self, part: Partition | None, serve_nvram: bool = True):
        self.part = part
        self.serve_nvram = serve_nvram
        self.paths: list[str] = []

    def read(self, root_type: str, root_id: str | None = None, **kwargs: Any) -> Any:
        path = pvm_adapter.Adapter.build_path("uom", root_type, root_id,
                                              xag=kwargs.get("xag"))
        self.paths.append(path)
        if self.part is None or self.part.uuid != root_id:
            resp = pvm_adapter.Response("GET", path, 404, "Not Found", {})
            raise pvm_exc.HttpNotFound(resp)
        nvram = self.part.nvram if self.serve_nvram and "group=NVRAM" in path else None
        entry = wire.lpar_entry(BASE, BASE + path.split("?")[0],
                                self.part.view(MS), nvram)
        body = entry.replace("<entry>", '<entry xmlns="http://www.w3.org/2005/Atom">', 1)
        resp = pvm_adapter.Response("GET", path, 200, "OK",
                                    {"content-type": wire.ATOM_XML}, body=body)
        resp._unmarshal_atom()
        return resp


def partition() -> Partition:
    return Partition(LPAR, "vm-1", 3, "running", nvram_version=4)


class TestFetchingNvram:
    def test_asks_for_the_nvram_group_and_returns_novalinks_base64(self):
        part = partition()
        adapter = Adapter(part)
        data = PypowervmNvramFetcher(lambda: adapter)(LPAR)
        assert adapter.paths == [f"/rest/api/uom/LogicalPartition/{LPAR}?group=NVRAM"]
        assert data == part.nvram.encode("ascii")
        assert base64.b64decode(data).startswith(f"NVRAM {LPAR} v4".encode())

    def test_each_fetch_uses_the_current_adapter(self):
        adapters = [Adapter(partition()), Adapter(partition())]
        fetch = PypowervmNvramFetcher(lambda: adapters[0])
        fetch(LPAR)
        adapters.pop(0)  # the source reconnected: a new session
        fetch(LPAR)
        assert len(adapters[0].paths) == 1

    def test_a_deleted_lpar_is_gone(self):
        with pytest.raises(LparGone) as gone:
            PypowervmNvramFetcher(lambda: Adapter(None))(LPAR)
        assert gone.value.lpar_uuid == LPAR

    def test_other_http_errors_are_raised_for_the_engine_to_retry(self):
        class Failing(Adapter):
            def read(self, *args: Any, **kwargs: Any) -> Any:
                resp = pvm_adapter.Response("GET", "/x", 503, "Unavailable", {})
                raise pvm_exc.HttpError(resp)

        with pytest.raises(pvm_exc.HttpError):
            PypowervmNvramFetcher(lambda: Failing(None))(LPAR)

    def test_an_answer_without_nvram_never_becomes_empty_bytes(self):
        # an empty file would replace the last good NVRAM with nothing
        with pytest.raises(NvramUnavailable):
            PypowervmNvramFetcher(lambda: Adapter(partition(), serve_nvram=False))(LPAR)
