"""End to end: the same seeded storm through each policy, judged by nova itself.

Why: the virtual clock (``virtual.play``) proves the engine's logic, but an
operator believes numbers from the stack that will run on the host: the
NovaLink simulator on loopback, real pypowervm reading its feed, the engine
with ``[events] policy = ...`` inside nova's own nova-compute (embedded, as a
PowerVM driver runs it), nova's own sqlite schema, and what Prometheus would
scrape from ``/metrics``.

Per policy, per host (one NovaLink host = one ``testbed.hoststack.HostStack``:
a simulator, a nova database, nova-compute with the engine; the K hosts of a
policy run at the same time):

* a copy of one nova schema (built once: ``db_sync`` is the slow part),
  seeded with the scenario's instances; the scenario's ``NovaChange`` steps
  are written at their time by the nova-api writer, and nova's own
  ComputeManager handles every lifecycle event the engine decides;
* the host is started and left to finish its start-up resync; that scrape
  is the baseline, and the storm's figures are ``final - baseline`` (the
  start-up cost is reported on its own line: it is paid per restart);
* ``/metrics`` is scraped every ``scrape_interval`` for the time series and
  the peak RSS (of nova-compute: nova and the engine in it); after the storm
  the harness waits until nothing is pending (bounded by max-wait), scrapes
  a last time and judges nova's whole view (``nova_judge``): the stops and
  forced stops nova made, the events it dropped as stale, the actions the
  scenario's truth did not call for, (vm_state, power_state) against what
  nova's own rules give when told the truth, and what one last periodic
  ``_sync_power_states`` still changes;
* then a saturation burst (progress-code events only, nothing to settle)
  measures how fast the engine consumes a backlog, to set against
  pypowervm's bare parse rate of the same feed (``bench_sim.parse_rate``).

Settle delay, measured from outside the engine: for every lifecycle line of
the log sink (oslo.log timestamps, ms), the last PartitionState event of
that LPAR that the simulator sent at or before that instant (its scheduled
send time ``play start + at / speed``: a late player only makes the delay
look longer) -> the line's time. This is "from the LAST event of the
burst", which is what an operator waits for; the engine's own histogram
measures from the first. Reported in scenario seconds (wall x speed); the
target is wall p99 <= settle window / speed + 0.1 s.

    run(E2EOptions(scenario="mixed", lpars=50, speed=40))  -> E2EReport
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpar_eventd.metrics import SKIP_REASONS
from lpar_eventd.scale import nova_judge, scenarios, virtual
from lpar_eventd.scale.nova_judge import NovaView
from lpar_eventd.scale.scenarios import HostEvent, Scenario
from lpar_eventd.testbed.hoststack import (
    HostOptions, HostStack, build_template, scratch_dir)
from lpar_eventd.testbed.procs import WINDOWS, total, wait_quiet

__all__ = ["E2EOptions", "PolicyRun", "E2EReport", "run", "POLICIES",
           "settle_delays", "parse_lifecycle_log"]

LOG = logging.getLogger(__name__)

POLICIES = ("legacy", "reference", "default")
SETTLE_SECONDS = dict(WINDOWS)["settle_seconds"]
MAX_WAIT_SECONDS = dict(WINDOWS)["max_wait_seconds"]
PREFIX = "lpar_eventd_"
# figure column -> metric (summed over its labels), as virtual.FIGURES names them
COLUMNS = {column: PREFIX + name for column, name, _ in virtual.FIGURES}
# what the time series keeps (summed over hosts)
SERIES = ("events_received", "get_instance_calls", "state_reads", "lifecycle_events")


@dataclass
class E2EOptions:
    scenario: str = "mixed"
    lpars: int = 500
    hosts: int = 1
    speed: float = 10.0
    seed: int = 1
    policies: Sequence[str] = POLICIES
    scrape_interval: float = 0.5
    burst: int = 20_000            # saturation burst, events over all hosts (0: none)
    workdir: Path | None = None    # kept when given; a temporary one is removed
    wal: bool = True               # sqlite journal_mode=WAL for the nova databases
    daemon_options: dict[str, str] = field(default_factory=dict)  # "group.opt" -> value
    mode: str = "embedded"         # where the engine runs (testbed.hoststack.MODES)
    transport_url: str | None = None   # standalone: nova's bus (run starts a broker)
    progress: Callable[[str], None] | None = None


@dataclass
class PolicyRun:
    """One policy's figures; ``result`` is what ``report.compare_table`` prints."""

    result: virtual.RunResult
    series: list[tuple[float, dict[str, float]]]   # (scenario s, cumulative figures)
    startup: dict[str, float]
    cpu_seconds: float
    peak_rss_bytes: float            # the largest nova-compute (nova + the engine)
    settle_wall: list[float]         # seconds, from the burst's last event
    settle_unmatched: int
    storm_seconds: float
    storm_mean_rate: float
    storm_peak_rate: float
    burst_rate: float | None
    player_lag_max: float
    failed_scrapes: int
    nova_write_retries: int = 0      # harness (nova-api) writes retried on sqlite locks
    nova_writes_lost: int = 0
    feed_dropped: int = 0            # events NovaLink threw away unread (CACHE_CLEARED)
    feed_sent: int = 0               # events the simulator answered the engine with
    steps_superseded: int = 0        # scenario steps of LPARs nova powered off
    delivery_wall: list[float] = field(default_factory=list)  # decision -> nova, s
    nova: NovaView = field(default_factory=NovaView)   # what nova did, judged


