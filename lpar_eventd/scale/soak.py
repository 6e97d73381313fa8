"""``lpar-eventd-scale soak``: does memory stay flat over an hour of storms?

Why: a daemon that runs for months must not grow with the events it has
seen, only with the LPARs it tracks, and those caches are bounded by
``[cache]`` options. A leak (a timer left behind, a deleted LPAR still
cached, a resync slice never dropped) shows only over time, so this plays a
long storm and samples memory as it goes.

Two parts:

* engine, virtual clock: ``--minutes`` (60) of simulated time over one
  ``--lpars`` (2000) host: the ``mixed`` storm first, then 5-minute segments
  of new seeded activity on the same LPARs (nova and guest reboots,
  power-offs, boots, flappers, crashes, a CACHE_CLEARED each, VIOS chatter,
  and deletes balanced by as many deploys, so the LPAR count stays level
  while uuids churn). tracemalloc's traced bytes and the process RSS are
  sampled every simulated minute, with the engine's cache and queue sizes;
  growth is measured from the end of the warm-up (``--warmup`` minutes) to
  the last samples. The harness's own records (emitted events, NVRAM
  stores) are counted and dropped at each sample so they do not count.
* end to end, compressed: the first ``--e2e-minutes`` (10) of the same stream
  through a host stack at ``--e2e-speed`` (the NovaLink simulator, nova's
  sqlite schema, nova's own nova-compute with the engine embedded), the
  process's ``process_resident_memory_bytes`` scraped from /metrics, and
  nova's whole view judged at the end (``nova_judge``).

Both curves go to one PNG (matplotlib, Agg).

    python -m lpar_eventd.scale.soak --minutes 60 --lpars 2000 --png soak.png
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nova.compute import power_state, task_states
from prometheus_client import CollectorRegistry

from lpar_eventd.scale.cli import register, say, standalone
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, drive
from lpar_eventd.metrics import Metrics
from lpar_eventd.scale import scenarios
from lpar_eventd.scale.nova_judge import NOVA_VIEW_ROWS, as_json
from lpar_eventd.scale.scenarios import HostEvent, LparSpec, Scenario
from lpar_eventd.scale.virtual import BASE_URL, World

__all__ = ["SoakOptions", "Sample", "EngineSoak", "E2ESoak", "stream", "engine_soak",
           "e2e_soak", "growth", "plot", "add_parser", "run", "main"]

SEGMENT_SECONDS = 300.0
PREFIX = "lpar_eventd_"


@dataclass
class SoakOptions:
    lpars: int = 2000
    minutes: float = 60.0
    warmup: float = 10.0
    sample_every: float = 60.0      # simulated seconds
    seed: int = 1
    e2e_minutes: float = 10.0       # 0: no end-to-end part
    e2e_speed: float = 10.0
    e2e_drain: float = 120.0        # wall s after the storm for pending to reach 0
    e2e_lpars: int | None = None    # default: --lpars
    e2e_workdir: Path | None = None  # kept (config, daemon log, nova DB) when given
    png: Path | None = None


@dataclass
class Sample:
    at: float                       # simulated seconds
    traced: int = 0                 # tracemalloc bytes (engine part) / 0 (e2e)
    rss: int = 0
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class EngineSoak:
    samples: list[Sample]
    events: int
    emitted: int
    nvram_stores: int
    mismatches: int
    lpars_end: int
    cache_size: int
    wall_seconds: float


@dataclass
class E2ESoak:
    samples: list[Sample]
    events: int
    speed: float
    lpars: int
    mismatches: int
    pending_max: float
    wall_seconds: float
    drained_after: float | None = None   # wall s from the storm's end to pending 0
    nova: dict[str, Any] = field(default_factory=dict)   # nova_judge.as_json


# -- the hour's stream ----------------------------------------------------------
def stream(lpars: int, seed: int, seconds: float) -> tuple[Scenario, Iterator[list[Any]]]:
    """The starting world and its steps, a segment at a time, until one ends
    past ``seconds``.

    Segments are generated lazily (an hour of 2000 LPARs is ~10^5 steps),
    so the stream itself never sits in memory while it is measured.
    """
    base = scenarios.build("mixed", lpars, seed)
    return base, _segments(base, seed, seconds)


def _segments(base: Scenario, seed: int, seconds: float) -> Iterator[list[Any]]:
    current = {u: (s.state, s.instance) for u, s in base.lpars.items()}
    steps: list[Any] = list(base.steps)
    k = 0
    while True:
        # a segment is played whole (cut short, its deploys and nova
        # operations would end half done): the stream may end a little late
        _track(current, steps, base)
        yield steps
        start = (steps[-1].at if steps else 0.0) + 5.0
        if start >= seconds:
            return
        k += 1
        steps = _segment(base, current, seed * 1000 + k, start)


def _track(current: dict[str, tuple[str, str | None]], steps: list[Any],
           base: Scenario) -> None:
    """Keep LPAR -> (state, instance) up to date with a segment's host events."""
    for step in steps:
        if not isinstance(step, HostEvent) or step.lpar is None:
            continue
        if step.event_type == "DELETE_URI":
            current.pop(step.lpar, None)
        elif step.event_type == "ADD_URI":
            current[step.lpar] = (step.state or "not activated",
                                  base.spawned.get(step.lpar))
        elif step.state is not None and step.lpar in current:
            current[step.lpar] = (step.state, current[step.lpar][1])


