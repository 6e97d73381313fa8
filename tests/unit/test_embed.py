"""lpar_eventd.embed: the engine started from a compute driver's init_host.

The driver is nova's own fake driver, the adapter a stand-in whose session
NovaLink never answers: what is checked here is the wiring (its own options,
a borrowed session never logged off, the driver's sink first, the endpoint
only when asked, a stop that can be called twice). The engine embedded in
nova's real compute manager runs in tests/functional/testbed/test_embedded.py.
"""

from __future__ import annotations

import urllib.request

import pytest
from nova.virt import fake
from prometheus_client import CollectorRegistry

from lpar_eventd import embed
from lpar_eventd.testbed.procs import free_port


class UnreachableSession:
    """A pypowervm Session NovaLink does not answer; records log-offs."""

    host = "novalink.example"

    def __init__(self) -> None:
        self.logged_off = 0

    def request(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("NovaLink unreachable")

    def _logoff(self) -> None:
        self.logged_off += 1


class Adapter:
    def __init__(self) -> None:
        self.session = UnreachableSession()


def write_conf(tmp_path, text: str):
    path = tmp_path / "lpar-eventd.conf"
    path.write_text(text)
    return [str(path)]


def test_options_come_from_lpar_eventds_own_file_and_a_bad_one_is_one_line(tmp_path):
    conf = embed.load_config(write_conf(tmp_path, "[events]\npolicy = reference\n"))
    assert conf.events.policy == "reference"
    with pytest.raises(embed.ConfigError, match="settle_seconds") as err:
        embed.load_config(write_conf(tmp_path, "[events]\nsettle_seconds = soon\n"))
    assert "\n" not in str(err.value)


def test_the_engine_runs_on_the_drivers_adapter_and_stops_twice_cleanly(tmp_path):
    adapter = Adapter()
    running = embed.start(fake.FakeDriver(None), adapter, host="compute-1",
                          conf=embed.load_config(write_conf(tmp_path, "")),
                          registry=CollectorRegistry())
    try:
        assert running.metrics_url is None                  # [metrics] port not set
        assert running.handler.name == "default"
        ok, why = running.healthy()
        assert not ok and why.startswith("waiting for the first NovaLink feed read")
    finally:
        assert running.stop() is True
        assert running.stop() is True
    assert adapter.session.logged_off == 0                  # the driver's session


def test_metrics_are_served_from_inside_nova_compute_when_the_port_is_set(tmp_path):
    port = free_port()
    conf = embed.load_config(write_conf(tmp_path, f"[metrics]\nport = {port}\n"))
    running = embed.start(fake.FakeDriver(None), Adapter(), conf=conf,
                          registry=CollectorRegistry())
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert "lpar_eventd_events_received_total" in body
    finally:
        running.stop()
