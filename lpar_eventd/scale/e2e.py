"""End to end: the same seeded storm through each policy's real daemon.

Why: the virtual clock (``virtual.play``) proves the engine's logic, but an
operator believes numbers from the stack that will run on the host: the
NovaLink simulator on loopback, real pypowervm reading its feed, the real
``lpar-eventd`` process with ``[events] policy = ...``, nova's own sqlite
schema, and what Prometheus would scrape from ``/metrics``.

Per policy, per host (one NovaLink host = one simulator + one daemon + one
nova database, as deployed; the K daemons of a policy run at the same time):

* a copy of one nova schema (built once: ``db_sync`` is the slow part),
  seeded with the scenario's instances; the scenario's ``NovaChange`` steps
  are applied to it at their time from the simulator's ``on_nova_change``
  (nova-api and operations), and the daemon's ``embedded-compute`` sink
  applies lifecycle events to the same rows (nova-compute);
* the daemon is started and left to finish its start-up resync; that
  scrape is the baseline, and the storm's figures are ``final - baseline``
  (the start-up cost is reported on its own line: it is paid per restart,
  not per storm);
* ``/metrics`` is scraped every ``scrape_interval`` for the time series
  and the peak RSS; after the storm the harness waits until nothing is
  pending (bounded by max-wait), scrapes a last time, and compares every
  managed LPAR's final PowerVM state (``sim.lpars()``) with nova's
  power_state in the database;
* then a saturation burst (progress-code events only, nothing to settle)
  measures how fast the daemon consumes a backlog, to set against
  pypowervm's bare parse rate of the same feed (``bench_sim.parse_rate``).

Settle delay, measured from outside the daemon: for every lifecycle line of
the log sink (oslo.log timestamps, ms), the last PartitionState event of
that LPAR that the simulator sent at or before that instant (its scheduled
send time ``play start + at / speed``: a late player only makes the delay
look longer) -> the line's time. This is "from the LAST event of the
burst", which is what an operator waits for; the daemon's own histogram
measures from the first. Reported in scenario seconds (wall x speed); the
target is wall p99 <= settle window / speed + 0.1 s.

    run(E2EOptions(scenario="mixed", lpars=50, speed=40))  -> E2EReport
"""

from __future__ import annotations

import bisect
from contextlib import closing
import datetime as dt
import logging
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpar_eventd.demo import WINDOWS, free_port, scrape, total, wait_healthy, write_config
from lpar_eventd.metrics import SKIP_REASONS
from lpar_eventd.scale import oracle, scenarios, virtual
from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario

__all__ = ["E2EOptions", "PolicyRun", "E2EReport", "run", "POLICIES",
           "settle_delays", "parse_lifecycle_log"]

LOG = logging.getLogger(__name__)

POLICIES = ("legacy", "reference", "default")
SETTLE_SECONDS = dict(WINDOWS)["settle_seconds"]
MAX_WAIT_SECONDS = dict(WINDOWS)["max_wait_seconds"]
PREFIX = "lpar_eventd_"
NOVA_WRITE_ATTEMPTS = 20
BUSY_TIMEOUT = 15.0   # sqlite: seconds a writer waits for the other side's lock
SHM = "/dev/shm"  # noqa: S108 - parent of mkdtemp only  # nosec B108
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
    progress: Callable[[str], None] | None = None


@dataclass
class PolicyRun:
    """One policy's figures; ``result`` is what ``report.compare_table`` prints."""

    result: virtual.RunResult
    series: list[tuple[float, dict[str, float]]]   # (scenario s, cumulative figures)
    startup: dict[str, float]
    cpu_seconds: float
    peak_rss_bytes: float            # the largest daemon
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


