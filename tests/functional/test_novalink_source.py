"""The NovaLink source: the real pypowervm client against the simulator on loopback."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from lpar_eventd.engine.events import EventType
from lpar_eventd.engine.ports import LparGone
from lpar_eventd.metrics import Metrics
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sources.novalink import (
    NovaLinkSettings, NovaLinkSource, NovaLinkStateReader)

LPAR = "1A2B3C4D-0000-4000-8000-00000000000A"


class Collector:
    """Collects batches handed over by the source."""

    def __init__(self) -> None:
        self.batches: list[list] = []
        self._cond = threading.Condition()

    def __call__(self, batch) -> None:
        with self._cond:
            self.batches.append(list(batch))
            self._cond.notify_all()

    def events(self) -> list:
        with self._cond:
            return [e for b in self.batches for e in b]

    def wait_for(self, predicate, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events_unlocked()):
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; got {[e.type for e in self.events_unlocked()]}"
                self._cond.wait(left)

    def events_unlocked(self) -> list:
        return [e for b in self.batches for e in b]


@pytest.fixture
def sim():
    simulator = Simulator(SimConfig(port=0, long_poll=0.3)).start()
    simulator.add_lpar(LPAR, "not activated")
    yield simulator
    simulator.stop()


def settings_for(sim: Simulator, **kw) -> NovaLinkSettings:
    base = dict(host="127.0.0.1", port=sim.http_port, protocol="http",
                username="hscroot", password="abc123", timeout=10.0,
                backoff_base=0.05, backoff_max=0.2)
    base.update(kw)
    return NovaLinkSettings(**base)


@pytest.fixture
def source(sim):
    metrics = Metrics(CollectorRegistry())
    src = NovaLinkSource(settings_for(sim), metrics)
    yield src, metrics
    src.stop()


class TestFeed:
    def test_new_client_first_then_each_response_as_one_batch(self, sim, source):
        src, metrics = source
        got = Collector()
        src.start(got)
        got.wait_for(lambda evs: evs and evs[0].type is EventType.NEW_CLIENT)
        assert src.first_read.wait(5)
        sim.set_state(LPAR, "running")
        got.wait_for(lambda evs: any(e.lpar_uuid == LPAR and e.is_partition_state
                                     for e in evs))
        assert metrics.value("source_up") == 1
        assert metrics.value("last_feed_read_timestamp_seconds") > 0

    def test_reconnects_after_the_simulator_restarts_with_new_sessions(self, sim, source):
        src, metrics = source
        got = Collector()
        src.start(got)
        got.wait_for(lambda evs: len(evs) >= 1)
        sim.restart(drop_sessions=True)
        got.wait_for(lambda evs: [e.type for e in evs].count(EventType.NEW_CLIENT) >= 2
                     or EventType.CACHE_CLEARED in [e.type for e in evs])
        assert metrics.value("source_errors_total") >= 0

    def test_a_dead_novalink_is_counted_and_retried(self):
        metrics = Metrics(CollectorRegistry())
        settings = NovaLinkSettings(host="127.0.0.1", port=1, protocol="http",
                                    username="u", password="p", timeout=1.0,
                                    backoff_base=0.01, backoff_max=0.05)
        src = NovaLinkSource(settings, metrics)
        src.start(lambda batch: None)
        deadline = time.monotonic() + 10
        while metrics.value("source_errors_total") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        src.stop()
        assert metrics.value("source_errors_total") >= 3
        assert metrics.value("source_reconnects_total") >= 3
        assert metrics.value("source_up") == 0


class TestStateReader:
    def test_quick_property_and_404(self, sim, source):
        src, _ = source
        reader = NovaLinkStateReader(src.adapter)
        sim.set_state(LPAR, "open firmware")
        assert reader.read_state(LPAR) == "open firmware"
        with pytest.raises(LparGone):
            reader.read_state("0FFFFFFF-0000-4000-8000-000000000000")

    def test_one_feed_read_lists_every_lpar(self, sim, source):
        src, _ = source
        sim.add_lpar("2A2B3C4D-0000-4000-8000-00000000000B", "running")
        listing = NovaLinkStateReader(src.adapter).list_lpars()
        assert listing[LPAR] == "not activated"
        assert listing["2A2B3C4D-0000-4000-8000-00000000000B"] == "running"


def test_wrong_password_never_logs_the_password(sim, caplog):
    metrics = Metrics(CollectorRegistry())
    src = NovaLinkSource(settings_for(sim, password="s3cret-wrong"), metrics)
    src.start(lambda batch: None)
    deadline = time.monotonic() + 10
    while metrics.value("source_errors_total") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    src.stop()
    assert metrics.value("source_errors_total") >= 2
    assert "s3cret-wrong" not in caplog.text
    assert "s3cret-wrong" not in repr(settings_for(sim, password="s3cret-wrong"))