def _segment(base: Scenario, current: dict[str, tuple[str, str | None]], seed: int,
             start: float) -> list[Any]:
    """Five minutes of new activity on the LPARs that exist now."""
    b = scenarios.HostBuilder.for_host(base.ms_uuid, seed, "soak")
    b.sc.vios = base.vios
    b.sc.lpars = {u: LparSpec(u, "", state, inst) for u, (state, inst) in current.items()}
    rng: random.Random = b.rng
    uuids = sorted(current)
    rng.shuffle(uuids)
    span = SEGMENT_SECONDS - 110.0          # operations end inside the segment
    churn = max(1, len(uuids) // 60)
    for i, lpar in enumerate(uuids):
        t = start + rng.uniform(1.0, span)
        state, instance = current[lpar]
        running = state == "running"
        slot = i % 10
        if i < churn:                           # deleted; a deploy takes its place
            b.delete(t, lpar)
            b.deploy(start + rng.uniform(1.0, span))
        elif slot in (0, 1) and running:
            b.reboot(t, lpar, by_nova=instance is not None)
        elif slot == 2 and running:
            b.reboot(t, lpar, by_nova=False)
        elif slot == 3 and running and instance:
            b.nova_op(t, lpar, task_states.POWERING_OFF,
                      lambda t0, lp=lpar: b.shutdown(t0, lp), power_state.SHUTDOWN)
        elif slot == 4 and running:
            b.shutdown(t, lpar)
        elif slot in (5, 6) and not running:
            b.boot(t, lpar)
        elif slot == 7 and running and i % 20 == 7:
            b.flap(t, lpar, rng.uniform(70.0, 100.0))
        elif slot == 8 and running and i % 40 == 8:
            b.crash(t, lpar)
    b.chatter(start, start + SEGMENT_SECONDS, rate=5.0)
    b.event(start + SEGMENT_SECONDS / 2, "CACHE_CLEARED", "")
    base.spawned.update(b.sc.spawned)
    return sorted(b.sc.steps, key=lambda s: s.at)


# -- engine soak ---------------------------------------------------------------
def _rss() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def engine_soak(opts: SoakOptions, progress: Any = None) -> EngineSoak:
    """The stream through the default policy on a virtual clock, memory sampled."""
    say = progress or (lambda _m: None)
    seconds = opts.minutes * 60.0
    config = EngineConfig()
    base, segments = stream(opts.lpars, opts.seed, seconds)
    world = World.of(base)
    clock = FakeClock()
    handler = DefaultHandler(Ports(world.host, world.nova, world.sink, world.nvram),
                             config, Metrics(CollectorRegistry()), clock)
    samples: list[Sample] = []
    counts = {"events": 0, "emitted": 0, "nvram": 0}
    next_sample = 0.0
    started = time.perf_counter()
    # the whole stream is generated before measuring: built segment by
    # segment while measured, its lists raised the allocator's high-water
    # mark (RSS steps at segment starts) that had nothing to do with the engine
    whole = list(segments)
    segments = iter(whole)
    # nova's view is judged against the whole stream's truth
    world.scenario = Scenario("soak", opts.seed, base.ms_uuid, base.lpars, base.vios,
                              [s for seg in whole for s in seg], base.spawned)
    gc.collect()
    tracemalloc.start()
    try:
        def sample(at: float) -> None:
            counts["emitted"] += len(world.sink.events)
            counts["nvram"] += len(world.nvram.stored)
            world.sink.events.clear()
            world.nvram.stored.clear()
            gc.collect()
            sizes = _sizes(handler, world)
            sizes["engine_traced"] = _engine_traced()
            samples.append(Sample(at, tracemalloc.get_traced_memory()[0], _rss(), sizes))

        for steps in segments:
            batch: list[Event] = []
            batch_at = -1.0
            for step in steps:
                if batch and step.at > batch_at + 0.05:
                    handler.accept_batch(batch)
                    batch = []
                while step.at >= next_sample:
                    drive(handler, clock, next_sample)
                    sample(next_sample)
                    if len(samples) % 10 == 1:
                        say(f"  engine soak: {next_sample / 60:4.0f} min simulated, "
                            f"traced {samples[-1].traced / 2**20:.1f} MiB, "
                            f"rss {samples[-1].rss / 2**20:.1f} MiB")
                    next_sample += opts.sample_every
                drive(handler, clock, step.at)
                world.apply(step)
                if isinstance(step, HostEvent):
                    counts["events"] += 1
                    if not batch:
                        batch_at = step.at
                    batch.append(Event.parse(step.event_type,
                                             BASE_URL + step.path if step.path else "",
                                             step.detail, step.at))
            if batch:
                handler.accept_batch(batch)
        while next_sample <= seconds + 1e-9:
            drive(handler, clock, next_sample)
            sample(next_sample)
            next_sample += opts.sample_every
    finally:
        tracemalloc.stop()
    drive(handler, clock, clock.now() + config.max_wait_seconds + 180.0)
    counts["emitted"] += len(world.sink.events)
    return EngineSoak(samples, counts["events"], counts["emitted"], counts["nvram"],
                      len(world.mismatches()), len(world.host.states),
                      config.cache_size, time.perf_counter() - started)


#: Where the engine's own allocations happen (tracemalloc attributes each
#: block to the line that allocated it): the engine and its cache library,
#: not the in-memory host and nova the harness plays the world with.
_ENGINE_FILES = ("*/lpar_eventd/engine/*", "*/cachetools/*")
_HARNESS_FILES = ("*/lpar_eventd/engine/inmemory.py",)


def _engine_traced() -> int:
    """Bytes allocated by the engine's code, alive now (harness excluded)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, pattern) for pattern in _ENGINE_FILES]
        + [tracemalloc.Filter(False, pattern) for pattern in _HARNESS_FILES])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _sizes(handler: DefaultHandler, world: World) -> dict[str, int]:
    c = handler.caches
    return {"evidence": len(c.evidence), "events": len(c.events),
            "instance_uuid": len(c.instance_uuid),
            "not_found": len(c.not_found), "queue": len(handler.queue),
            "attempts": len(handler._attempts), "resync_slices": len(handler._chunks),
            "lpars": len(world.host.states), "instances": len(world.nova.instances)}


def growth(samples: list[Sample], warmup_s: float, attr: str,
           tail: int = 5) -> dict[str, float]:
    """Growth of ``attr`` from the end of the warm-up: (median of the last
    ``tail`` samples - the first sample after warm-up) / that sample, in %,
    and the same for the largest sample after warm-up."""
    after = [s.sizes.get(attr, 0) if attr in s.sizes else getattr(s, attr)
             for s in samples if s.at >= warmup_s]
    if len(after) < 2:
        return {"start": 0.0, "end": 0.0, "max": 0.0, "growth_pct": 0.0,
                "max_growth_pct": 0.0}
    first = after[0]
    end = statistics.median(after[-tail:])
    peak = max(after)
    return {"start": first, "end": end, "max": peak,
            "growth_pct": 100.0 * (end - first) / first if first else 0.0,
            "max_growth_pct": 100.0 * (peak - first) / first if first else 0.0}


# -- end to end ---------------------------------------------------------------------
def e2e_soak(opts: SoakOptions, progress: Any = None) -> E2ESoak:
    """The stream's first minutes through a host stack (the engine embedded in
    nova's nova-compute), nova-compute's RSS scraped from /metrics."""
    from lpar_eventd.testbed.hoststack import (
        HostOptions, HostStack, build_template, scratch_dir)

    say = progress or (lambda _m: None)
    lpars = opts.e2e_lpars or opts.lpars
    seconds = opts.e2e_minutes * 60.0
    base, segments = stream(lpars, opts.seed, seconds)
    steps = [s for seg in segments for s in seg]
    scenario = Scenario("soak", opts.seed, base.ms_uuid, base.lpars, base.vios, steps,
                        base.spawned)
    events = sum(1 for s in steps if isinstance(s, HostEvent))
    work = opts.e2e_workdir or scratch_dir("lpar-eventd-soak-")
    work.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    pending_max = 0.0
    started = time.monotonic()
    build_template(work / "nova-template.sqlite")
    stack = HostStack(scenario, work / "host-0", work / "nova-template.sqlite",
                      HostOptions(speed=opts.e2e_speed))
    try:
        stack.start().healthy(120)
        say(f"  end to end: {lpars} LPARs, {events} events over {seconds / 60:g} min "
            f"at x{opts.e2e_speed:g}")
        play = stack.play()
        t0 = time.monotonic()
        interval = opts.sample_every / opts.e2e_speed / 4   # 4 samples a minute
        settle_end = None
        drained_after = None
        while True:
            m = stack.scrape()
            at = (time.monotonic() - t0) * opts.e2e_speed
            pending = m.get(PREFIX + "pending_settles", 0.0)
            pending_max = max(pending_max, pending)
            samples.append(Sample(at, 0, int(m.get("process_resident_memory_bytes", 0)),
                                  {"pending": int(pending),
                                   "received": int(sum(v for k, v in m.items() if k.startswith(
                                       PREFIX + "events_received_total")))}))
            if play.done():
                settle_end = settle_end or time.monotonic() + opts.e2e_drain
                if not pending and not m.get(PREFIX + "longest_running_settle_seconds"):
                    drained_after = time.monotonic() - (settle_end - opts.e2e_drain)
                    break
                if time.monotonic() > settle_end:
                    break
            time.sleep(interval)
        play.result()
        stack.finish_changes()
        view = stack.nova_view()
    finally:
        stack.stop()
        if opts.e2e_workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return E2ESoak(samples, events, opts.e2e_speed, lpars, view.mismatch, pending_max,
                   time.monotonic() - started, drained_after, as_json(view))


# -- the picture -------------------------------------------------------------------
def plot(path: Path, engine: EngineSoak | None, e2e: E2ESoak | None,
         warmup_s: float) -> None:
    """Memory over simulated time: engine (traced, RSS) and daemon RSS."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (engine, e2e) if p is not None]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.6 * len(panels)), squeeze=False)
    row = 0
    if engine is not None:
        ax = axes[row][0]
        mins = [s.at / 60 for s in engine.samples]
        ax.plot(mins, [s.rss / 2**20 for s in engine.samples], color="tab:orange",
                label="process RSS (left)")
        ax.axvline(warmup_s / 60, color="grey", linestyle=":", label="end of warm-up")
        tm = ax.twinx()
        tm.plot(mins, [s.traced / 2**20 for s in engine.samples], color="tab:blue",
                label="tracemalloc, all: engine + harness world (right)")
        tm.plot(mins, [s.sizes.get("engine_traced", 0) / 2**20 for s in engine.samples],
                color="tab:green", label="tracemalloc, engine code (right)")
        tm.set_ylabel("traced MiB")
        tm.set_ylim(bottom=0)
        tm.legend(loc="center right")
        ax.set_title(f"engine soak: {engine.lpars_end} LPARs, {engine.events:,} events, "
                     "virtual clock")
        ax.set_xlabel("simulated minutes")
        ax.set_ylabel("MiB")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        row += 1
    if e2e is not None:
        ax = axes[row][0]
        mins = [s.at / 60 for s in e2e.samples]
        ax.plot(mins, [s.rss / 2**20 for s in e2e.samples],
                label="nova-compute RSS (/metrics)")
        ax.set_title(f"end to end: engine in nova-compute, {e2e.lpars} LPARs, "
                     f"{e2e.events:,} events, "
                     f"x{e2e.speed:g}")
        ax.set_xlabel("simulated minutes")
        ax.set_ylabel("MiB")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(mins, [s.sizes.get("pending", 0) for s in e2e.samples], color="tab:red",
                 alpha=0.4, label="pending settles")
        ax2.set_ylabel("pending settles")
        ax.legend(loc="lower left")
        ax2.legend(loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- command line ------------------------------------------------------------------
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``soak`` on the scale CLI's subparsers."""
    return register(subparsers, "soak", "memory over an hour of storms", __doc__,
                    _arguments, run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lpars", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=60.0, help="simulated minutes")
    p.add_argument("--warmup", type=float, default=10.0, help="warm-up minutes")
    p.add_argument("--sample-every", type=float, default=60.0,
                   help="simulated seconds between samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--e2e-minutes", type=float, default=10.0,
                   help="simulated minutes end to end (0: skip)")
    p.add_argument("--e2e-speed", type=float, default=10.0)
    p.add_argument("--e2e-lpars", type=int, help="LPARs end to end (default --lpars)")
    p.add_argument("--e2e-workdir", type=Path,
                   help="keep the end-to-end files (daemon log, config, nova DB) here")
    p.add_argument("--png", type=Path, default=Path("soak.png"))
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--max-growth", type=float, default=5.0,
                   help="exit 1 when memory grows more than this %% after warm-up")


def run(args: argparse.Namespace) -> int:
    if args.lpars <= 0 or args.minutes <= 0 or args.sample_every <= 0 or \
            args.e2e_speed <= 0 or args.warmup >= args.minutes:
        print("lpar-eventd-scale soak: --lpars, --minutes, --sample-every and "
              "--e2e-speed must be positive, --warmup below --minutes", file=sys.stderr)
        return 2
    opts = SoakOptions(lpars=args.lpars, minutes=args.minutes, warmup=args.warmup,
                       sample_every=args.sample_every, seed=args.seed,
                       e2e_minutes=args.e2e_minutes, e2e_speed=args.e2e_speed,
                       e2e_lpars=args.e2e_lpars, e2e_workdir=args.e2e_workdir,
                       png=args.png)
    engine = engine_soak(opts, say)
    warm = opts.warmup * 60.0
    figures: dict[str, Any] = {"engine": _engine_figures(engine, warm)}
    e2e = None
    if opts.e2e_minutes > 0:
        e2e = e2e_soak(opts, say)
        # the daemon's own warm-up: its first fifth (imports, first resync, pools)
        figures["e2e"] = _e2e_figures(e2e, min(warm, opts.e2e_minutes * 60.0 / 5))
    if opts.png:
        plot(opts.png, engine, e2e, warm)
        figures["png"] = str(opts.png)
    print(report(figures))
    if args.json:
        figures["engine_samples"] = [asdict(s) for s in engine.samples]
        if e2e is not None:
            figures["e2e_samples"] = [asdict(s) for s in e2e.samples]
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    worst = max([figures["engine"]["engine_traced"]["growth_pct"],
                 figures["engine"]["rss"]["growth_pct"]]
                + ([figures["e2e"]["rss"]["growth_pct"]] if e2e is not None else []))
    return 0 if worst < args.max_growth else 1


def _engine_figures(e: EngineSoak, warm: float) -> dict[str, Any]:
    last = e.samples[-1].sizes if e.samples else {}
    peak = {k: max(s.sizes.get(k, 0) for s in e.samples) for k in last}
    return {"lpars_end": e.lpars_end, "events": e.events, "emitted": e.emitted,
            "nvram_stores": e.nvram_stores, "mismatches": e.mismatches,
            "samples": len(e.samples), "wall_seconds": round(e.wall_seconds, 1),
            "traced": growth(e.samples, warm, "traced"),
            "engine_traced": growth(e.samples, warm, "engine_traced"),
            "rss": growth(e.samples, warm, "rss"),
            "sizes_end": last, "sizes_max": peak, "cache_size_configured": e.cache_size}


def _e2e_figures(e: E2ESoak, warm: float) -> dict[str, Any]:
    return {"lpars": e.lpars, "events": e.events, "speed": e.speed,
            "mismatches": e.mismatches, "pending_max": e.pending_max, "nova": e.nova,
            "drained_after": e.drained_after,
            "samples": len(e.samples), "wall_seconds": round(e.wall_seconds, 1),
            "rss": growth(e.samples, warm, "rss")}


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def report(f: dict[str, Any]) -> str:
    e = f["engine"]
    lines = [f"engine soak (virtual clock): {e['lpars_end']} LPARs at the end, "
             f"{e['events']:,} events, {e['emitted']:,} lifecycle events, "
             f"{e['samples']} samples, {e['wall_seconds']:.0f} s wall, "
             f"final mismatches {e['mismatches']}"]
    labels = {"traced": "traced, all (engine + the harness's simulated host and nova)",
              "engine_traced": "traced, engine code (what the daemon holds)",
              "rss": "process RSS"}
    for name in ("traced", "engine_traced", "rss"):
        g = e[name]
        lines.append(f"  {labels[name]}:\n"
                     f"    after warm-up {mib(g['start'])} -> end {mib(g['end'])} "
                     f"(growth {g['growth_pct']:+.2f}%, max {mib(g['max'])}, "
                     f"{g['max_growth_pct']:+.2f}%)")
    lines.append(f"  caches at the end {e['sizes_end']}; max {e['sizes_max']}; "
                 f"configured bound {e['cache_size_configured']} per cache")
    if "e2e" in f:
        x = f["e2e"]
        g = x["rss"]
        lines.append(f"end to end (engine in nova-compute): {x['lpars']} LPARs, "
                     f"{x['events']:,} events "
                     f"at x{x['speed']:g}, {x['wall_seconds']:.0f} s wall, pending max "
                     f"{x['pending_max']:.0f}, pending back to 0 "
                     + ("never" if x["drained_after"] is None
                        else f"{x['drained_after']:.1f} s after the storm")
                     + f", final mismatches {x['mismatches']}")
        lines.append(f"  nova-compute RSS after warm-up {mib(g['start'])} -> end "
                     f"{mib(g['end'])} (growth {g['growth_pct']:+.2f}%, max {mib(g['max'])}, "
                     f"{g['max_growth_pct']:+.2f}%)")
        if x.get("nova"):
            lines.append("  what nova did: " + ", ".join(
                f"{label.removeprefix('nova: ')} {x['nova'].get(key, 0)}"
                for label, key in NOVA_VIEW_ROWS))
    if "png" in f:
        lines.append(f"curve: {f['png']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("lpar_eventd.scale.soak", __doc__, _arguments, run, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