# -- one host ---------------------------------------------------------------
class _Host:
    """Simulator + nova database + daemon for one NovaLink host, one policy."""

    def __init__(self, index: int, scenario: Scenario, workdir: Path, template: Path,
                 policy_name: str, opts: E2EOptions, burst: int):
        self.index = index
        self.scenario = scenario
        self.workdir = workdir
        self.template = template
        self.policy = policy_name
        self.opts = opts
        self.burst = burst
        self.sim: Any = None
        self.db: Any = None
        self.player: Any = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = workdir / "lpar-eventd.log"
        self.play_started = 0.0
        self.lag_max = 0.0
        self.peak_rss = 0.0
        self.latest: dict[str, float] = {}
        self.change_retries = 0
        self._changes: queue.Queue[NovaChange | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self.lost_changes = 0

    def start(self) -> None:
        from lpar_eventd.nova.compute_player import ComputePlayer
        from lpar_eventd.nova.database import NovaDatabase, sqlite_url
        from lpar_eventd.nova.seed import seed_instances, specs_from_scenario
        from lpar_eventd.simulator.config import SimConfig
        from lpar_eventd.simulator.server import Simulator

        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "nova.sqlite"
        shutil.copyfile(self.template, path)
        url = sqlite_url(path, busy_timeout=BUSY_TIMEOUT)
        self.db = NovaDatabase(url)
        seed_instances(self.db, specs_from_scenario(self.scenario))
        self.player = ComputePlayer(self.db)
        events = len(self.scenario.host_events())
        self.sim = Simulator(SimConfig(port=0, long_poll=1.0,
                                       max_queue=events + self.burst + 10_000)).start()
        self.sim.load(self.scenario)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        conf = self.workdir / "lpar-eventd.conf"
        nvram = self.workdir / "nvram"
        write_config(conf, sim_port=self.sim.http_port, nova_url=url,
                     metrics_port=port, speed=self.opts.speed, policy_name=self.policy,
                     extra=f"\n[nvram]\nstore = directory\npath = {nvram}\n")
        override_options(conf, self.opts.daemon_options)
        self.proc = subprocess.Popen(  # noqa: S603 - our own daemon
            [sys.executable, "-m", "lpar_eventd.cmd.daemon",
             "--config-file", str(conf), "--log-file", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthy(self, timeout: float) -> None:
        wait_healthy(self.url, timeout, self.proc)

    def feed_counts(self) -> tuple[int, int, int]:
        """(events sent to the daemon, dropped by the simulator, still queued).

        Dropped: the scenario's CACHE_CLEARED is a NovaLink REST restart,
        which throws away what a client had not read yet; a daemon behind
        the feed at that moment loses its backlog, as it would on a host.
        """
        counters = self.sim.counters()
        queued = sum(self.sim.status().get("queue_depths", {}).values())
        return (int(sum(counters.get("events_sent", {}).values())),
                int(counters.get("events_dropped", 0)), int(queued))

    def scrape(self) -> dict[str, float]:
        samples = scrape(self.url + "/metrics", timeout=5.0)
        self.latest = samples
        self.peak_rss = max(self.peak_rss,
                            samples.get("process_resident_memory_bytes", 0.0))
        return samples

    def play(self) -> Any:
        """Start the storm; NovaChange steps go to the nova DB at their time.

        The simulator calls ``on_nova_change`` on its event loop; the write
        is handed to this host's nova-api thread so a write waiting on
        sqlite's lock never holds up the feed (in order, one at a time).
        """
        speed = self.opts.speed
        self._writer = threading.Thread(target=self._write_changes, daemon=True,
                                        name=f"nova-api-{self.index}")
        self._writer.start()

        def on_change(step: NovaChange) -> None:
            lag = time.time() - (self.play_started + step.at / speed)
            self.lag_max = max(self.lag_max, lag)
            self._changes.put(step)

        self.play_started = time.time()
        return self.sim.play(self.scenario, speed=speed, on_nova_change=on_change,
                             load=False)

    def _write_changes(self) -> None:
        while True:
            step = self._changes.get()
            try:
                if step is None:
                    return
                self._apply_change(step)
            except Exception:  # counted in lost_changes; the run goes on
                LOG.exception("nova change %s lost", step)
            finally:
                self._changes.task_done()

    def finish_changes(self) -> None:
        """Wait until every NovaChange of the storm is written, stop the writer."""
        if self._writer is not None:
            self._changes.put(None)
            self._writer.join(timeout=120)
            self._writer = None

    def _apply_change(self, step: NovaChange) -> None:
        """nova-api's write, retried: sqlite refuses a transaction that read
        before another connection's write ("database is locked", at once,
        whatever the busy timeout); nova on MySQL would simply have waited."""
        from lpar_eventd.nova.errors import NovaUnavailable
        applied = self.player.apply_change_retried(step, NOVA_WRITE_ATTEMPTS)
        self.change_retries = self.player.change_retries
        if not applied:
            self.lost_changes += 1
            raise NovaUnavailable(f"nova change {step} still locked after "
                                  f"{NOVA_WRITE_ATTEMPTS} attempts")

    def mismatches(self) -> tuple[list[str], dict[str, int]]:
        """LPARs whose nova power_state disagrees with their final PowerVM state."""
        managed = self.scenario.managed()
        states = self.sim.lpars()
        rows = self.player.instances(list(managed.values()))
        finals = {instance: row.power_state for instance, row in rows.items()}
        out = [f"host {self.index} {line}" for line in
               oracle.mismatches(managed, states, rows, self.player.compute_host)]
        return out, finals

    def stop(self) -> None:
        """Stop what this host started; safe on a half-started host."""
        self.finish_changes()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.sim is not None:
            self.sim.stop()
        if self.db is not None:
            self.db.dispose()


def override_options(path: Path, options: dict[str, str]) -> None:
    """Set ``group.option = value`` in a written config file (oslo.config
    refuses a section given twice, so each goes into its section)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for dotted, value in options.items():
        group, _, name = dotted.partition(".")
        if not name:
            raise ValueError(f"daemon option {dotted!r}: expected GROUP.OPTION")
        header = f"[{group}]"
        if header not in lines:
            lines += ["", header]
        at = lines.index(header) + 1
        end = next((i for i in range(at, len(lines)) if lines[i].startswith("[")),
                   len(lines))
        lines = [line for i, line in enumerate(lines)
                 if not (at <= i < end and line.split("=")[0].strip() == name)]
        lines.insert(at, f"{name} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _use_wal(path: Path) -> None:
    """WAL journal (kept in the file, so every copy has it): the harness's
    nova-api writes and the daemon's nova-compute writes then wait for each
    other far less, closer to nova's row-locking MySQL than sqlite's default
    whole-file lock, which made writes fail with "database is locked"."""
    import sqlite3
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


# -- the run ------------------------------------------------------------------
def run(opts: E2EOptions) -> E2EReport:
    """Every policy in turn, K hosts at a time; returns the figures."""
    from lpar_eventd.nova.database import build_sqlite

    say = opts.progress or (lambda _msg: None)
    host_scenarios = [scenarios.build(opts.scenario, opts.lpars, opts.seed + k)
                      for k in range(opts.hosts)]
    # tmpfs when there is one: nova's sqlite fsyncs are not what is measured
    shm = SHM if Path(SHM).is_dir() else None
    work = opts.workdir or Path(tempfile.mkdtemp(prefix="lpar-eventd-e2e-", dir=shm))
    work.mkdir(parents=True, exist_ok=True)
    try:
        template = work / "nova-template.sqlite"
        build_sqlite(template).dispose()
        if opts.wal:
            _use_wal(template)
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
        if opts.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _parse_rate(burst: int) -> float | None:
    """pypowervm's parse rate of the burst's feed (100/response), median of 3."""
    if burst <= 0:
        return None
    from lpar_eventd.scale.bench_sim import parse_rate
    return statistics.median(parse_rate(burst, 100) for _ in range(3))


def _run_policy(name: str, host_scenarios: list[Scenario], work: Path, template: Path,
                opts: E2EOptions, say: Callable[[str], None]) -> PolicyRun:
    burst = opts.burst // max(1, opts.hosts)
    hosts = [_Host(k, sc, work / f"host-{k}", template, name, opts, burst)
             for k, sc in enumerate(host_scenarios)]
    try:
        for host in hosts:
            host.start()
        for host in hosts:
            host.healthy(60 + 10 * len(hosts))
        _wait_quiet(hosts, opts, deadline=30.0, minimum=1.5)
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
        _wait_delivered(hosts)
        _wait_quiet(hosts, opts, deadline=(MAX_WAIT_SECONDS + SETTLE_SECONDS + 30.0)
                    / opts.speed + 10.0, minimum=0.0)
        scraper.stop()
        finals = [h.scrape() for h in hosts]
        run = _collect(name, hosts, baseline, finals, scraper, started, storm_end, opts)
        run.feed_dropped = sum(h.feed_counts()[1] - f[1] for h, f in zip(hosts, fed,
                                                                         strict=True))
        if burst > 0:
            run.burst_rate = _burst(hosts, burst)
        say(f"  done in {time.time() - started:.1f} s")
        return run
    finally:
        for host in hosts:
            host.stop()


def _wait_delivered(hosts: list[_Host], timeout: float = 180.0) -> None:
    """Until each daemon has read its whole feed (a busy daemon reads behind
    the storm; its figures must cover all it was sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(h.feed_counts()[2] == 0 for h in hosts):
            return
        time.sleep(0.2)
    LOG.warning("daemons still behind the feed after %.0f s", timeout)


def _wait_quiet(hosts: list[_Host], opts: E2EOptions, deadline: float,
                minimum: float) -> None:
    """Until nothing is pending anywhere for 1.5 s (or no counter moved for
    longer than max-wait: the reference policy's leaked timers may keep the
    gauge up), bounded by ``deadline`` seconds."""
    start = time.monotonic()
    end = start + deadline
    quiet_since: float | None = None
    still_since = time.monotonic()
    last: list[float] = []
    still_for = MAX_WAIT_SECONDS / opts.speed + 1.5
    while time.monotonic() < end:
        now = time.monotonic()
        samples = [h.scrape() for h in hosts]
        pending = sum(s.get(PREFIX + "pending_settles", 0.0) for s in samples)
        moving = [total(s, COLUMNS[c]) for s in samples for c in SERIES]
        if moving != last:
            last, still_since = moving, now
        if pending:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        if now - start >= minimum and (
                (quiet_since is not None and now - quiet_since > 1.5
                 and now - still_since > 1.5)
                or now - still_since > still_for):
            return
        time.sleep(0.3)


class _Scraper:
    """Scrapes every host's /metrics in a thread, as Prometheus would."""

    def __init__(self, hosts: list[_Host], interval: float):
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


def _collect(name: str, hosts: list[_Host], baseline: list[dict[str, float]],
             finals: list[dict[str, float]], scraper: _Scraper, started: float,
             storm_end: float, opts: E2EOptions) -> PolicyRun:
    figures = _summed(finals, baseline)
    mismatches: list[str] = []
    final_states: dict[str, int] = {}
    delays: list[float] = []
    unmatched = 0
    for host in hosts:
        bad, states = host.mismatches()
        mismatches += bad
        final_states.update(states)
        found, missed = settle_delays(host.scenario, host.play_started, opts.speed,
                                      parse_lifecycle_log(host.log))
        delays += found
        unmatched += missed
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
        name, figures, mismatches, p50 * opts.speed, p99 * opts.speed,
        time.time() - started, sum(len(h.scenario.host_events()) for h in hosts),
        {"pending_after": int(pending), "leaked_timers": "n/a",
         "final_power_states": dict(sorted(final_states.items()))})
    return PolicyRun(
        result=result, series=series, startup=_summed(baseline), cpu_seconds=cpu,
        peak_rss_bytes=max(h.peak_rss for h in hosts), settle_wall=delays,
        settle_unmatched=unmatched, storm_seconds=storm,
        storm_mean_rate=figures["events_received"] / storm, storm_peak_rate=peak,
        burst_rate=None, player_lag_max=max(h.lag_max for h in hosts),
        failed_scrapes=scraper.failed,
        nova_write_retries=sum(h.change_retries for h in hosts),
        nova_writes_lost=sum(h.lost_changes for h in hosts))


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * q))]


