"""The whole pipeline on real parts: simulator -> pypowervm -> engine -> real nova.

NovaLink is the simulator on loopback, read by the real pypowervm client
(``NovaLinkSource``, ``NovaLinkStateReader``); the engine runs on the
runtime's threads; nova is a real nova cell database (sqlite, nova's own
schema) read through nova.objects by the ``database`` lookup; nova-compute
is played by ``ComputePlayer`` writing real rows; every decision is also
logged and published as a notification; NVRAM goes through pypowervm into
the directory store. An LPAR only converges when the right lifecycle event
reached a real nova row, so a final-state mismatch is a real bug.

Time is compressed: the simulator plays scenarios ``SPEED`` times faster and
the engine's windows are divided by the same factor (``compressed``).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.engine.handler import BaseHandler, EngineConfig, Ports
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import Metrics
from lpar_eventd.nova.compute_player import ComputePlayer
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.lookup import DatabaseLookup
from lpar_eventd.nova.seed import seed_instances, specs_from_scenario
from lpar_eventd.nvram import DirectoryStore, PypowervmNvramFetcher, make_store
from lpar_eventd.runtime import Runtime, make_pool
from lpar_eventd.scale import oracle, scenarios
from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario
from lpar_eventd.scale.virtual import lower_bound
from lpar_eventd.simulator import server as sim_server
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sinks.log import LogSink
from lpar_eventd.sinks.notifier import EVENT_TYPE, NotificationSink
from lpar_eventd.sinks.tee import TeeSink
from lpar_eventd.sources.novalink import (
    NovaLinkSettings, NovaLinkSource, NovaLinkStateReader)

from tests.functional.conftest import PASSWORD, TEST_LONG_POLL, USER
from tests.functional.test_pipeline_memory_nova import compressed

pytestmark = pytest.mark.slow

LOG = logging.getLogger(__name__)

# 10x, not more: nova's sqlite takes one writer at a time (~25 ms a write
# here, under the pipeline's reads); faster, nova-api falls behind the
# scenario and LPARs settle before nova has recorded its own operations.
SPEED = 10.0
LPARS = 50
#: how long the handler must stay idle to call a run settled (> settle window)
QUIET = 1.0


# -- the harness ---------------------------------------------------------------
class CountingReader:
    """The NovaLink state reader, counting reads per LPAR (who settled how often)."""

    def __init__(self, reader: NovaLinkStateReader):
        self._reader = reader
        self._lock = threading.Lock()
        self.reads: Counter[str] = Counter()

    def read_state(self, lpar_uuid: str) -> str:
        with self._lock:
            self.reads[lpar_uuid.upper()] += 1
        return self._reader.read_state(lpar_uuid)

    def list_lpars(self) -> Any:
        return self._reader.list_lpars()


class NovaApi:
    """nova-api and the operations it drives, on a thread of their own.

    The scenario's NovaChange steps arrive on the simulator's event loop;
    writing nova rows there would stall every NovaLink request behind an
    sqlite write (and its busy wait). Changes are applied in order, a few
    milliseconds after their scenario time, as nova would.
    """

    def __init__(self, player: ComputePlayer):
        self._player = player
        self._changes: queue.Queue[NovaChange | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="nova-api", daemon=True)
        self._thread.start()

    def __call__(self, change: NovaChange) -> None:
        self._changes.put(change)

    def _run(self) -> None:
        while (change := self._changes.get()) is not None:
            try:
                self._apply(change)
            except Exception:  # a logged boundary: the mismatch check will tell
                LOG.exception("nova change %s failed", change)
            finally:
                self._changes.task_done()
        self._changes.task_done()

    def _apply(self, change: NovaChange) -> None:
        """sqlite allows one writer: under the pipeline's reads a write can
        find the database locked, and nova's DB layer retries such errors
        (oslo.db's wrap_db_retry); so does the player."""
        if not self._player.apply_change_retried(change):
            raise RuntimeError(f"nova change {change} still failed after retries")

    def drain(self) -> None:
        """Wait until every change handed over so far is in the database."""
        self._changes.join()

    def close(self) -> None:
        self._changes.put(None)
        self._thread.join(10)


@dataclass
class Pipeline:
    """One running daemon-like pipeline and what it talks to."""

    metrics: Metrics
    source: NovaLinkSource
    handler: BaseHandler
    runtime: Runtime
    reader: CountingReader
    player: ComputePlayer
    nova_api: NovaApi
    log: LogSink
    notifier: NotificationSink
    nvram: DirectoryStore

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, **labels)

    def total(self, name: str) -> float:
        return self.metrics.total(name)

    def wait_settled(self, timeout: float = 30.0) -> float:
        """Wait until nothing is pending or running for QUIET seconds; returns
        when it became idle (monotonic)."""
        self.nova_api.drain()
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.handler.idle():
                idle_since = idle_since or now
                if now - idle_since >= QUIET:
                    return idle_since
            else:
                idle_since = None
            time.sleep(0.05)
        pytest.fail(f"pipeline still busy after {timeout}s: "
                    f"{self.value('pending_settles')} pending")

    def figures(self) -> dict[str, float]:
        return {
            "events_received": self.total("events_received_total"),
            "coalesced": self.total("events_coalesced_total"),
            "state_reads": self.total("state_reads_total"),
            "get_instance_calls": self.total("get_instance_calls_total"),
            "lifecycle_events": self.total("lifecycle_events_emitted_total"),
            "decisions": self.decisions(),
            "nvram_stores": self.value("nvram_stores_total", result="ok"),
            "resyncs": self.total("resyncs_total"),
            "retries": self.total("retries_total"),
            "reconnects": self.value("source_reconnects_total"),
            **{"skipped_" + reason: self.value("events_skipped_total", reason=reason)
               for reason in ("unchanged_state", "task_state", "no_transition",
                              "instance_not_found", "lpar_gone")},
        }

    def decisions(self) -> float:
        """Settles that reached a decision about a nova instance."""
        return (self.total("lifecycle_events_emitted_total")
                + self.value("events_skipped_total", reason="no_transition")
                + self.value("events_skipped_total", reason="task_state"))


