"""Benchmark: is the simulator ever the bottleneck of a pypowervm client?

Three figures, each the median of ``--repeats`` runs:

* ceiling: pypowervm's own parse rate of the very feed bodies the simulator
  sends (Response unmarshalling, the listener's ``_format_events`` and
  ``Event.wrap``, as ``_EventListener._get_events`` does), no network;
* delivered to 1: events/s from the simulator to one real pypowervm
  EventListener (RawEventHandler), from the control call that produces the
  events until the last one is handed to the handler;
* delivered to 10: the same with 10 concurrent listeners (sum of events);
* served: what the simulator serves to a bare keep-alive HTTP client that
  only counts entries (the server side alone: the simulator is not the
  bottleneck when this is above the ceiling);
* source: delivered through lpar_eventd's own feed reader (one parse).

The simulator runs in its own process (as NovaLink does), so its work does
not share the client's GIL; the listeners share this process, as the
daemon's would. Target: the simulator serves >= 20k events/s and more than
the ceiling (exit status 0), i.e. it is never the bottleneck.

    python -m lpar_eventd.scale.bench_sim --events 20000 --repeats 3
    (the lead wires ``run(argv)`` as ``lpar-eventd-scale bench-sim``)
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import requests

__all__ = ["run", "main", "parse_rate", "delivered_rate"]

USER, PASSWORD = "hscroot", "abc123"


def _serve(conn: Any, per_response: int, max_queue: int) -> None:
    """Child process: run a simulator until told to stop."""
    from lpar_eventd.scale.scenarios import build
    from lpar_eventd.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(port=0, long_poll=1.0, max_queue=max_queue,
                              max_events_per_response=per_response,
                              users={USER: PASSWORD})).start()
    sim.load(build("reboot-wave", 100, 1))
    conn.send(sim.http_port)
    conn.recv()
    sim.stop()


class _Counter:
    """A RawEventHandler counting MODIFY events; notes when it has ``target``."""

    def __init__(self, target: int):
        from pypowervm import adapter as pvm_adapter

        outer = self
        self.target = target
        self.count = 0
        self.done = threading.Event()

        class Handler(pvm_adapter.RawEventHandler):
            def process(self, events: list[dict[str, Any]]) -> None:
                outer.count += sum(1 for e in events if e["EventType"] == "MODIFY_URI")
                if outer.count >= outer.target:
                    outer.done.set()

        self.handler = Handler()


def delivered_rate(port: int, listeners: int, events: int) -> float:
    """Events/s delivered to ``listeners`` concurrent pypowervm listeners."""
    from pypowervm import adapter as pvm_adapter

    sessions = [pvm_adapter.Session("127.0.0.1", USER, PASSWORD, protocol="http", port=port)
                for _ in range(listeners)]
    counters = [_Counter(events) for _ in sessions]
    for session, counter in zip(sessions, counters, strict=True):
        session.get_event_listener().subscribe(counter.handler)
    try:
        started = time.perf_counter()
        requests.post(f"http://127.0.0.1:{port}/sim/events", json={"count": events},
                      timeout=300).raise_for_status()
        for counter in counters:
            if not counter.done.wait(300):
                raise RuntimeError(f"only {counter.count}/{events} events arrived")
        elapsed = time.perf_counter() - started
    finally:
        _close(sessions, counters)
    return listeners * events / elapsed


def served_rate(port: int, events: int) -> float:
    """Events/s the simulator serves to a bare keep-alive HTTP client that only
    counts entries (no XML parsing): what the server side can do on its own."""
    from pypowervm import adapter as pvm_adapter

    from lpar_eventd.sources.novalink import EVENT_PATH

    session = pvm_adapter.Session("127.0.0.1", USER, PASSWORD, protocol="http", port=port)
    token = session._sessToken
    http = requests.Session()
    http.headers.update({"X-API-Session": token, "Accept": "application/atom+xml"})
    url = f"http://127.0.0.1:{port}/rest/api/uom/" + EVENT_PATH % "bench-raw"
    try:
        http.get(url, timeout=30)  # NEW_CLIENT: the queue exists from now on
        started = time.perf_counter()
        requests.post(f"http://127.0.0.1:{port}/sim/events", json={"count": events},
                      timeout=300).raise_for_status()
        got = 0
        while got < events:
            got += http.get(url, timeout=30).content.count(b"<entry>")
        return events / (time.perf_counter() - started)
    finally:
        http.close()
        session._logoff()


def source_rate(port: int, events: int) -> float:
    """Events/s delivered through lpar_eventd's own feed reader (pypowervm's
    Session and Adapter, one parse per response) to a counting callback."""
    from prometheus_client import CollectorRegistry

    from lpar_eventd.metrics import Metrics
    from lpar_eventd.sources.novalink import NovaLinkSettings, NovaLinkSource

    done = threading.Event()
    count = [0]

    def on_batch(batch: list[Any]) -> None:
        count[0] += sum(1 for e in batch if e.raw_type == "MODIFY_URI")
        if count[0] >= events:
            done.set()

    source = NovaLinkSource(NovaLinkSettings(
        host="127.0.0.1", port=port, protocol="http", username=USER, password=PASSWORD,
        timeout=30.0), Metrics(CollectorRegistry()))
    source.start(on_batch)
    try:
        if not source.first_read.wait(30):
            raise RuntimeError("the source never read the feed")
        started = time.perf_counter()
        requests.post(f"http://127.0.0.1:{port}/sim/events", json={"count": events},
                      timeout=300).raise_for_status()
        if not done.wait(300):
            raise RuntimeError(f"only {count[0]}/{events} events arrived")
        return events / (time.perf_counter() - started)
    finally:
        source.stop()


def _close(sessions: list[Any], counters: list[_Counter]) -> None:
    """Stop the poll threads (they finish their long poll), then log off."""
    threads = []
    for session, counter in zip(sessions, counters, strict=True):
        listener = session.get_event_listener()
        threads.append(listener._pthread)
        listener.unsubscribe(counter.handler)
    for thread in threads:
        if thread is not None:
            thread.join(timeout=5)
    for session in sessions:
        session._logoff()


def _bodies(events: int, per_response: int) -> list[bytes]:
    """The feed bodies the simulator sends for ``events`` LPAR events."""
    from lpar_eventd.scale.scenarios import build
    from lpar_eventd.simulator.counters import Counters
    from lpar_eventd.simulator.host import Host
    from lpar_eventd.simulator.wire import event_feed

    host = Host(Counters(), base_url="http://127.0.0.1:12080")
    host.load(build("reboot-wave", 100, 1))
    uuids = list(host.lpars)
    rendered = [host.make_event("MODIFY_URI", host.lpar_path(uuids[i % len(uuids)]),
                                "ReferenceCode,Other") for i in range(events)]
    return [event_feed(host.base_url, rendered[i:i + per_response])
            for i in range(0, events, per_response)]


def parse_rate(events: int, per_response: int) -> float:
    """pypowervm's parse rate of the simulator's feeds: the client's ceiling."""
    from pypowervm import adapter as pvm_adapter
    from pypowervm.wrappers import event as pvm_event

    bodies = [b.decode() for b in _bodies(events, per_response)]
    started = time.perf_counter()
    for body in bodies:
        resp = pvm_adapter.Response("GET", "/rest/api/uom/Event", 200, "OK", {}, body=body)
        resp._unmarshal_atom()
        found: dict[str, str] = {}
        raw: list[dict[str, Any]] = []
        for entry in resp.feed.entries:
            pvm_adapter._EventListener._format_events(None, entry, found, raw)
        pvm_event.Event.wrap(resp)
    return events / (time.perf_counter() - started)


