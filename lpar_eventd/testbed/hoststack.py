"""One NovaLink host on loopback, built once for every campaign and test.

A ``HostStack`` is what one PowerVM host is in the test bed:

* nova's cell database: a copy of one template built by nova's own schema
  code (``build_template``: db_sync once per campaign, WAL journal), seeded
  with the scenario's instances by the nova-api writer (``novaapi.NovaApi``),
  which also writes the scenario's NovaChange steps at their time;
* the NovaLink simulator (in the harness's process, its own thread), holding
  the scenario's LPARs and playing its host events at ``speed``;
* nova-compute for the host (``compute.py``, its own process): nova's
  ComputeManager with the simulated host's driver;
* the engine, either **embedded** in that nova-compute (``lpar_eventd.embed``
  from the driver's ``init_host``: the campaigns' default) or **standalone**
  (``mode="standalone"``, ``transport_url`` a RabbitMQ: the ``lpar-eventd``
  daemon process, its ``nova-compute`` sink, the broker, the receiver the
  driver starts through ``embed.receive``, nova's ``emit_event``; nova's own
  compute RPC then goes over that broker too); either way with an
  lpar-eventd.conf whose windows are divided by ``speed`` and /metrics on a
  free port.

Then: ``healthy`` (nova-compute up, the engine's /healthz 200), ``scrape``,
``play``, ``finish_changes``, ``wait_delivered``, ``wait_quiet`` (the one
wait loop), ``nova_view`` (judge nova's whole view: what nova did against the
scenario's truth, and what one last periodic sync still changes), ``stop``.

    template = build_template(work / "nova-template.sqlite")
    with HostStack(build("mixed", 60, 1), work / "host-0", template,
                   HostOptions(policy="default", speed=10)) as host:
        host.healthy()
        host.play().result()
        host.finish_changes(); host.wait_delivered()
        wait_quiet([host.scrape], timeout=30)
        view = host.nova_view()
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpar_eventd.scale.nova_judge import NovaView, judge, tell_the_truth
from lpar_eventd.scale.scenarios import Scenario
from lpar_eventd.testbed.procs import (
    ComputeProcess, DaemonProcess, free_port, override_options, total, wait_quiet,
    write_engine_config)

__all__ = ["HostOptions", "HostStack", "build_template", "scratch_dir", "wait_quiet",
           "MODES"]

LOG = logging.getLogger(__name__)

MODES = ("embedded", "standalone", "none")


@dataclass
class HostOptions:
    """How one host stack runs."""

    policy: str = "default"
    speed: float = 10.0
    mode: str = "embedded"          # embedded | standalone | none (no engine at all)
    host: str | None = None         # nova-compute's host name; default simhost-<index>
    long_poll: float = 1.0          # the simulator's long-poll wait
    max_queue: int | None = None    # per-client feed queue; default: room for it all
    extra_events: int = 0           # events pushed besides the scenario's (bursts)
    busy_timeout: float = 15.0      # sqlite: how long a writer waits for the lock
    sinks: str = "log"              # further sinks (after the driver's, embedded)
    engine_options: dict[str, str] = field(default_factory=dict)  # "group.opt": value
    nvram: bool = True              # the directory NVRAM store
    nova_link: bool = False         # nova-compute reaches its database via a symlink
    feed_stale: float = 30.0
    debug: bool = False             # nova-compute's log at DEBUG
    transport_url: str | None = None  # nova's bus (RabbitMQ): standalone mode needs it


SHM = "/dev/shm"  # noqa: S108 - parent of mkdtemp only  # nosec B108


def scratch_dir(prefix: str) -> Path:
    """A new working directory for host stacks, on tmpfs when there is one:
    nova's sqlite fsyncs are not what a run measures, and on a disk they
    slow nova-api's writes enough to land nova's own operations late."""
    import tempfile
    shm = SHM if Path(SHM).is_dir() else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=shm))


def build_template(path: Path, wal: bool = True) -> float:
    """nova's schema (db_sync) into an sqlite file, once; returns seconds taken.

    WAL journal (kept in the file, so every copy has it): nova-compute's
    writes and the harness's nova-api writes then wait for each other far
    less, closer to nova's row-locking MySQL than sqlite's whole-file lock.
    """
    from lpar_eventd.nova.database import build_sqlite
    started = time.perf_counter()
    build_sqlite(path).dispose()
    if wal:
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    return time.perf_counter() - started


class HostStack:
    """Simulator + nova database + nova-compute (+ engine) of one host."""

    def __init__(self, scenario: Scenario, workdir: Path, template: Path,
                 opts: HostOptions | None = None, index: int = 0):
        opts = opts or HostOptions()
        if opts.mode not in MODES:
            raise ValueError(f"mode {opts.mode!r}: choose from {', '.join(MODES)}")
        if opts.mode == "standalone" and not opts.transport_url:
            raise ValueError("standalone mode delivers over nova's bus: give "
                             "transport_url (a RabbitMQ, e.g. scale.broker.RabbitServer)")
        self.scenario = scenario
        self.workdir = workdir
        self.template = template
        self.opts = opts
        self.index = index
        self.host = opts.host or f"simhost-{index}"
        self.sim: Any = None
        self.db: Any = None
        self.nova_api: Any = None
        self.compute: ComputeProcess | None = None
        self.daemon: DaemonProcess | None = None
        self.db_path = workdir / "nova.sqlite"
        self.nova_path = workdir / "nova-link.sqlite" if opts.nova_link else self.db_path
        self.engine_conf = workdir / "lpar-eventd.conf"
        self.play_started = 0.0
        self.lag_max = 0.0
        self.peak_rss = 0.0
        self.latest: dict[str, float] = {}

    # -- start ----------------------------------------------------------------------
    def start(self) -> "HostStack":
        """Database, simulator, nova-compute (and the daemon): started, not yet
        waited for (``healthy``); everything started is stopped by ``stop``."""
        from lpar_eventd.nova.database import NovaDatabase, sqlite_url
        from lpar_eventd.simulator.config import SimConfig
        from lpar_eventd.simulator.server import Simulator
        from lpar_eventd.testbed.novaapi import NovaApi

        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.template, self.db_path)
        if self.opts.nova_link and not self.nova_path.exists():
            self.nova_path.symlink_to(self.db_path)
        self.db = NovaDatabase(sqlite_url(self.db_path, busy_timeout=self.opts.busy_timeout))
        self.nova_api = NovaApi(self.db, self.host)
        self.nova_api.seed(self.scenario)
        events = len(self.scenario.host_events()) + self.opts.extra_events
        self.sim = Simulator(SimConfig(
            port=0, long_poll=self.opts.long_poll, speed=self.opts.speed,
            max_queue=self.opts.max_queue or events + 10_000)).start()
        self.sim.load(self.scenario)
        metrics_port = free_port()
        self._write_engine_config(metrics_port)
        compute_conf = self.workdir / "nova-compute.conf"
        self._write_compute_config(compute_conf)
        engine_in_compute = self.opts.mode == "embedded"
        self.compute = ComputeProcess(compute_conf, self.workdir / "nova-compute.log",
                                      metrics_port if engine_in_compute else None,
                                      self.workdir / "witness.jsonl")
        if self.opts.mode == "standalone":
            self.daemon = DaemonProcess(self.engine_conf, self.workdir / "lpar-eventd.log",
                                        metrics_port)
            self.daemon.start()
        self.compute.start()
        return self

    def _write_engine_config(self, metrics_port: int) -> None:
        from lpar_eventd.nova.database import sqlite_url
        opts = self.opts
        extra = ""
        if opts.nvram:
            extra += f"\n[nvram]\nstore = directory\npath = {self.workdir / 'nvram'}\n"
        standalone = opts.mode == "standalone"
        sinks = f"{opts.sinks},nova-compute" if standalone else opts.sinks
        write_engine_config(self.engine_conf, metrics_port=metrics_port, speed=opts.speed,
                            policy_name=opts.policy, sinks=sinks,
                            sim_port=self.sim.http_port,
                            nova_url=sqlite_url(self.nova_path,
                                                busy_timeout=opts.busy_timeout),
                            extra=extra, feed_stale=opts.feed_stale,
                            compute_host=self.host,
                            transport_url=opts.transport_url if standalone else None)
        if opts.engine_options:
            override_options(self.engine_conf, opts.engine_options)

    def _write_compute_config(self, path: Path) -> None:
        from lpar_eventd.nova.database import sqlite_url
        # nova's own bus: in process (fake://) unless the daemon delivers over
        # RabbitMQ, which then carries nova's compute RPC too
        bus = self.opts.transport_url if self.opts.mode == "standalone" else "fake:/"
        path.write_text(f"""[DEFAULT]