@dataclass
class E2EReport:
    options: E2EOptions
    lower_bound: int
    events: int
    parse_rate: float | None
    runs: list[PolicyRun] = field(default_factory=list)
    read_bound: int = 0              # NovaLink reads any debouncing policy needs

    @property
    def settle_target_wall(self) -> float:
        return SETTLE_SECONDS / self.options.speed + 0.1


# -- the run ------------------------------------------------------------------
def run(opts: E2EOptions) -> E2EReport:
    """Every policy in turn, K hosts at a time; returns the figures."""
    say = opts.progress or (lambda _msg: None)
    host_scenarios = [scenarios.build(opts.scenario, opts.lpars, opts.seed + k)
                      for k in range(opts.hosts)]
    work = opts.workdir or scratch_dir("lpar-eventd-e2e-")
    work.mkdir(parents=True, exist_ok=True)
    broker = None
    try:
        if opts.mode == "standalone":   # the daemons deliver over a private RabbitMQ
            from lpar_eventd.scale.broker import RabbitServer
            broker = RabbitServer(work / "rabbitmq").start()
            opts.transport_url = broker.url
        template = work / "nova-template.sqlite"
        build_template(template, wal=opts.wal)
        report = E2EReport(opts, sum(virtual.lower_bound(s) for s in host_scenarios),
                           sum(len(s.host_events()) for s in host_scenarios),
                           _parse_rate(opts.burst),
                           read_bound=sum(virtual.read_lower_bound(s) for s in host_scenarios))
        for name in opts.policies:
            say(f"policy {name}: {opts.hosts} host(s), {report.events} events, "
                f"x{opts.speed:g}")
            report.runs.append(_run_policy(name, host_scenarios, work / name,
                                           template, opts, say))
        return report
    finally:
        if broker is not None:
            broker.close()
        if opts.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _parse_rate(burst: int) -> float | None:
    """pypowervm's parse rate of the burst's feed (100/response), median of 3."""
    if burst <= 0:
        return None
    from lpar_eventd.scale.bench_sim import parse_rate
    return statistics.median(parse_rate(burst, 100) for _ in range(3))


def host_stacks(name: str, host_scenarios: list[Scenario], work: Path, template: Path,
                opts: E2EOptions, burst: int = 0) -> list[HostStack]:
    """One host stack per scenario for policy ``name`` (not started)."""
    return [HostStack(sc, work / f"host-{k}", template,
                      HostOptions(policy=name, speed=opts.speed, mode=opts.mode,
                                  extra_events=burst, transport_url=opts.transport_url,
                                  engine_options=dict(opts.daemon_options)), index=k)
            for k, sc in enumerate(host_scenarios)]


