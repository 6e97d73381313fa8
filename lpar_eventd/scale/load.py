"""``lpar-eventd-scale load``: many hosts on one machine; does every daemon keep up?

Why: one lpar_eventd runs per NovaLink host, so a machine that monitors
(or a test bed that emulates) a data centre runs many at once. "Keeps up"
means no growing backlog: the simulator's per-client queue (events NovaLink
holds that the daemon has not read yet) stays small and drains, the feed is
read often (``last_feed_read_timestamp_seconds`` lag bounded), and
``pending_settles`` goes back to 0 once the storm is over; and at the end
nova agrees with every host.

Each host is a ``testbed.hoststack.HostStack``, as ``e2e`` runs them (one
simulator, one copy of one nova schema seeded with that host's ``mixed``
storm, nova's own nova-compute with the engine embedded and its windows
compressed, the storm's nova-api changes written by the harness); all
``--hosts`` play their storms at once. Every second the harness scrapes each
engine's /metrics and reads each simulator's queue depth. At the end nova's
whole view of each host is judged (``nova_judge``): its stops and forced
stops, stale drops, wrong actions, mismatches and what one periodic
power-state sync still changes.

    python -m lpar_eventd.scale.load --hosts 10 --lpars 500 --speed 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lpar_eventd.scale.cli import register, say, standalone
from lpar_eventd.scale import scenarios
from lpar_eventd.scale.nova_judge import NovaView, as_json
from lpar_eventd.testbed.hoststack import (
    HostOptions, HostStack, build_template, scratch_dir)
from lpar_eventd.testbed.procs import total, wait_quiet

__all__ = ["LoadOptions", "HostFigures", "LoadReport", "run_load", "add_parser", "run",
           "main"]

PREFIX = "lpar_eventd_"


@dataclass
class LoadOptions:
    hosts: int = 10
    lpars: int = 500
    speed: float = 5.0
    seed: int = 1
    interval: float = 1.0
    settle_timeout: float = 60.0     # wall s after the storms for pending to reach 0


@dataclass
class HostFigures:
    host: int
    events: int
    received: float = 0.0
    cpu_seconds: float = 0.0
    cpu_pct: float = 0.0             # of one core, over the storm and its settling
    events_per_s: float = 0.0        # received over the storm's wall time
    pending_max: float = 0.0
    backlog_max: int = 0             # events queued on NovaLink, unread
    backlog_end_of_storm: int = 0
    feed_lag_max: float = 0.0        # s since the last successful feed read
    drained_after: float | None = None   # s after the storm: nothing unread, pending 0
    reconnects: float = 0.0
    rss_max_mib: float = 0.0
    nova: NovaView = field(default_factory=NovaView)

    @property
    def mismatches(self) -> int:
        return self.nova.mismatch


@dataclass
class LoadReport:
    options: LoadOptions
    hosts: list[HostFigures] = field(default_factory=list)
    storm_seconds: float = 0.0
    wall_seconds: float = 0.0
    machine_cpu_pct: float = 0.0     # harness + daemons, of all cores

    @property
    def held(self) -> bool:
        return all(h.drained_after is not None and h.nova.mismatch == 0
                   and h.nova.wrong_nova_actions == 0 for h in self.hosts)


def _cpu_times() -> float:
    """User + system CPU seconds of the whole machine (all processes)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = fh.readline().split()[1:]
    ticks = sum(int(x) for x in fields[:3]) + sum(int(x) for x in fields[5:8])
    import os
    return ticks / os.sysconf("SC_CLK_TCK")


def run_load(opts: LoadOptions, progress: Any = None) -> LoadReport:
    """Start every host, play every storm at once, sample, stop everything."""
    say = progress or (lambda _m: None)
    work = scratch_dir("lpar-eventd-load-")
    report = LoadReport(opts)
    hosts: list[HostStack] = []
    started = time.monotonic()
    try:
        template = work / "nova-template.sqlite"
        build_template(template)
        for k in range(opts.hosts):
            scenario = scenarios.build("mixed", opts.lpars, opts.seed + k)
            hosts.append(HostStack(scenario, work / f"host-{k}", template,
                                   HostOptions(speed=opts.speed), index=k))
            report.hosts.append(HostFigures(k, len(scenario.host_events())))
        for host in hosts:
            host.start()
        for host in hosts:
            host.healthy(60 + 10 * len(hosts))
        say(f"{opts.hosts} hosts x {opts.lpars} LPARs started; waiting for start-up resyncs")
        _wait_pending_zero(hosts, 60.0)
        base = [h.scrape() for h in hosts]
        cpu0, wall0 = _cpu_times(), time.monotonic()
        futures = [h.play() for h in hosts]
        say(f"storms playing at x{opts.speed:g} "
            f"({sum(f.events for f in report.hosts):,} events in all)")
        storm_end = None
        deadline = None
        while True:
            now = time.monotonic()
            for host, fig in zip(hosts, report.hosts, strict=True):
                m = host.scrape()
                fig.pending_max = max(fig.pending_max, m.get(PREFIX + "pending_settles", 0))
                last = m.get(PREFIX + "last_feed_read_timestamp_seconds", 0.0)
                if last:
                    fig.feed_lag_max = max(fig.feed_lag_max, time.time() - last)
                fig.rss_max_mib = max(fig.rss_max_mib,
                                      m.get("process_resident_memory_bytes", 0) / 2**20)
                backlog = host.backlog()
                fig.backlog_max = max(fig.backlog_max, backlog)
                if storm_end is not None and fig.drained_after is None and not backlog \
                        and not m.get(PREFIX + "pending_settles") and \
                        not m.get(PREFIX + "longest_running_settle_seconds"):
                    fig.drained_after = round(now - storm_end, 2)
            if storm_end is None and all(f.done() for f in futures):
                storm_end = time.monotonic()
                report.storm_seconds = storm_end - wall0
                for host, fig in zip(hosts, report.hosts, strict=True):
                    fig.backlog_end_of_storm = host.backlog()
                deadline = storm_end + opts.settle_timeout
                say(f"storms played in {report.storm_seconds:.1f} s; settling")
                continue
            if storm_end is not None and (all(f.drained_after is not None
                                              for f in report.hosts)
                                          or time.monotonic() > deadline):
                break
            time.sleep(max(0.0, opts.interval - (time.monotonic() - now)))
        wall = time.monotonic() - wall0
        for host in hosts:   # the harness's own nova-api writes, before comparing
            host.finish_changes()
        report.machine_cpu_pct = 100.0 * (_cpu_times() - cpu0) / wall / _cores()
        for host, fig, b in zip(hosts, report.hosts, base, strict=True):
            m = host.scrape()
            fig.received = (total(m, PREFIX + "events_received_total")
                            - total(b, PREFIX + "events_received_total"))
            fig.cpu_seconds = (m.get("process_cpu_seconds_total", 0.0)
                               - b.get("process_cpu_seconds_total", 0.0))
            fig.cpu_pct = 100.0 * fig.cpu_seconds / wall
            fig.reconnects = (m.get(PREFIX + "source_reconnects_total", 0.0)
                              - b.get(PREFIX + "source_reconnects_total", 0.0))
            fig.events_per_s = fig.received / max(report.storm_seconds, 1e-9)
            fig.nova = host.nova_view()
        for future in futures:
            future.result(timeout=10)
    finally:
        for host in hosts:
            try:
                host.stop()
            except Exception as exc:  # stop the others whatever happens
                say(f"host {host.index}: stop failed: {exc}")
        shutil.rmtree(work, ignore_errors=True)
    report.wall_seconds = time.monotonic() - started
    return report