host = {self.host}
transport_url = {bus}
debug = {str(self.opts.debug).lower()}

[database]
connection = {sqlite_url(self.nova_path, busy_timeout=self.opts.busy_timeout)}

[oslo_concurrency]
lock_path = {self.workdir / 'locks'}

[simhost]
port = {self.sim.http_port}
speed = {self.opts.speed:g}
engine = {self.opts.mode}
engine_config = {self.engine_conf}
witness_journal = {self.workdir / 'witness.jsonl'}
""", encoding="utf-8")

    def healthy(self, timeout: float = 90.0) -> "HostStack":
        """Until nova-compute is up and the engine reads the feed."""
        assert self.compute is not None
        if self.daemon is not None:
            self.daemon.healthy(timeout)
        self.compute.healthy(timeout)
        return self

    # -- watching ------------------------------------------------------------------------
    @property
    def engine(self) -> ComputeProcess | DaemonProcess:
        """The process the engine runs in (restarted by chaos' SIGTERM/SIGKILL)."""
        proc = self.daemon or self.compute
        assert proc is not None
        return proc

    @property
    def engine_log(self) -> Path:
        """Where the engine's log sink writes its lifecycle lines."""
        return self.engine.log

    def scrape(self) -> dict[str, float]:
        """The engine's /metrics (and the largest RSS seen)."""
        samples = self.engine.scrape()
        self.latest = samples
        self.peak_rss = max(self.peak_rss, samples.get("process_resident_memory_bytes", 0.0))
        return samples

    def feed_counts(self) -> tuple[int, int, int]:
        """(events sent to the engine, dropped by the simulator, still queued).

        Dropped: the scenario's CACHE_CLEARED is a NovaLink REST restart,
        which throws away what a client had not read yet.
        """
        counters = self.sim.counters()
        queued = sum(self.sim.status().get("queue_depths", {}).values())
        return (int(sum(counters.get("events_sent", {}).values())),
                int(counters.get("events_dropped", 0)), int(queued))

    def backlog(self) -> int:
        """Events NovaLink holds for the engine, unread: the smallest queue (a
        session the engine logged off leaves its queue behind, never read)."""
        return min(self.sim.status()["queue_depths"].values(), default=0)

    # -- the storm -----------------------------------------------------------------------
    def play(self) -> Any:
        """Start the scenario; its NovaChange steps go to nova-api at their time,
        and an LPAR's host events wait for its instance's nova write before
        them (``NovaApi.pending``). Returns the play's future."""
        speed = self.opts.speed

        def on_change(step: Any) -> None:
            lag = time.time() - (self.play_started + step.at / speed)
            self.lag_max = max(self.lag_max, lag)
            self.nova_api(step)

        managed = self.scenario.managed()

        def gate(step: Any) -> Any:
            instance = managed.get(step.lpar) if step.lpar else None
            return self.nova_api.pending(instance) if instance else None

        self.play_started = time.time()
        return self.sim.play(self.scenario, speed=speed, on_nova_change=on_change,
                             load=False, gate=gate)

    def finish_changes(self, timeout: float = 120.0) -> None:
        """Until every NovaChange handed to nova-api so far is written."""
        if self.nova_api is not None and not self.nova_api.drain(timeout):
            LOG.warning("host %s: nova-api changes still pending after %.0f s",
                        self.host, timeout)

    def wait_delivered(self, timeout: float = 180.0) -> bool:
        """Until the engine has read its whole feed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.feed_counts()[2] == 0:
                return True
            time.sleep(0.2)
        LOG.warning("host %s: engine still behind the feed after %.0f s", self.host,
                    timeout)
        return False

    def wait_quiet(self, timeout: float, quiet: float = 1.5,
                   still_for: float | None = None) -> bool:
        return wait_quiet([self.scrape], timeout, quiet, still_for)

    # -- judging ----------------------------------------------------------------------------
    def rows(self) -> dict[str, tuple[str, int]]:
        """(vm_state, power_state) of every live instance."""
        return {u: (r.vm_state, r.power_state) for u, r in self.nova_api.rows().items()}

    def wait_nova_quiet(self, timeout: float = 20.0) -> bool:
        """Until nova has every decision the engine made (standalone: they
        travel through the broker) and finished the stops it started: every
        stop it asked for reached the driver (the stop is a cast, run after
        the handling that asked for it) and no instance is still powering off
        (the stop saves its result after the power-off). False after
        ``timeout``: a stop nova never finishes (its database gone meanwhile)
        stays so."""
        assert self.compute is not None
        from nova.compute import task_states
        deadline = time.monotonic() + timeout
        while True:
            done = self.compute.wait_nova_quiet(max(0.1, deadline - time.monotonic()))
            emitted = total(self.scrape(), "lpar_eventd_lifecycle_events_emitted_total")
            handed = len(self.compute.witness()["events"])
            busy = any(r.task_state == task_states.POWERING_OFF
                       for r in self.nova_api.rows().values())
            if done and handed >= emitted and not busy:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def nova_view(self, residual: bool = True) -> NovaView:
        """Judge nova's whole view of this host after a run (see nova_judge).

        Counted from what nova did (the witness in nova-compute: its power
        calls, the events it dropped as stale) and nova's rows; the truth is
        the scenario through nova's rules. An instance where nova itself
        failed (an event it could not handle, a stop its API refused with an
        error, one of its operations left unfinished) is ``nova_failed``.
        With ``residual``, nova's periodic ``_sync_power_states`` then runs
        once and what it changes is counted.
        """
        assert self.compute is not None
        if not self.wait_nova_quiet():
            LOG.warning("host %s: stops nova started did not all finish", self.host)
        witness = self.compute.witness()
        actions = [(c["instance"], c["kind"]) for c in witness["calls"]
                   if c["kind"] in ("stop", "force_stop")]
        stale = sum(1 for e in witness["events"] if e["outcome"] == "stale")
        rows = self.nova_api.rows()
        final = {u: (r.vm_state, r.power_state) for u, r in rows.items()}
        failed = {u for u, r in rows.items() if r.task_state is not None}
        failed |= {e["instance"] for e in witness["events"]
                   if e["outcome"] == "dispatch_failed" or "stop_failed" in e["said"]}
        changed = 0
        if residual:
            self.compute.sync_power_states()
            self.wait_nova_quiet()
            after = self.rows()
            changed = sum(1 for u, row in final.items() if after.get(u, row) != row)
        return judge(tell_the_truth(self.scenario, self.host), actions, final, stale,
                     changed, failed)

    def witness(self) -> dict[str, Any]:
        assert self.compute is not None
        return self.compute.witness()

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop what this host started; safe on a half-started host."""
        if self.nova_api is not None:
            self.nova_api.close()
        for proc in (self.daemon, self.compute):
            if proc is not None:
                proc.stop()
        if self.sim is not None:
            self.sim.stop()
        if self.db is not None:
            self.db.dispose()

    def __enter__(self) -> "HostStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