def _run_policy(name: str, host_scenarios: list[Scenario], work: Path, template: Path,
                opts: E2EOptions, say: Callable[[str], None]) -> PolicyRun:
    burst = opts.burst // max(1, opts.hosts)
    hosts = host_stacks(name, host_scenarios, work, template, opts, burst)
    try:
        for host in hosts:
            host.start()
        for host in hosts:
            host.healthy(60 + 10 * len(hosts))
        _wait_quiet(hosts, opts, timeout=30.0)
        baseline = [h.scrape() for h in hosts]
        fed = [h.feed_counts() for h in hosts]
        scraper = _Scraper(hosts, opts.scrape_interval)
        futures = []
        started = time.time()
        scraper.start(started, opts.speed)
        for host in hosts:
            futures.append(host.play())
        for future in futures:
            future.result(timeout=max(s.duration for s in host_scenarios) / opts.speed
                          + 300)
        for host in hosts:
            host.finish_changes()
        storm_end = time.time()
        say(f"  storm played in {storm_end - started:.1f} s; settling")
        for host in hosts:
            host.wait_delivered()
        _wait_quiet(hosts, opts, timeout=(MAX_WAIT_SECONDS + SETTLE_SECONDS + 30.0)
                    / opts.speed + 10.0)
        scraper.stop()
        finals = [h.scrape() for h in hosts]
        say("  judging nova's view (and one periodic power-state sync)")
        views = [h.nova_view() for h in hosts]
        run = _collect(name, hosts, baseline, finals, views, scraper, started, storm_end,
                       opts)
        counts = [h.feed_counts() for h in hosts]
        run.feed_sent = sum(c[0] - f[0] for c, f in zip(counts, fed, strict=True))
        run.feed_dropped = sum(c[1] - f[1] for c, f in zip(counts, fed, strict=True))
        run.steps_superseded = sum(int(h.sim.counters().get("steps_superseded", 0))
                                   for h in hosts)
        if burst > 0:
            run.burst_rate = _burst(hosts, burst)
        say(f"  done in {time.time() - started:.1f} s")
        return run
    finally:
        for host in hosts:
            host.stop()


def _wait_quiet(hosts: list[HostStack], opts: E2EOptions, timeout: float) -> None:
    """Until nothing is pending anywhere (or no counter moved for longer than
    max-wait: the reference policy's leaked timers keep its gauge up)."""
    if not wait_quiet([h.scrape for h in hosts], timeout,
                      still_for=MAX_WAIT_SECONDS / opts.speed + 1.5):
        LOG.warning("engines still busy after %.0f s", timeout)


class _Scraper:
    """Scrapes every host's /metrics in a thread, as Prometheus would."""

    def __init__(self, hosts: list[HostStack], interval: float):
        self.hosts = hosts
        self.interval = interval
        self.series: list[tuple[float, list[dict[str, float]]]] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, t0: float, speed: float) -> None:
        self._thread = threading.Thread(target=self._loop, args=(t0,),
                                        name="scraper", daemon=True)
        self._thread.start()

    def _loop(self, t0: float) -> None:
        while not self._stop.is_set():
            now = time.time()
            row = []
            for host in self.hosts:
                try:
                    row.append(host.scrape())
                except OSError:
                    self.failed += 1
                    row.append(host.latest)
            self.series.append((now - t0, row))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _figures(samples: dict[str, float]) -> dict[str, float]:
    out = {column: total(samples, metric) for column, metric in COLUMNS.items()}
    out["settle_errors"] = total(samples, PREFIX + "settle_errors_total")
    out["retries"] = total(samples, PREFIX + "retries_total")
    out["max_wait_flushes"] = total(samples, PREFIX + "max_wait_flushes_total")
    for hist in ("settle_delay_seconds", "settle_duration_seconds"):
        out[hist + "_sum"] = samples.get(PREFIX + hist + "_sum", 0.0)
        out[hist + "_count"] = samples.get(PREFIX + hist + "_count", 0.0)
    for reason in SKIP_REASONS:
        out["skipped_" + reason] = samples.get(
            f'{PREFIX}events_skipped_total{{reason="{reason}"}}', 0.0)
    return out


