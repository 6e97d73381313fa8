"""``lpar-eventd demo``: lpar_eventd on one simulated PowerVM host, judged by nova.

It builds one host stack (``testbed.hoststack``): the NovaLink simulator on a
free loopback port, an sqlite nova database made by nova's own schema code
and seeded, nova's own nova-compute for the host (its ComputeManager, a
driver for the simulated host), and the ``lpar-eventd`` daemon delivering its
decisions to that nova-compute the standalone way: its ``nova-compute`` sink,
a private rabbitmq-server, the receiver the driver starts, nova's own
lifecycle handling (``--embedded``: the engine inside nova-compute instead,
as a PowerVM driver embeds it); it plays a deploy storm with reboots,
guests shut down from inside, LPARs started outside nova and flappers at
accelerated time with a progress bar, then prints what the engine counted
(scraped from its /metrics) next to what each policy makes of the same
stream on the engine's virtual clock, and what nova did: the stops and
forced stops it made, the events it dropped as stale, any action the
scenario's truth did not call for, and whether nova's (vm_state,
power_state) ended as nova's own rules give when told the truth.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from lpar_eventd.scale import scenarios, virtual
from lpar_eventd.scale.nova_judge import NOVA_VIEW_ROWS, NovaView
from lpar_eventd.testbed.procs import total

__all__ = ["main"]


class _Progress:
    """A progress bar on a terminal; a line per quarter when piped to a file."""

    def __init__(self, width: int = 40):
        self._width = width
        self._tty = sys.stdout.isatty()
        self._quarter = -1

    def show(self, done: float, label: str) -> None:
        done = min(1.0, max(0.0, done))
        if self._tty:
            filled = int(self._width * done)
            sys.stdout.write(f"\r  [{'#' * filled}{'.' * (self._width - filled)}] "
                             f"{done:4.0%} {label:<32}")
            sys.stdout.flush()
        elif int(done * 4) > self._quarter:
            self._quarter = int(done * 4)
            print(f"  {done:4.0%} {label}")

    def end(self) -> None:
        if self._tty:
            print()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpar-eventd demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lpars", type=int, default=200, help="instances deployed")
    p.add_argument("--speed", type=float, default=8.0, help="time compression")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true",
                   help="keep the daemon and simulator running until Ctrl-C")
    p.add_argument("--embedded", action="store_true",
                   help="run the engine inside nova-compute (lpar_eventd.embed) instead "
                        "of the daemon delivering over RabbitMQ")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.lpars <= 0 or args.speed <= 0:
        print("lpar-eventd demo: --lpars and --speed must be positive", file=sys.stderr)
        return 2
    from lpar_eventd.testbed.hoststack import (
        HostOptions, HostStack, build_template, scratch_dir)

    work = scratch_dir("lpar-eventd-demo-")
    scenario = scenarios.build("demo", args.lpars, args.seed)
    print(f"lpar_eventd demo: {args.lpars} instances deployed, "
          f"{len(scenario.host_events())} NovaLink events, x{args.speed:g} speed")
    print(f"  working directory {work}")
    build_template(work / "nova-template.sqlite")
    broker = stack = None
    try:
        options = HostOptions(speed=args.speed, host="demo-host")
        if not args.embedded:
            from lpar_eventd.scale.broker import BrokerUnavailable, RabbitServer
            try:
                broker = RabbitServer(work / "rabbitmq").start()
            except BrokerUnavailable as exc:
                print(f"lpar-eventd demo: {exc} (bash tools/bootstrap installs it; "
                      "--embedded needs no broker)", file=sys.stderr)
                return 1
            options.mode, options.transport_url = "standalone", broker.url
            print(f"  rabbitmq-server on {broker.url.split('@')[-1]}")
        stack = HostStack(scenario, work / "host", work / "nova-template.sqlite", options)
        stack.start()
        print("  nova database created with nova's own schema code and seeded")
        stack.healthy(90)
        where = ("lpar_eventd embedded" if args.embedded else
                 f"receiving from the lpar-eventd daemon, pid {stack.engine.pid}")
        print(f"  simulator on {stack.sim.http_url}; nova-compute pid {stack.compute.pid} "
              f"(nova's ComputeManager, {where}); engine log {stack.engine_log}")
        stack.wait_quiet(timeout=30)
        _play(stack, args.speed)
        samples = stack.scrape()
        print("  judging nova's view (one periodic power-state sync at the end)")
        view = stack.nova_view()
        _report(scenario, samples, view)
        url = stack.engine.url
        print(f"\nmetrics: {url}/metrics   health: {url}/healthz")
        if args.keep:
            print("running until Ctrl-C (--keep)")
            try:
                while stack.engine.alive():
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        if stack is not None:
            stack.stop()
        if broker is not None:
            broker.close()


def _play(stack, speed: float) -> None:
    future = stack.play()
    duration = stack.scenario.duration / speed
    started = time.monotonic()
    bar = _Progress()
    while not future.done():
        bar.show((time.monotonic() - started) / max(duration, 0.1), "playing the storm")
        time.sleep(0.2)
    future.result()
    bar.show(1.0, "storm played")
    stack.finish_changes()
    stack.wait_delivered()
    # let the last bursts settle (max-wait is the longest a settle waits)
    stack.wait_quiet(timeout=(60.0 + 30.0) / speed + 10.0)
    bar.end()
    print("  settled")


def _report(scenario: scenarios.Scenario, samples: dict[str, float],
            view: NovaView) -> None:
    bound = virtual.lower_bound(scenario)
    results = [virtual.play(scenario, name) for name in ("default", "reference", "legacy")]
    live = {
        "events received": total(samples, "lpar_eventd_events_received_total"),
        "coalesced": total(samples, "lpar_eventd_events_coalesced_total"),
        "get_instance calls": total(samples, "lpar_eventd_get_instance_calls_total"),
        "NovaLink state reads": total(samples, "lpar_eventd_state_reads_total"),
        "lifecycle events": total(samples, "lpar_eventd_lifecycle_events_emitted_total"),
    }
    for reason in ("not_lpar", "unchanged_state", "task_state", "instance_not_found",
                   "no_transition"):
        live[f"skipped: {reason}"] = samples.get(
            f'lpar_eventd_events_skipped_total{{reason="{reason}"}}', 0.0)
    keys = {"events received": "events_received", "coalesced": "coalesced",
            "get_instance calls": "get_instance_calls",
            "NovaLink state reads": "state_reads", "lifecycle events": "lifecycle_events"}
    live.update({label: float(getattr(view, key)) for label, key in NOVA_VIEW_ROWS})
    keys.update({label: key for label, key in NOVA_VIEW_ROWS})
    header = f"\n{'':32}{'live (nova)':>13}" + "".join(
        f"{r.policy + ' (sim.)':>17}" for r in results)
    print(header)
    for label, value in live.items():
        key = keys.get(label, "skipped_" + label.removeprefix("skipped: "))
        print(f"{label:32}{value:>13.0f}" + "".join(
            _cell(r.figures.get(key)) for r in results))
    print(f"lower bound of nova calls (bursts in which a managed LPAR's state changed): "
          f"{bound}")
    calls = live["get_instance calls"] or 1
    for r in results[1:]:
        print(f"{r.policy}: {r.figures['get_instance_calls'] / calls:.1f}x the engine's "
              "get_instance calls")
    print("live (nova) = the engine's own figures, and what nova's own compute manager "
          "did; (sim.) = the same stream through each policy on the engine's virtual "
          "clock" + (", nova by its rules" if NOVA_VIEW_ROWS[0][1] in results[0].figures
                     else ""))
    for kind in ("wrong", "missed", "mismatch"):
        for line in view.examples.get(kind, [])[:5]:
            print(f"  nova {kind}: {line}")


def _cell(value: float | None) -> str:
    return f"{value:>17.0f}" if value is not None else f"{'-':>17}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