@contextmanager
def pipeline(port: int, lookup: DatabaseLookup, nova: NovaDatabase, tmp_path: Path,
             transport_url: str = "fake:/") -> Iterator[Pipeline]:
    """Start source, handler and runtime against the simulator on ``port``."""
    metrics = Metrics(CollectorRegistry())
    source = NovaLinkSource(NovaLinkSettings(
        host="127.0.0.1", port=port, protocol="http", username=USER,
        password=PASSWORD, timeout=10.0, backoff_max=2.0), metrics)
    reader = CountingReader(NovaLinkStateReader(source.adapter))
    player = ComputePlayer(nova)
    nova_api = NovaApi(player)
    log = LogSink()
    notifier = NotificationSink(transport_url)
    nvram = make_store("directory", tmp_path / "nvram",
                       PypowervmNvramFetcher(source.adapter))
    assert isinstance(nvram, DirectoryStore)
    pool = make_pool(4)
    handler = make_handler("default", Ports(reader, lookup, TeeSink(player, log, notifier),
                                            nvram),
                           compressed(EngineConfig(), SPEED), metrics, executor=pool)
    runtime = Runtime(handler, source, pool).start()
    try:
        assert source.first_read.wait(10), "no feed read within 10 s"
        yield Pipeline(metrics, source, handler, runtime, reader, player, nova_api,
                       log, notifier, nvram)
    finally:
        runtime.stop(timeout=5)
        nova_api.close()
        notifier.close()


def sim_config(port: int = 0) -> SimConfig:
    return SimConfig(port=port, long_poll=TEST_LONG_POLL, users={USER: PASSWORD})


def mismatches(scenario: Scenario, final_states: dict[str, str],
               player: ComputePlayer) -> list[str]:
    """Managed LPARs whose nova power_state is not what their final state means."""
    return oracle.nova_mismatches(scenario.managed(), final_states, player)


def part_of(scenario: Scenario, start: float, end: float = float("inf")) -> Scenario:
    """The steps in [start, end), shifted to begin at 0."""
    steps = [dataclasses.replace(s, at=round(s.at - start, 3)) for s in scenario.steps
             if start <= s.at < end]
    return dataclasses.replace(scenario, steps=steps)


def nova_at_start(nova_db_path: Path, scenario: Scenario) -> NovaDatabase:
    db = NovaDatabase(sqlite_url(nova_db_path))
    seed_instances(db, specs_from_scenario(scenario))
    return db