def _summed(rows: list[dict[str, float]], base: list[dict[str, float]] | None = None
            ) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, row in enumerate(rows):
        figures = _figures(row)
        before = _figures(base[i]) if base is not None else {}
        for key, value in figures.items():
            out[key] = out.get(key, 0.0) + value - before.get(key, 0.0)
    return out


def _collect(name: str, hosts: list[HostStack], baseline: list[dict[str, float]],
             finals: list[dict[str, float]], views: list[NovaView], scraper: _Scraper,
             started: float, storm_end: float, opts: E2EOptions) -> PolicyRun:
    figures = _summed(finals, baseline)
    nova = NovaView()
    for view in views:
        nova = nova.add(view)
    figures.update(nova.figures())
    final_states: dict[str, int] = {}
    delays: list[float] = []
    unmatched = 0
    delivery: list[float] = []
    for host in hosts:
        final_states.update({u: row[1] for u, row in host.rows().items()})
        decided = parse_lifecycle_log(host.engine_log)
        found, missed = settle_delays(host.scenario, host.play_started, opts.speed, decided)
        delays += found
        unmatched += missed
        if opts.mode == "standalone":   # embedded, deciding is handing over
            delivery += delivery_delays(decided, host.witness()["events"])
    delays.sort()
    p50, p99 = _quantile(delays, 0.5), _quantile(delays, 0.99)
    series = [(t * opts.speed, _summed(row, baseline)) for t, row in scraper.series]
    storm = max(storm_end - started, 1e-9)
    received = [(t / opts.speed, f["events_received"]) for t, f in series]
    steps = zip(received, received[1:], strict=False)
    peak = max(((b[1] - a[1]) / (b[0] - a[0]) for a, b in steps if b[0] > a[0]),
               default=0.0)
    cpu = sum(f.get("process_cpu_seconds_total", 0.0) - b.get(
        "process_cpu_seconds_total", 0.0) for f, b in zip(finals, baseline, strict=True))
    pending = sum(f.get(PREFIX + "pending_settles", 0.0) for f in finals)
    result = virtual.RunResult(
        name, figures, nova.examples.get("mismatch", []), p50 * opts.speed,
        p99 * opts.speed, time.time() - started,
        sum(len(h.scenario.host_events()) for h in hosts),
        {"pending_after": int(pending), "leaked_timers": "n/a",
         "final_power_states": dict(sorted(final_states.items()))})
    return PolicyRun(
        result=result, series=series, startup=_summed(baseline), cpu_seconds=cpu,
        peak_rss_bytes=max(h.peak_rss for h in hosts), settle_wall=delays,
        settle_unmatched=unmatched, storm_seconds=storm,
        storm_mean_rate=figures["events_received"] / storm, storm_peak_rate=peak,
        burst_rate=None, player_lag_max=max(h.lag_max for h in hosts),
        failed_scrapes=scraper.failed,
        nova_write_retries=sum(h.nova_api.retries for h in hosts),
        nova_writes_lost=sum(h.nova_api.lost for h in hosts), nova=nova,
        delivery_wall=sorted(delivery))


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * q))]


def _burst(hosts: list[HostStack], per_host: int) -> float:
    """Events/s the engines consume from a backlog of ``per_host`` progress
    codes each (nothing to settle): the end-to-end ceiling of the source.

    The end is when each simulator handed out the backlog's last answer: a
    engine asks for the next answer only once it has handled the previous
    one, so that is the backlog consumed to within one answer. /metrics is
    polled slowly, only to know when to stop: a fast poll would spend the
    engine's CPU on rendering metrics and lower the very rate measured.
    """
    before = [total(h.scrape(), COLUMNS["events_received"]) for h in hosts]
    pushed: list[float] = [0.0] * len(hosts)

    def push(i: int) -> None:
        hosts[i].sim.push_events(per_host)
        pushed[i] = time.monotonic()

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(hosts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    start = min(pushed)
    deadline = start + 120.0
    done = [False] * len(hosts)
    while not all(done) and time.monotonic() < deadline:
        time.sleep(0.25)
        for i, host in enumerate(hosts):
            if not done[i]:
                seen = total(host.scrape(), COLUMNS["events_received"]) - before[i]
                done[i] = seen >= per_host
    if not all(done):
        LOG.warning("saturation burst not consumed within 120 s")
        return 0.0
    drained = [h.sim.last_drained() for h in hosts]
    end = max((d for d in drained if d is not None and d > start), default=time.monotonic())
    return per_host * len(hosts) / (end - start)


# -- settle delay from outside -------------------------------------------------
_LIFECYCLE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*?"
                        r"lifecycle transition=(\w+) instance=(\S+) lpar=(\S+)")


