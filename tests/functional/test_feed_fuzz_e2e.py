"""Bad answers served by the simulator, read by the real NovaLinkSource.

The simulator's ``body`` fault answers event reads with raw bytes: the source
must count each bad answer once, log it once with its reason, never resolve
an external entity, and go on to read the good events queued behind them --
with the same session (a bad body is not a bad session).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNova, MemorySink
from lpar_eventd.metrics import Metrics
from lpar_eventd.scale import fuzz_feed
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sources.novalink import NovaLinkSettings, NovaLinkSource

LPARS = [f"1A2B3C4D-0000-4000-8000-0000000000{i:02X}" for i in range(5)]
EVENT_PATH = "/rest/api/uom/Event"


def _bad_bodies(marker_file: Path) -> list[tuple[int, bytes, bool]]:
    """(status, body, counted as an error) for each kind of bad answer."""
    uri = marker_file.as_uri()
    laughs = (b'<!DOCTYPE feed [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;">]>')
    good = fuzz_feed.feed([fuzz_feed._entry("MODIFY_URI", fuzz_feed.lpar_uri(LPARS[0]),
                                            "PartitionState")])
    return [
        (200, b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", True),
        (200, b"<rss><channel/></rss>", True),
        (200, f'<!DOCTYPE feed [<!ENTITY x SYSTEM "{uri}">]>'.encode()
         + good.replace(b"PartitionState", b"&x;"), True),
        (200, laughs + good.replace(b"PartitionState", b"&c;"), True),
        (200, b"<feed xmlns='http://www.w3.org/2005/Atom'>" + b"<a>" * 3000
         + b"</a>" * 3000 + b"</feed>", True),
        (200, b"\xff\xfe\x00garbage\x80", True),
        (200, b"", True),                        # 200 with an empty body
        (200, fuzz_feed.feed(['<entry><content type="x"/></entry>']), True),
        (503, b"<html>not NovaLink</html>", True),
    ]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.slow
def test_bad_answers_are_counted_once_and_good_events_follow(tmp_path: Path) -> None:
    marker = "XXE-MARKER-e2e-5f1c"
    marker_file = tmp_path / "secret.txt"
    marker_file.write_text(marker, encoding="utf-8")
    sim = Simulator(SimConfig(port=0, long_poll=0.2)).start()
    records = _Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    metrics = Metrics()
    clock = FakeClock()
    sink = MemorySink()
    handler = DefaultHandler(Ports(MemoryHost(), MemoryNova(), sink), EngineConfig(),
                             metrics, clock)
    received: list = []
    seen = threading.Condition()

    def on_batch(batch) -> None:
        handler.accept_batch(batch)
        with seen:
            received.extend(batch)
            seen.notify_all()

    source = NovaLinkSource(NovaLinkSettings(
        host="127.0.0.1", port=sim.http_port, protocol="http", username="hscroot",
        password="abc123", timeout=10.0, backoff_base=0.01, backoff_max=0.02,
        min_poll_interval=0.0), metrics, clock=clock)
    try:
        source.start(on_batch)
        assert source.first_read.wait(10)
        logons = sim.counters().get("logons", {})
        bad = _bad_bodies(marker_file)
        for status, body, _ in bad:
            sim.inject_fault(kind="body", path=EVENT_PATH, status=status, body=body)
        for uuid in LPARS:
            sim.add_lpar(uuid, "not activated")
            sim.set_state(uuid, "running")
        deadline = time.monotonic() + 20
        with seen:
            while not {e.lpar_uuid for e in received if e.is_partition_state} >= set(LPARS):
                assert time.monotonic() < deadline, "good events not processed"
                seen.wait(0.5)
        logons_after = sim.counters().get("logons", {})
    finally:
        source.stop()
        sim.stop()
        root.removeHandler(records)
        root.setLevel(old_level)

    expected = sum(1 for *_, counted in bad if counted)
    errors = metrics.registry.get_sample_value("lpar_eventd_source_errors_total")
    assert errors == expected
    warnings = [r for r in records.records if r.levelno >= logging.WARNING
                and not str(r.msg).startswith("Unencrypted communication")]
    assert len(warnings) == expected, [r.getMessage()[:120] for r in warnings]
    assert all(r.name == "lpar_eventd.sources.novalink" for r in warnings)
    reasons = " | ".join(r.getMessage() for r in warnings)
    for reason in ("malformed XML", "not an Atom feed", "declares a DOCTYPE",
                   "nested too deep", "HTTP 200 with an empty body",
                   "without content", "HTTP 503"):
        assert reason in reasons
    # A bad body is not a bad session: no logon after the first.
    assert logons_after == logons
    everything = [r.getMessage() for r in records.records]
    everything += [f"{e.raw_type} {e.data} {sorted(e.details)}" for e in received]
    assert not any(marker in text for text in everything)
    assert handler.queue and len(handler.queue) >= len(LPARS)