# -- a) the deploy storm -------------------------------------------------------------
def test_a_deploy_storm_settles_each_lpar_once_on_a_real_nova(nova_db_path, tmp_path,
                                                               capsys):
    scenario = scenarios.build("deploy-storm", LPARS, 5)
    deployed = scenario.managed()
    bound = lower_bound(scenario)
    nova = nova_at_start(nova_db_path, scenario)
    with Simulator(sim_config()) as sim:
        sim.load(scenario)
        with pipeline(sim.http_port, DatabaseLookup(database=nova), nova, tmp_path) as run:
            started = time.monotonic()
            sim.play(scenario, speed=SPEED, on_nova_change=run.nova_api,
                     load=False).result(timeout=60)
            wall = run.wait_settled() - started
            final = sim.lpars()
            served_nvram = {u: sim.call(lambda u=u: sim.core.host.lpar(u).nvram)
                            for u in deployed}
        figures = run.figures()
        with capsys.disabled():
            print(f"\ndeploy storm of {LPARS} at {SPEED:g}x: {figures}, "
                  f"lower bound {bound}, wall {wall:.1f} s "
                  f"(scenario {scenario.duration:.0f} s)")
        assert mismatches(scenario, final, run.player) == []
        # every deployed LPAR was settled, and settled once per burst: the
        # reads and nova calls stay at the lower bound (real time may split a
        # burst the virtual clock keeps whole: a small allowance)
        assert set(run.reader.reads) == set(deployed)
        assert sum(run.reader.reads.values()) == figures["state_reads"]
        assert bound <= figures["state_reads"] <= bound + 3
        assert figures["decisions"] == figures["state_reads"]
        # the decision that counts, once per LPAR: after its boot, nova (which
        # drove the deploy) already says RUNNING; earlier bursts met task_state
        assert figures["skipped_no_transition"] + figures["lifecycle_events"] == LPARS
        assert figures["skipped_instance_not_found"] == 0
        assert figures["get_instance_calls"] == run.value(
            "get_instance_calls_total", result="hit") == figures["state_reads"]
        assert run.value("admin_context_created_total") == 1
        assert figures["events_received"] == len(scenario.host_events())
        # nova drove every deploy itself: nothing to tell it, nothing wrong
        assert run.notifier.sent == run.log.emitted == figures["lifecycle_events"]
        assert run.value("get_instance_calls_total", result="error") == 0
        # NVRAM: one file per deployed instance, holding the LPAR's latest NVRAM
        for lpar, instance in deployed.items():
            assert run.nvram.read(instance) == served_nvram[lpar].encode("ascii"), lpar
        assert run.nvram.written <= figures["nvram_stores"]
    nova.dispose()


# -- b) NovaLink killed and restarted mid-storm -------------------------------------------
@dataclass
class World:
    """What a restarted NovaLink still knows: the hypervisor's partitions."""

    ms_uuid: str
    lpars: dict[str, Any]
    vios: dict[str, Any]

    @classmethod
    def of(cls, sim: Simulator) -> "World":
        host = sim.core.host  # type: ignore[union-attr]
        return sim.call(lambda: cls(host.ms_uuid, copy.deepcopy(host.lpars),
                                    copy.deepcopy(host.vios)))

    def reborn(self, meanwhile: list[HostEvent], power_off: list[str]
               ) -> Callable[..., SimCore]:
        """A SimCore factory: the world as it is now, plus what the host did
        while its REST server was down (no client hears those events)."""
        def make(config: SimConfig, token_dir: Path) -> SimCore:
            core = SimCore(config, token_dir)
            core.host.ms_uuid = self.ms_uuid
            core.host.lpars.update(copy.deepcopy(self.lpars))
            core.host.vios.update(copy.deepcopy(self.vios))
            for step in meanwhile:
                core.host.apply(step)
            for lpar in power_off:  # an out-of-band power-off, its events lost
                core.host.lpar(lpar).apply("PartitionState", "not activated")
            return core
        return make