def parse_lifecycle_log(path: Path) -> list[tuple[float, str]]:
    """(epoch seconds, LPAR uuid) of every log-sink line in an oslo.log file."""
    out = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        match = _LIFECYCLE.match(line)
        if match:
            when = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
            out.append((when.timestamp(), match.group(4).upper()))
    return out


def settle_delays(scenario: Scenario, play_started: float, speed: float,
                  emitted: list[tuple[float, str]]) -> tuple[list[float], int]:
    """Wall seconds from each burst's last PartitionState event to its emit.

    The event's time is its scheduled send time (``play_started + at /
    speed``); an emit with no earlier event of its LPAR (a resync's) is
    counted as unmatched. A sink retried after a failure logs its line
    again (the tee re-emits): lines of one LPAR that follow the same last
    event are one emit, timed by the last line (the attempt that reached
    nova).
    """
    sent: dict[str, list[float]] = {}
    for step in scenario.steps:
        if isinstance(step, HostEvent) and step.lpar and step.event_type == "MODIFY_URI" \
                and "PartitionState" in step.detail:
            sent.setdefault(step.lpar.upper(), []).append(play_started + step.at / speed)
    emits: dict[tuple[str, float], float] = {}
    unmatched = 0
    for when, lpar in emitted:
        times = sent.get(lpar, [])
        i = bisect.bisect_right(times, when)
        if i == 0:
            unmatched += 1
            continue
        key = (lpar, times[i - 1])
        emits[key] = max(emits.get(key, when), when)
    return sorted(when - last for (_, last), when in emits.items()), unmatched


def delivery_delays(decided: list[tuple[float, str]],
                    handed: list[dict[str, Any]]) -> list[float]:
    """Wall seconds from each decision (the daemon's log sink line, written
    before its nova-compute sink sends: epoch, LPAR) to nova-compute handing
    it to nova (the witness's event, epoch ``at``): the last decision of that
    LPAR at or before the hand-over. Standalone only: embedded, deciding is
    handing over (the same call)."""
    from pypowervm.utils import uuid as pvm_uuid
    times: dict[str, list[float]] = {}
    for when, lpar in sorted(decided):
        times.setdefault(lpar, []).append(when)
    out = []
    for event in handed:
        mine = times.get(pvm_uuid.convert_uuid_to_pvm(event["instance"]).upper(), [])
        i = bisect.bisect_right(mine, event["at"])
        if i:
            out.append(max(0.0, event["at"] - mine[i - 1]))
    return out


