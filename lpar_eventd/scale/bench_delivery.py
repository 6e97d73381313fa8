"""``lpar-eventd-scale bench-delivery``: from a decision to nova-compute's ``emit_event``.

Why: in standalone mode a decision crosses the message bus before nova
hears it; this measures what that costs on loopback, with the product's own
parts: the ``nova-compute`` sink (publisher confirms, persistent messages,
durable queue unless ``--transient``) sending ``--messages`` decisions at
``--rate`` per second (0: as fast as it can) over ``--instances``
instances, a private rabbitmq-server (or ``--url``), and a ``ComputeReceiver``
in a separate process (as nova-compute is) handing each to the
``emit_event`` of nova's fake virt driver with a listener registered.

Latency is the decision's time (the sink's clock when it sent, carried in
the payload as nova's event timestamp) to ``emit_event`` returning in the
receiver's process; both read the same machine's clock. Also printed: the
sink's send time (the engine worker is held that long) and the throughput.
nova's own handling (two conductor calls and a driver read per event) comes
on top of this in a real nova-compute.

    lpar-eventd-scale bench-delivery --messages 3000 --rate 500
    python -m lpar_eventd.scale.bench_delivery --messages 3000 --rate 0 --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpar_eventd.scale.cli import positive_int, register, say, standalone

__all__ = ["add_parser", "main", "run"]

HOST = "bench-host"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench-delivery`` on the scale CLI's subparsers."""
    return register(subparsers, "bench-delivery",
                    "decision -> nova-compute emit_event latency over RabbitMQ",
                    __doc__, _arguments, run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=positive_int, default=3000)
    p.add_argument("--rate", type=float, default=500.0,
                   help="decisions per second (0: as fast as the sink sends)")
    p.add_argument("--instances", type=positive_int, default=300)
    p.add_argument("--url", help="an existing broker (default: a private "
                   "rabbitmq-server on loopback)")
    p.add_argument("--transient", action="store_true",
                   help="oslo's default non-durable queue instead of a durable one")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--receive", nargs=3, metavar=("CONF", "OUT", "COUNT"),
                   help=argparse.SUPPRESS)


def _conf(workdir: Path, name: str, url: str, durable: bool) -> Path:
    path = workdir / f"{name}.conf"
    path.write_text(f"[DEFAULT]\ntransport_url = {url}\n[oslo_messaging_rabbit]\n"
                    f"amqp_durable_queues = {str(durable).lower()}\n")
    return path


def _load_conf(path: str) -> Any:
    from oslo_config import cfg

    from lpar_eventd.conf import opts
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    conf(["--config-file", path], project="lpar-eventd")
    return conf


# -- the receiving side (a process of its own, as nova-compute is) ---------------
def receive(conf_path: str, out: str, count: str, timeout: float = 600) -> int:
    """Take ``count`` decisions (or give up after ``timeout`` s); write the
    (decided, returned) pairs to ``out``."""
    from nova.virt import fake

    from lpar_eventd.delivery import ComputeReceiver

    times: list[tuple[float, float]] = []
    done = threading.Event()

    class TimedDriver(fake.FakeDriver):
        def emit_event(self, event: Any) -> None:
            super().emit_event(event)
            times.append((event.timestamp.replace(tzinfo=datetime.UTC).timestamp(),
                          time.time()))
            if len(times) >= int(count):
                done.set()

    driver = TimedDriver(virtapi=None)
    driver.register_event_listener(lambda event: None)  # the compute manager's place
    receiver = ComputeReceiver.from_conf(driver, _load_conf(conf_path), host=HOST).start()
    print("READY", flush=True)
    done.wait(timeout)
    receiver.stop()
    receiver.wait()
    Path(out).write_text(json.dumps(times))
    return 0


# -- the sending side ----------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    if args.receive:
        return receive(*args.receive)
    if args.rate < 0:
        print("lpar-eventd-scale bench-delivery: --rate must be 0 or positive",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        workdir = Path(tmp)
        broker = None
        url = args.url
        if url is None:
            from lpar_eventd.scale.broker import BrokerUnavailable, RabbitServer
            try:
                broker = RabbitServer(workdir / "rabbitmq").start()
            except BrokerUnavailable as exc:
                print(f"lpar-eventd-scale bench-delivery: {exc}", file=sys.stderr)
                return 1
            url = broker.url
            say(f"rabbitmq-server up on 127.0.0.1:{broker.port} in "
                f"{broker.start_seconds:.1f} s")
        try:
            result = _measure(args, workdir, url)
        finally:
            if broker is not None:
                broker.close()
    _print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _measure(args: argparse.Namespace, workdir: Path, url: str) -> dict[str, Any]:
    from lpar_eventd.delivery import NovaComputeSink
    from lpar_eventd.engine.ports import LifecycleEvent, Transition

    durable = not args.transient
    out = workdir / "received.json"
    child = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "lpar_eventd.scale.bench_delivery", "--receive",
         str(_conf(workdir, "nova", url, durable)), str(out), str(args.messages)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert child.stdout is not None
    if child.stdout.readline().strip() != "READY":
        raise RuntimeError("the receiving process did not start")
    sink = NovaComputeSink(HOST, conf=_load_conf(str(_conf(workdir, "daemon", url, durable))))
    events = [LifecycleEvent(f"00000000-0000-4000-8000-{i % args.instances:012d}",
                             f"00000000-0000-4000-8000-{i % args.instances:012d}",
                             (Transition.STOPPED, Transition.STARTED)[i % 2],
                             "running", 0.0, 0.0) for i in range(args.messages)]
    sends: list[float] = []
    say(f"sending {args.messages} decisions at "
        f"{f'{args.rate:g}/s' if args.rate else 'full speed'}...")
    started = time.monotonic()
    try:
        for i, event in enumerate(events):
            if args.rate:
                delay = started + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            sink.emit(event)
            sends.append(time.perf_counter() - t0)
        sent_in = time.monotonic() - started
    finally:
        sink.close()
    child.wait(timeout=660)
    times = json.loads(out.read_text())
    latencies = sorted(returned - decided for decided, returned in times)
    span = max(r for _, r in times) - min(d for d, _ in times)
    return {"messages": args.messages, "received": len(times), "rate": args.rate,
            "durable": durable, "sent_per_s": args.messages / sent_in,
            "delivered_per_s": len(times) / span if span > 0 else None,
            "latency_ms": _quantiles(latencies), "send_ms": _quantiles(sorted(sends))}


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ms = [v * 1000 for v in values]
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {"p50": round(statistics.median(ms), 2), "p90": round(q[89], 2),
            "p99": round(q[98], 2), "max": round(max(ms), 2)}


def _print(result: dict[str, Any]) -> None:
    lat, send = result["latency_ms"], result["send_ms"]
    say(f"\n{result['received']} of {result['messages']} decisions reached emit_event "
        f"({'durable' if result['durable'] else 'transient'} queue)")
    say(f"decision -> emit_event returned:  p50 {lat['p50']:.1f} ms  p90 {lat['p90']:.1f} ms"
        f"  p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms")
    say(f"sink send (publisher confirm):     p50 {send['p50']:.2f} ms  "
        f"p99 {send['p99']:.2f} ms")
    delivered = result["delivered_per_s"]
    say(f"sent {result['sent_per_s']:.0f}/s, delivered "
        f"{delivered:.0f}/s" if delivered else "")


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("lpar_eventd.scale.bench_delivery", __doc__, _arguments, run, argv)


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")
    import lpar_eventd.cmd  # noqa: F401 - the threading backend, as the console scripts
    sys.exit(main())