def _median(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--per-response", type=int, default=100,
                        help="simulator's cap of events per feed response")
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 if delivered >= 20k/s to one."""
    args = build_parser().parse_args(argv)
    warnings.simplefilter("ignore")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, args.per_response,
                                            args.events + 1000), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        rows = [
            ("pypowervm parse (ceiling)", _median(
                lambda: parse_rate(args.events, args.per_response), args.repeats)),
            ("served to a raw HTTP client (no parsing)", _median(
                lambda: served_rate(port, args.events), args.repeats)),
            ("delivered to 1 listener", _median(
                lambda: delivered_rate(port, 1, args.events), args.repeats)),
            ("delivered to lpar_eventd's source", _median(
                lambda: source_rate(port, args.events), args.repeats)),
            (f"delivered to {args.listeners} listeners (sum)", _median(
                lambda: delivered_rate(port, args.listeners, args.events // 4),
                args.repeats)),
        ]
    finally:
        parent.send("stop")
        proc.join(timeout=30)
    print(f"bench-sim: {args.events} events, {args.per_response}/response, "
          f"median of {args.repeats}")
    print(f"{'figure':<40} {'events/s':>12}")
    for name, value in rows:
        print(f"{name:<40} {value:>12,.0f}")
    served, ceiling = rows[1][1], rows[0][1]
    print(f"the simulator serves {served / ceiling:.1f}x pypowervm's parse ceiling: "
          + ("it is not the bottleneck" if served >= ceiling else "IT IS the bottleneck"))
    return 0 if served >= max(ceiling, 20_000) else 1


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