# -- what the run prints and writes ---------------------------------------------
def format_table(rep: E2EReport) -> str:
    """``report.compare_table`` plus what only a real run can show."""
    from lpar_eventd.scale import report as tables

    opts = rep.options
    title = (f"scenario {opts.scenario}, {opts.lpars} LPARs x {opts.hosts} host(s), seed "
             f"{opts.seed}, {rep.events} events, mode e2e ({opts.mode} engine), "
             f"x{opts.speed:g} "
             f"(settle window {SETTLE_SECONDS / opts.speed:.3g} s wall)")
    lines = [tables.compare_table([r.result for r in rep.runs], rep.lower_bound, title,
                                  rep.read_bound)]
    width = 30

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:{width}}" + "".join(f"{v:>12}" for v in values))

    runs = rep.runs
    lines.append("-- end to end (from the engines' /metrics, the log sink, nova-compute, "
                 "the nova DB)")
    row("", [r.result.policy for r in runs])
    for label, key in (("settle errors (dropped)", "settle_errors"),
                       ("retries (lookup/sink/...)", "retries"),
                       ("max-wait flushes", "max_wait_flushes")):
        row(label, [f"{r.result.figures.get(key, 0):.0f}" for r in runs])
    row("settle from last event p50 ms", [f"{_q(r.settle_wall, .5) * 1e3:.0f}" for r in runs])
    row("settle from last event p99 ms", [f"{_q(r.settle_wall, .99) * 1e3:.0f}" for r in runs])
    row("  emits timed / unmatched", [f"{len(r.settle_wall)}/{r.settle_unmatched}"
                                      for r in runs])
    if opts.mode == "standalone":
        row("decision -> nova p50 ms", [f"{_q(r.delivery_wall, .5) * 1e3:.1f}"
                                        for r in runs])
        row("decision -> nova p99 ms", [f"{_q(r.delivery_wall, .99) * 1e3:.1f}"
                                        for r in runs])
    row("engine first->emit mean ms", [f"{_mean(r.result.figures, 'settle_delay_seconds'):.0f}"
                                       for r in runs])
    row("one settle's work mean ms", [f"{_mean(r.result.figures, 'settle_duration_seconds'):.1f}"
                                      for r in runs])
    row("nova-compute CPU s (+engine)", [f"{r.cpu_seconds:.1f}" for r in runs])
    row("peak RSS MB (nova-compute)", [f"{r.peak_rss_bytes / 2**20:.0f}" for r in runs])
    row("nova: residual (truth's own)", [f"{r.nova.residual_truth}" for r in runs])
    row("storm: mean events/s", [f"{r.storm_mean_rate:,.0f}" for r in runs])
    row("storm: peak events/s", [f"{r.storm_peak_rate:,.0f}" for r in runs])
    row("saturation burst events/s", [f"{r.burst_rate:,.0f}" if r.burst_rate else "-"
                                      for r in runs])
    row("feed events lost unread", [f"{r.feed_dropped}" for r in runs])
    row("steps nova's stops superseded", [f"{r.steps_superseded}" for r in runs])
    row("start-up get_instance calls", [f"{r.startup.get('get_instance_calls', 0):.0f}"
                                        for r in runs])
    row("start-up state reads", [f"{r.startup.get('state_reads', 0):.0f}" for r in runs])
    row("nova-api writes retried/lost", [f"{r.nova_write_retries}/{r.nova_writes_lost}"
                                         for r in runs])
    row("simulator lag max ms", [f"{r.player_lag_max * 1e3:.0f}" for r in runs])
    lines.append("settle delay (table rows above): scenario seconds from the burst's LAST "
                 "PartitionState event (as the simulator sent it) to the log sink's line")
    if rep.parse_rate:
        lines.append(f"pypowervm bare parse rate of the burst feed (100/response): "
                     f"{rep.parse_rate:,.0f} events/s")
    lines += _targets(rep)
    return "\n".join(lines)