def test_b_novalink_killed_and_restarted_mid_storm_loses_nothing(
        nova_db_path, tmp_path, monkeypatch, capsys):
    scenario = scenarios.build("deploy-storm", LPARS, 6)
    cut = scenario.duration * 0.55   # deploys still booting, most done
    down = 1.0                       # wall seconds without NovaLink
    back = cut + down * SPEED        # scenario time when it is back
    nova_steps = [s for s in scenario.steps if isinstance(s, NovaChange)]
    # LPARs whose deploy was over before the kill; a few are powered off
    # from the HMC while NovaLink is down: only a resync can tell nova
    done = [lpar for lpar, inst in scenario.managed().items()
            if max(s.at for s in nova_steps if s.instance == inst) < cut - 1.0]
    power_off = sorted(done)[:5]
    assert len(power_off) == 5
    nova = nova_at_start(nova_db_path, scenario)
    first = Simulator(sim_config()).start()
    port = first.http_port
    second: Simulator | None = None
    try:
        first.load(scenario)
        with pipeline(port, DatabaseLookup(database=nova), nova, tmp_path) as run:
            started = time.monotonic()
            first.play(part_of(scenario, 0.0, cut), speed=SPEED,
                       on_nova_change=run.nova_api,
                       load=False).result(timeout=60)
            world = World.of(first)
            first.stop()                 # the listener goes away mid-storm
            gap = part_of(scenario, cut, back).steps
            for step in gap:             # nova goes on without NovaLink
                if isinstance(step, NovaChange):
                    run.nova_api(step)
            time.sleep(down)
            with monkeypatch.context() as patch:
                patch.setattr(sim_server, "SimCore", world.reborn(
                    [s for s in gap if isinstance(s, HostEvent)], power_off))
                second = Simulator(sim_config(port)).start()
            second.play(part_of(scenario, back), speed=SPEED,
                        on_nova_change=run.nova_api,
                        load=False).result(timeout=60)
            wall = run.wait_settled() - started
            final = second.lpars()
        figures = run.figures()
        with capsys.disabled():
            print(f"\nNovaLink killed for {down:g} s mid-storm: {figures}, "
                  f"wall {wall:.1f} s")
        assert all(final[lpar] == "not activated" for lpar in power_off)
        assert mismatches(scenario, final, run.player) == []
        assert run.value("source_reconnects_total") > 0
        assert run.value("resyncs_total", reason="new_client") >= 2  # start + reconnect
        assert run.value("lifecycle_events_emitted_total", transition="stopped") >= 5
        rows = run.player.instances([scenario.managed()[lpar] for lpar in power_off])
        assert {row.power_state for row in rows.values()} == {power_state.SHUTDOWN}
    finally:
        first.stop()
        if second is not None:
            second.stop()
        nova.dispose()


def test_b_a_pvm_rest_restart_that_drops_sessions_loses_nothing(nova_db_path, tmp_path):
    """The in-place restart: queues cleared (CACHE_CLEARED), tokens invalid.

    pypowervm's Session logs on again by itself on the next 401, so the
    source sees no error and does not reconnect; the CACHE_CLEARED resync is
    what keeps anything from being lost.
    """
    scenario = scenarios.build("deploy-storm", LPARS, 7)
    nova = nova_at_start(nova_db_path, scenario)
    with Simulator(sim_config()) as sim:
        sim.load(scenario)
        with pipeline(sim.http_port, DatabaseLookup(database=nova), nova, tmp_path) as run:
            play = sim.play(scenario, speed=SPEED, on_nova_change=run.nova_api,
                            load=False)
            time.sleep(scenario.duration / SPEED * 0.4)
            sim.restart(drop_sessions=True)
            play.result(timeout=60)
            run.wait_settled()
            final = sim.lpars()
            logons = sim.counters()["logons"]
        assert mismatches(scenario, final, run.player) == []
        assert logons["password"] >= 2          # pypowervm logged on again
        assert run.value("events_received_total", type="cache_cleared") == 1
        assert run.value("resyncs_total", reason="cache_cleared") == 1
    nova.dispose()


# -- c) nova unreachable for a while ---------------------------------------------------
def test_c_nova_unreachable_for_a_while_then_back_every_lpar_converges(
        nova_db_path, tmp_path, caplog, capsys):
    scenario = scenarios.build("mixed", LPARS, 1)
    nova = nova_at_start(nova_db_path, scenario)
    # lpar_eventd reaches nova through a link an outage breaks; nova itself
    # (the player, on the real path) keeps working, as when the network
    # between lpar_eventd and the database fails
    link = tmp_path / "link.sqlite"
    link.symlink_to(nova_db_path)
    reachable = NovaDatabase(sqlite_url(link))
    span = scenario.duration / SPEED
    with Simulator(sim_config()) as sim:
        sim.load(scenario)
        with pipeline(sim.http_port, DatabaseLookup(database=reachable), nova,
                      tmp_path) as run:
            started = time.monotonic()
            play = sim.play(scenario, speed=SPEED, on_nova_change=run.nova_api,
                            load=False)
            time.sleep(span * 0.25)
            link.unlink()
            link.symlink_to(tmp_path / "gone" / "nova.sqlite")
            reachable.dispose()      # pooled connections would still reach the file
            time.sleep(span * 0.45)
            errors_while_down = run.value("get_instance_calls_total", result="error")
            link.unlink()
            link.symlink_to(nova_db_path)
            play.result(timeout=60)
            wall = run.wait_settled() - started
            final = sim.lpars()
        figures = run.figures()
        with capsys.disabled():
            print(f"\nnova unreachable for {span * 0.45:.1f} s of {span:.1f} s: "
                  f"{figures}, wall {wall:.1f} s")
        assert errors_while_down > 0
        assert run.value("retries_total", stage="lookup") > 0
        assert mismatches(scenario, final, run.player) == []
        assert figures["lifecycle_events"] > 0
        warnings = [r.getMessage() for r in caplog.records
                    if "nova database" in r.getMessage()]
        assert warnings and all("\n" not in m for m in warnings)
    reachable.dispose()
    nova.dispose()