def _burst(hosts: list[_Host], per_host: int) -> float:
    """Events/s the daemons consume from a backlog of ``per_host`` progress
    codes each (nothing to settle): the end-to-end ceiling of the source.

    The end is when each simulator handed out the backlog's last answer: a
    daemon asks for the next answer only once it has handled the previous
    one, so that is the backlog consumed to within one answer. /metrics is
    polled slowly, only to know when to stop: a fast poll would spend the
    daemon's CPU on rendering metrics and lower the very rate measured.
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


# -- what the run prints and writes ---------------------------------------------
def format_table(rep: E2EReport) -> str:
    """``report.compare_table`` plus what only a real run can show."""
    from lpar_eventd.scale import report as tables

    opts = rep.options
    title = (f"scenario {opts.scenario}, {opts.lpars} LPARs x {opts.hosts} host(s), seed "
             f"{opts.seed}, {rep.events} events, mode e2e, x{opts.speed:g} "
             f"(settle window {SETTLE_SECONDS / opts.speed:.3g} s wall)")
    lines = [tables.compare_table([r.result for r in rep.runs], rep.lower_bound, title,
                                  rep.read_bound)]
    width = 30

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:{width}}" + "".join(f"{v:>12}" for v in values))

    runs = rep.runs
    lines.append("-- end to end (from the daemons' /metrics, the log sink, the nova DB)")
    row("", [r.result.policy for r in runs])
    for label, key in (("settle errors (dropped)", "settle_errors"),
                       ("retries (lookup/sink/...)", "retries"),
                       ("max-wait flushes", "max_wait_flushes")):
        row(label, [f"{r.result.figures.get(key, 0):.0f}" for r in runs])
    row("settle from last event p50 ms", [f"{_q(r.settle_wall, .5) * 1e3:.0f}" for r in runs])
    row("settle from last event p99 ms", [f"{_q(r.settle_wall, .99) * 1e3:.0f}" for r in runs])
    row("  emits timed / unmatched", [f"{len(r.settle_wall)}/{r.settle_unmatched}"
                                      for r in runs])
    row("daemon first->emit mean ms", [f"{_mean(r.result.figures, 'settle_delay_seconds'):.0f}"
                                       for r in runs])
    row("one settle's work mean ms", [f"{_mean(r.result.figures, 'settle_duration_seconds'):.1f}"
                                      for r in runs])
    row("daemon CPU s (storm+settle)", [f"{r.cpu_seconds:.1f}" for r in runs])
    row("peak RSS MB (largest daemon)", [f"{r.peak_rss_bytes / 2**20:.0f}" for r in runs])
    row("storm: mean events/s", [f"{r.storm_mean_rate:,.0f}" for r in runs])
    row("storm: peak events/s", [f"{r.storm_peak_rate:,.0f}" for r in runs])
    row("saturation burst events/s", [f"{r.burst_rate:,.0f}" if r.burst_rate else "-"
                                      for r in runs])
    row("feed events lost unread", [f"{r.feed_dropped}" for r in runs])
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
            n = len(by[name].result.mismatches)
            check(n == 0 or name == "legacy", f"{name}: {n} final-state mismatches"
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
        mode="e2e", events=rep.events, parse_rate=rep.parse_rate,
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
            "simulator_lag_max_s": run.player_lag_max, "failed_scrapes": run.failed_scrapes,
            "series": [{"t": round(t, 2), **{k: f.get(k, 0.0) for k in SERIES}}
                       for t, f in run.series]})
    data["targets"] = _targets(rep)[1:]
    return data