def _cores() -> int:
    import os
    return os.cpu_count() or 1


def _wait_pending_zero(hosts: list[HostStack], timeout: float) -> None:
    wait_quiet([h.scrape for h in hosts], timeout)


def report_text(r: LoadReport) -> str:
    o = r.options
    lines = [f"load: {o.hosts} hosts x {o.lpars} LPARs (mixed, seeds {o.seed}.."
             f"{o.seed + o.hosts - 1}) at x{o.speed:g} on {_cores()} cores; storms "
             f"{r.storm_seconds:.1f} s wall; machine CPU {r.machine_cpu_pct:.0f}% of all cores",
             f"{'host':>4} {'events':>7} {'ev/s':>7} {'CPU%':>6} {'pend.max':>8} "
             f"{'backlog max':>11} {'at end':>6} {'feed lag':>8} {'drained':>8} "
             f"{'RSS MiB':>8} {'reconn.':>7} | nova: {'stop':>4} {'force':>5} "
             f"{'stale':>5} {'wrong':>5} {'mism.':>5} {'resid.':>6}"]
    for h in r.hosts:
        drained = "never" if h.drained_after is None else f"{h.drained_after:.1f}s"
        lines.append(f"{h.host:>4} {h.received:>7.0f} {h.events_per_s:>7.1f} "
                     f"{h.cpu_pct:>6.1f} {h.pending_max:>8.0f} {h.backlog_max:>11} "
                     f"{h.backlog_end_of_storm:>6} {h.feed_lag_max:>7.1f}s {drained:>8} "
                     f"{h.rss_max_mib:>8.0f} {h.reconnects:>7.0f} |       "
                     f"{h.nova.nova_stop_calls:>4} {h.nova.nova_force_stop_calls:>5} "
                     f"{h.nova.nova_dropped_stale:>5} {h.nova.wrong_nova_actions:>5} "
                     f"{h.nova.mismatch:>5} {h.nova.residual:>6}")
    events = sum(h.received for h in r.hosts)
    lines.append(f"all: {events:,.0f} events, {events / max(r.storm_seconds, 1e-9):,.0f} "
                 f"events/s; max pending {max(h.pending_max for h in r.hosts):.0f}; "
                 f"max backlog {max(h.backlog_max for h in r.hosts)}; max feed lag "
                 f"{max(h.feed_lag_max for h in r.hosts):.1f} s; "
                 f"load held: {'yes' if r.held else 'NO'}")
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``load`` on the scale CLI's subparsers."""
    return register(subparsers, "load", "many hosts and daemons on one machine", __doc__,
                    _arguments, run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hosts", type=int, default=10)
    p.add_argument("--lpars", type=int, default=500)
    p.add_argument("--speed", type=float, default=5.0,
                   help="time compression (windows compressed alike)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--settle-timeout", type=float, default=60.0)
    p.add_argument("--json", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    if args.hosts <= 0 or args.lpars <= 0 or args.speed <= 0:
        print("lpar-eventd-scale load: --hosts, --lpars and --speed must be positive",
              file=sys.stderr)
        return 2
    opts = LoadOptions(hosts=args.hosts, lpars=args.lpars, speed=args.speed,
                       seed=args.seed, settle_timeout=args.settle_timeout)
    result = run_load(opts, say)
    print(report_text(result))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"options": asdict(opts), "held": result.held,
             "storm_seconds": result.storm_seconds,
             "machine_cpu_pct": result.machine_cpu_pct,
             "hosts": [{**{k: v for k, v in asdict(h).items() if k != "nova"},
                        "nova": as_json(h.nova)} for h in result.hosts]},
            indent=2) + "\n",
            encoding="utf-8")
    return 0 if result.held else 1


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("lpar_eventd.scale.load", __doc__, _arguments, run, argv)


if __name__ == "__main__":
    import os
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