# -- the notification sink on a real broker -------------------------------------------
class Listener:
    """An oslo.messaging notification listener: what a consumer of ours sees."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def info(self, ctxt: Any, publisher_id: str, event_type: str,
             payload: dict[str, Any], metadata: Any) -> None:
        if event_type == EVENT_TYPE:
            with self._lock:
                self.payloads.append(payload)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.payloads)


@contextmanager
def listening(url: str) -> Iterator[Listener]:
    import oslo_messaging
    from oslo_config import cfg

    transport = oslo_messaging.get_notification_transport(cfg.ConfigOpts(), url=url)
    endpoint = Listener()
    server = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic="notifications")], [endpoint],
        executor="threading")
    server.start()
    try:
        yield endpoint
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_an_out_of_band_power_off_wave_reaches_consumers_through_rabbitmq(
        rabbitmq, nova_db_path, tmp_path, wait_until):
    scenario = scenarios.build("reboot-wave", 20, 3)  # only its world: 20 running
    nova = nova_at_start(nova_db_path, scenario)
    lpars = sorted(scenario.managed())
    with Simulator(sim_config()) as sim, listening(rabbitmq.url) as consumer:
        sim.load(scenario)
        with pipeline(sim.http_port, DatabaseLookup(database=nova), nova, tmp_path,
                      transport_url=rabbitmq.url) as run:
            run.wait_settled()          # the startup resync: nothing to tell
            for lpar in lpars:          # powered off from the HMC, not by nova
                sim.operate(lpar, "shutdown", speed=SPEED)
            wait_until(lambda: len(consumer.received()) >= len(lpars), timeout=30,
                       message="a notification per powered-off LPAR")
            run.wait_settled()
            final = sim.lpars()
        assert mismatches(scenario, final, run.player) == []
        assert run.value("lifecycle_events_emitted_total", transition="stopped") == len(lpars)
        assert run.notifier.sent == run.log.emitted == len(lpars)
        got = consumer.received()
        assert sorted(p["pvm_uuid"] for p in got) == lpars
        assert {(p["transition"], p["observed_state"]) for p in got} == {
            ("stopped", "not activated")}
        assert {p["instance_uuid"] for p in got} == set(scenario.managed().values())
    nova.dispose()


# -- shutdown while NovaLink hangs --------------------------------------------------------
def test_the_source_stops_within_its_bound_while_a_logon_hangs(wait_until):
    """NovaLink reachable but not answering (a hung pvm-rest, a dropped route):
    SIGTERM must not wait for pypowervm's logon timeout, and the settle
    workers must not queue behind one hanging logon either."""
    with Simulator(sim_config()) as sim:
        sim.inject_fault(kind="slow", count=None, path="/rest/api/web/Logon", delay=15.0)
        source = NovaLinkSource(NovaLinkSettings(
            host="127.0.0.1", port=sim.http_port, protocol="http", username=USER,
            password=PASSWORD, timeout=12.0), Metrics(CollectorRegistry()))
        source.start(lambda batch: None)
        wait_until(lambda: sim.counters().get("faults_fired"), message="a hanging logon")
        reader = NovaLinkStateReader(source.adapter)
        worker = threading.Thread(target=lambda: pytest.raises(Exception, reader.list_lpars),
                                  daemon=True)
        worker.start()                   # a settle worker needs the session too
        started = time.monotonic()
        source.stop(timeout=1.0)
        took = time.monotonic() - started
        sim.clear_faults()
    assert took < 2.0, f"stop took {took:.1f} s"
