"""CPU cost of reading the NovaLink feed: pypowervm's EventListener vs ours.

Both run against the simulator on loopback, in this process, for the same
windows: an idle feed (the server long-polls, or answers 204 at once as some
NovaLink versions do) and a burst of events. Figures are process CPU
seconds (user + system) per window; the simulator's own share is included
in both, which only makes the difference smaller.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from pypowervm import adapter as pvm_adapter

from lpar_eventd.metrics import Metrics
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sources.novalink import NovaLinkSettings, NovaLinkSource

__all__ = ["measure"]

USER, PASSWORD = "hscroot", "abc123"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Counting(pvm_adapter.RawEventHandler):
    def __init__(self) -> None:
        self.events = 0

    def process(self, events):  # noqa: D401 - pypowervm's interface
        self.events += len(events)


def _window(seconds: float, action: Callable[[], None] | None = None) -> float:
    before = _cpu()
    if action:
        action()
    time.sleep(seconds)
    return _cpu() - before


def _pypowervm(sim: Simulator, idle: float, burst: int) -> dict[str, float]:
    session = pvm_adapter.Session(host="127.0.0.1", port=sim.http_port, protocol="http",
                                  username=USER, password=PASSWORD)
    listener = session.get_event_listener()
    handler = _Counting()
    listener.subscribe(handler)
    time.sleep(0.5)
    out = {"idle_cpu_s": _window(idle),
           "burst_cpu_s": _window(3.0, lambda: sim.push_events(burst))}
    out["burst_events"] = handler.events
    listener.shutdown()
    return out


def _ours(sim: Simulator, idle: float, burst: int) -> dict[str, float]:
    got = [0]
    source = NovaLinkSource(NovaLinkSettings(
        host="127.0.0.1", port=sim.http_port, protocol="http", username=USER,
        password=PASSWORD, timeout=30.0), Metrics(CollectorRegistry()))
    source.start(lambda batch: got.__setitem__(0, got[0] + len(batch)))
    source.first_read.wait(10)
    time.sleep(0.5)
    out = {"idle_cpu_s": _window(idle),
           "burst_cpu_s": _window(3.0, lambda: sim.push_events(burst))}
    out["burst_events"] = got[0]
    source.stop()
    return out


def measure(idle: float = 10.0, burst: int = 2000) -> dict[str, dict[str, dict[str, float]]]:
    """{feed mode: {reader: figures}} for a long-polling and a 204-at-once server."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for mode, long_poll in (("long-poll 2 s", 2.0), ("204 at once", 0.0)):
        with Simulator(SimConfig(port=0, long_poll=long_poll)) as sim:
            results[mode] = {"pypowervm EventListener": _pypowervm(sim, idle, burst),
                             "lpar_eventd source": _ours(sim, idle, burst)}
    return results


def format_table(results: dict[str, dict[str, dict[str, float]]], idle: float) -> str:
    lines = [f"{'feed':16}{'reader':26}{f'idle CPU s/{idle:g}s':>18}"
             f"{'burst CPU s':>14}{'events':>9}"]
    for mode, readers in results.items():
        for name, f in readers.items():
            lines.append(f"{mode:16}{name:26}{f['idle_cpu_s']:>18.3f}"
                         f"{f['burst_cpu_s']:>14.3f}{f['burst_events']:>9.0f}")
    return "\n".join(lines)