def _targets(rep: E2EReport) -> list[str]:
    by = {r.result.policy: r for r in rep.runs}
    out = ["-- targets (issue 7)"]

    def check(ok: bool, text: str) -> None:
        out.append(f"[{'ok' if ok else 'MISS'}] {text}")

    d = by.get("default")
    if d is None:
        return out
    calls = d.result.figures["get_instance_calls"]
    reads = d.result.figures["state_reads"]
    if rep.lower_bound:
        check(calls <= 1.05 * rep.lower_bound,
              f"default get_instance {calls:.0f} <= 1.05 x lower bound {rep.lower_bound}"
              f" ({calls / rep.lower_bound:.2f}x)")
    if rep.read_bound:
        check(reads <= 1.05 * rep.read_bound,
              f"default state reads {reads:.0f} <= 1.05 x read lower bound {rep.read_bound} "
              f"({reads / rep.read_bound:.2f}x)")
    if "legacy" in by and calls:
        legacy = by["legacy"].result.figures
        check(legacy["get_instance_calls"] >= 10 * calls,
              f"legacy / default get_instance {legacy['get_instance_calls'] / calls:.1f}x >= 10x")
        if reads:
            ceiling = (f"; no policy can do better than the read lower bound, "
                       f"{legacy['state_reads'] / rep.read_bound:.1f}x under legacy"
                       if rep.read_bound else "")
            check(legacy["state_reads"] >= 10 * reads,
                  f"legacy / default state reads {legacy['state_reads'] / reads:.1f}x >= 10x"
                  + ceiling)
    if "reference" in by:
        ref = by["reference"].result.figures
        check(calls < ref["get_instance_calls"],
              f"default get_instance {calls:.0f} < reference {ref['get_instance_calls']:.0f}")
        check(reads < ref["state_reads"],
              f"default state reads {reads:.0f} < reference {ref['state_reads']:.0f}")
    for name in ("default", "reference", "legacy"):
        if name in by:
            nova = by[name].nova
            check((nova.wrong_nova_actions, nova.mismatch) == (0, 0) or name == "legacy",
                  f"{name}: nova took {nova.wrong_nova_actions} wrong actions, "
                  f"{nova.mismatch} (vm_state, power_state) mismatches"
                  + (" (legacy: reported, not required)" if name == "legacy" else ""))
    p99 = _q(d.settle_wall, 0.99)
    check(p99 <= rep.settle_target_wall,
          f"default settle p99 {p99 * 1e3:.0f} ms <= window + 100 ms = "
          f"{rep.settle_target_wall * 1e3:.0f} ms (wall, from the burst's last event)")
    if rep.parse_rate and d.burst_rate:
        check(d.burst_rate >= 0.8 * rep.parse_rate,
              f"default end-to-end {d.burst_rate:,.0f} events/s >= 0.8 x parse rate "
              f"{rep.parse_rate:,.0f} ({d.burst_rate / rep.parse_rate:.2f}x)")
    return out


def _q(values: list[float], q: float) -> float:
    return _quantile(sorted(values), q)


def _mean(figures: dict[str, float], hist: str) -> float:
    count = figures.get(hist + "_count", 0.0)
    return 1e3 * figures.get(hist + "_sum", 0.0) / count if count else 0.0


def to_json(rep: E2EReport) -> dict[str, Any]:
    """The figures as JSON: ``report.compare_json`` plus the e2e extras."""
    from lpar_eventd.scale import report as tables

    opts = rep.options
    data = tables.compare_json(
        [r.result for r in rep.runs], rep.lower_bound, rep.read_bound, scenario=opts.scenario,
        lpars=opts.lpars, hosts=opts.hosts, speed=opts.speed, seed=opts.seed,
        mode="e2e", engine=opts.mode, events=rep.events, parse_rate=rep.parse_rate,
        settle_target_wall_s=rep.settle_target_wall,
        settle_window_wall_s=SETTLE_SECONDS / opts.speed)
    for run in rep.runs:
        entry = data["policies"][run.result.policy]
        entry.update({
            "settle_from_last_event_wall_p50_s": _q(run.settle_wall, 0.5),
            "settle_from_last_event_wall_p99_s": _q(run.settle_wall, 0.99),
            "settle_emits_timed": len(run.settle_wall),
            "settle_emits_unmatched": run.settle_unmatched,
            "cpu_seconds": run.cpu_seconds, "peak_rss_bytes": run.peak_rss_bytes,
            "storm_seconds": run.storm_seconds, "storm_mean_events_per_s": run.storm_mean_rate,
            "storm_peak_events_per_s": run.storm_peak_rate,
            "burst_events_per_s": run.burst_rate, "startup": run.startup,
            "nova_write_retries": run.nova_write_retries,
            "nova_writes_lost": run.nova_writes_lost,
            "feed_events_lost_unread": run.feed_dropped,
            "feed_events_sent": run.feed_sent,
            "scenario_steps_superseded": run.steps_superseded,
            "simulator_lag_max_s": run.player_lag_max, "failed_scrapes": run.failed_scrapes,
            "nova": nova_judge.as_json(run.nova),
            "delivery_wall_p50_s": _q(run.delivery_wall, 0.5) if run.delivery_wall else None,
            "delivery_wall_p99_s": _q(run.delivery_wall, 0.99) if run.delivery_wall else None,
            "deliveries_timed": len(run.delivery_wall),
            "series": [{"t": round(t, 2), **{k: f.get(k, 0.0) for k in SERIES}}
                       for t, f in run.series]})
    data["targets"] = _targets(rep)[1:]
    return data
