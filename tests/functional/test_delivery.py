"""Standalone delivery on real parts: sink -> rabbitmq-server -> receiver -> nova's ComputeManager.

The daemon's side is the real ``nova-compute`` sink (alone, or behind the
engine on real threads reading a real nova database); the broker is a
private rabbitmq-server; nova-compute is a separate process running nova's
own ComputeManager with a driver that starts lpar_eventd's receiver
(``tests/functional/nova_compute.py``), which the tests kill and restart.
Judged by nova: what its database says after nova's own lifecycle handling.
"""

from __future__ import annotations


import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nova.compute import power_state, task_states, vm_states
from oslo_config import cfg
from oslo_utils import timeutils
from prometheus_client import CollectorRegistry

from lpar_eventd.delivery import ComputeReceiver, NovaComputeSink, queue_name
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import EngineConfig, Ports
from lpar_eventd.engine.inmemory import MemoryHost
from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import Metrics
from lpar_eventd.nova.database import NovaDatabase
from lpar_eventd.nova.lookup import DatabaseLookup
from lpar_eventd.nova.seed import InstanceSpec, seed_instances, update_instance
from lpar_eventd.runtime import Runtime, make_pool
from lpar_eventd.simulator.tls import make_test_pki
from lpar_eventd.sinks.base import SinkError
from tests.functional.nova_compute import read_handled, write_states
from tests.delivery_parts import RecordingDriver, messaging_conf

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOST = "sim-host"
RUNNING, SHUTDOWN = power_state.RUNNING, power_state.SHUTDOWN


# -- nova-compute, a process of its own ------------------------------------------
class NovaCompute:
    """``python -m tests.functional.nova_compute``: start, SIGTERM, SIGKILL."""

    def __init__(self, workdir: Path, db: NovaDatabase, transport_url: str,
                 rabbit: str = "amqp_durable_queues = true"):
        workdir.mkdir(parents=True, exist_ok=True)
        self.states, self.handled = workdir / "states.json", workdir / "handled.jsonl"
        self.conf = workdir / "nova.conf"
        self.conf.write_text(
            f"[DEFAULT]\nhost = {HOST}\ntransport_url = {transport_url}\n"
            f"state_path = {workdir}\n[database]\nconnection = {db.connection}\n"
            f"[oslo_concurrency]\nlock_path = {workdir / 'locks'}\n"
            f"[oslo_messaging_rabbit]\n{rabbit}\n")
        self.stderr = workdir / "nova-compute.err"
        self.proc: subprocess.Popen[str] | None = None
        if not self.states.exists():
            write_states(self.states, {})

    def start(self, timeout: float = 60) -> "NovaCompute":
        with open(self.stderr, "a") as err:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "tests.functional.nova_compute", str(self.conf),
                 str(self.states), str(self.handled)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        ready = threading.Event()
        threading.Thread(target=lambda: self._read_ready(ready), daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            pytest.fail(f"nova-compute did not start: {self.stderr.read_text()[-2000:]}")
        return self

    def _read_ready(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        if self.proc.stdout.readline().strip() == "READY":
            ready.set()

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def set_states(self, states: dict[str, int]) -> None:
        write_states(self.states, states)

    def handled_events(self) -> list[dict[str, Any]]:
        return read_handled(self.handled)


@pytest.fixture
def nova_compute(tmp_path: Path) -> Iterator[Callable[..., NovaCompute]]:
    made: list[NovaCompute] = []

    def make(db: NovaDatabase, transport_url: str, **kwargs: Any) -> NovaCompute:
        made.append(NovaCompute(tmp_path / "nova-compute", db, transport_url, **kwargs))
        return made[-1]
    yield make
    for proc in made:
        proc.kill()


# -- nova's side: instances and what nova made of them ----------------------------
def instance(n: int) -> str:
    return f"8e6c1a2b-{n:04d}-4000-8000-{n:012d}"


def seed(db: NovaDatabase, uuids: Sequence[str], power: int) -> None:
    """Instances on HOST as nova-api and the scheduler leave them."""
    seed_instances(db, [InstanceSpec(u, power) for u in uuids])
    for u in uuids:
        update_instance(db, u, host=HOST, launched_at=timeutils.utcnow())


@dataclass(frozen=True)
class Row:
    vm_state: str
    power_state: int
    task_state: str | None
    actions: tuple[str, ...]


def rows(db: NovaDatabase, uuids: Sequence[str]) -> dict[str, Row]:
    from nova import objects
    ctx = db.admin_context()
    out = {}
    for u in uuids:
        inst = objects.Instance.get_by_uuid(ctx, u, expected_attrs=[])
        actions = objects.InstanceActionList.get_by_instance_uuid(ctx, u)
        out[u] = Row(inst.vm_state, inst.power_state, inst.task_state,
                     tuple(sorted(a.action for a in actions)))
    return out


STOPPED_BY_NOVA = Row(vm_states.ACTIVE, SHUTDOWN, task_states.POWERING_OFF, ("stop",))
LEFT_RUNNING = Row(vm_states.ACTIVE, RUNNING, None, ())
FORCE_STOPPED = Row(vm_states.STOPPED, RUNNING, task_states.POWERING_OFF, ("stop",))


def daemon_conf(directory: Path, transport_url: str,
                rabbit: str = "amqp_durable_queues = true") -> cfg.ConfigOpts:
    """The daemon's configuration: [DEFAULT] transport_url and the same
    [oslo_messaging_rabbit] queue options as nova's (they share its exchange)."""
    return messaging_conf(directory, transport_url, rabbit)


def decision(uuid_: str, transition: Transition) -> LifecycleEvent:
    state = "running" if transition is Transition.STARTED else "not activated"
    return LifecycleEvent(uuid_, uuid_.upper(), transition, state, 0.0, 1.0)


def delivered(handled: list[dict[str, Any]]) -> Counter[tuple[str, str, float]]:
    """How often each decision (instance, transition, decided time) reached nova."""
    return Counter((h["uuid"], h["transition"], round(h["decided"], 6)) for h in handled)


# -- the tests ---------------------------------------------------------------------
def test_nova_compute_killed_mid_stream_gets_every_decision_after_restart(
        rabbitmq, nova_db, nova_compute, tmp_path, wait_until):
    """kill -9 of nova-compute while decisions flow: the queue keeps them, the
    restarted nova-compute handles each, nova drops the stale ones itself."""
    off = [instance(n) for n in range(0, 40)]          # powered off out of band
    bounced = [instance(n) for n in range(40, 80)]     # off, then on again: STOPPED is stale
    started = [instance(n) for n in range(80, 100)]    # nova thinks stopped, VM runs
    seed(nova_db, off + bounced, RUNNING)
    seed(nova_db, started, SHUTDOWN)
    compute = nova_compute(nova_db, rabbitmq.url)
    compute.set_states({**{u: SHUTDOWN for u in off}, **{u: RUNNING for u in bounced + started}})
    compute.start()
    plan = ([decision(u, Transition.STOPPED) for u in off + bounced] +
            [decision(u, Transition.STARTED) for u in bounced + started])
    clock = iter(range(1_700_000_000, 1_800_000_000))
    sink = NovaComputeSink(HOST, conf=daemon_conf(tmp_path, rabbitmq.url),
                           wall=lambda: float(next(clock)))
    sent: list[tuple[str, str, float]] = []
    killed_after = 0
    try:
        for i, event in enumerate(plan):
            sink.emit(event)
            sent.append((event.instance_uuid, event.transition.value,
                         float(1_700_000_000 + i)))
            if i == 60:  # mid-stream: wait until nova-compute is busy, then kill it
                wait_until(lambda: len(compute.handled_events()) >= 20, 60, message="20 handled")
                compute.kill()
                killed_after = len(compute.handled_events())
        queued = dict((r[0], int(r[1])) for r in rabbitmq.queues("messages"))
        compute.start()
        wait_until(lambda: set(delivered(compute.handled_events())) >= set(sent), 120,
                   message="every decision handled after the restart")
    finally:
        sink.close()
    assert compute.stop() == 0
    counts = delivered(compute.handled_events())
    duplicates = sum(counts.values()) - len(counts)
    print(f"\nrestart test: {len(sent)} decisions sent, {killed_after} handled before "
          f"kill -9, {queued[queue_name(HOST)]} waiting in the queue while nova-compute "
          f"was down, {len(counts)} distinct handled after the restart, "
          f"{duplicates} duplicates")
    assert set(counts) == set(sent)
    # only what nova-compute had handled but not yet acknowledged comes back twice
    # (oslo.messaging sends acks from its polling thread, up to 5 s later)
    assert duplicates <= killed_after
    # per instance, each decision reached nova in the order it was sent
    order = [(h["uuid"], h["transition"]) for h in compute.handled_events()]
    for u in bounced:
        seen = [t for uu, t in order if uu == u]
        assert seen.index("stopped") < seen.index("started"), (u, seen)
    final = rows(nova_db, off + bounced + started)
    assert {u: final[u] for u in off} == {u: STOPPED_BY_NOVA for u in off}
    assert {u: final[u] for u in bounced} == {u: LEFT_RUNNING for u in bounced}
    assert {u: final[u] for u in started} == {u: FORCE_STOPPED for u in started}


class PushSource:
    """The EventSource port fed by the test (NovaLink's feed is not under test here)."""

    def __init__(self) -> None:
        self._on_batch: Callable[[Sequence[Event]], None] | None = None

    def start(self, on_batch: Callable[[Sequence[Event]], None]) -> None:
        self._on_batch = on_batch

    def stop(self, timeout: float | None = None) -> None:
        self._on_batch = None

    def power_off(self, host: MemoryHost, lpars: Sequence[str]) -> None:
        """LPARs stop out of band: NovaLink's state, then its PartitionState events."""
        assert self._on_batch is not None
        for lpar in lpars:
            host.states[lpar] = "not activated"
        now = time.monotonic()
        self._on_batch([Event.parse("MODIFY_URI", f"https://nl/rest/api/uom/LogicalPartition/"
                                    f"{lpar}", "PartitionState", now) for lpar in lpars])


@dataclass
class Daemon:
    """The daemon's pipeline on real threads: engine -> real nova DB lookup -> sink."""

    host: MemoryHost
    source: PushSource
    metrics: Metrics
    runtime: Runtime
    sink: NovaComputeSink

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def emitted(self) -> float:
        return sum(self.sample("lpar_eventd_lifecycle_events_emitted_total", transition=t.value)
                   for t in Transition)


@pytest.fixture
def daemon(nova_db: NovaDatabase) -> Iterator[Callable[[NovaComputeSink], Daemon]]:
    made: list[Daemon] = []

    def make(sink: NovaComputeSink) -> Daemon:
        host, source = MemoryHost(), PushSource()
        metrics = Metrics(CollectorRegistry())
        pool = make_pool(4)
        config = EngineConfig(settle_seconds=0.2, max_wait_seconds=2.0,
                              retry_base_seconds=0.2, retry_max_seconds=1.0,
                              compute_host=HOST)
        handler = make_handler("default", Ports(host, DatabaseLookup(database=nova_db), sink),
                               config, metrics, executor=pool)
        made.append(Daemon(host, source, metrics, Runtime(handler, source, pool).start(), sink))
        return made[-1]
    yield make
    for d in made:
        d.runtime.stop("cancel", 10)
        d.sink.close()


def test_a_dead_broker_fails_sends_that_are_counted_retried_and_none_lost(
        rabbitmq, nova_db, nova_compute, daemon, tmp_path, caplog, wait_until):
    """Live delivery; nova-compute down (decisions wait in the durable queue);
    the broker killed (sends fail, counted and retried by the engine, the
    queue and its messages survive); all delivered once both are back."""
    groups = [[instance(n) for n in range(k * 15, k * 15 + 15)] for k in range(3)]
    everyone = [u for g in groups for u in g]
    seed(nova_db, everyone, RUNNING)
    compute = nova_compute(nova_db, rabbitmq.url)
    compute.set_states({u: RUNNING for u in everyone})
    compute.start()
    d = daemon(NovaComputeSink(HOST, conf=daemon_conf(tmp_path, rabbitmq.url)))
    d.host.states.update({u.upper(): "running" for u in everyone})

    def power_off(group: list[str]) -> None:
        compute.set_states({**{u: RUNNING for u in everyone},
                            **{u: SHUTDOWN for g in groups[:groups.index(group) + 1]
                               for u in g}})
        d.source.power_off(d.host, [u.upper() for u in group])

    power_off(groups[0])  # live
    wait_until(lambda: {h["uuid"] for h in compute.handled_events()} >= set(groups[0]), 60,
               message="the first group handled live")
    assert compute.stop() == 0
    power_off(groups[1])  # nova-compute down: they wait in the queue
    wait_until(lambda: d.emitted() == 30, 30, message="the second group sent")

    def depth() -> int:
        return dict((r[0], int(r[1])) for r in rabbitmq.queues("messages"))[queue_name(HOST)]
    before_kill = depth()
    rabbitmq.kill()
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        power_off(groups[2])  # broker down: every send fails
        wait_until(lambda: d.sample("lpar_eventd_retries_total", stage="sink") >= 30, 30,
                   message="two failed sends per LPAR")
        time.sleep(1.0)
        failures = d.sample("lpar_eventd_retries_total", stage="sink")
        assert d.emitted() == 30
        rabbitmq.start()
        wait_until(lambda: d.emitted() == 45, 60,
                   message="the third group sent once the broker is back")
    # one line per failed send, naming the LPAR; nothing else from the send path
    # (the settle threads; oslo's heartbeat thread says once that the broker left)
    ours = [r for r in caplog.records
            if r.threadName.startswith("settle") and r.levelno >= logging.WARNING]
    lines = [r.getMessage() for r in ours]
    strays = [line for line in lines if not line.startswith("sink failed for LPAR ")]
    assert lines and not strays and all("\n" not in line for line in lines), strays[:5]
    assert {line.split("LPAR ")[1].split(":")[0] for line in lines} == {
        u.upper() for u in groups[2]}
    print(f"\n  e.g.: {lines[0]}")
    after_restart = depth()  # what survived the kill, and the retried sends
    compute.start()
    wait_until(lambda: {h["uuid"] for h in compute.handled_events()} >= set(everyone), 60,
               message="every decision handled")
    assert compute.stop() == 0
    print(f"\nbroker-kill test: {before_kill} decisions queued at the broker's kill -9, "
          f"{failures:.0f} failed sends counted and retried while it was down, "
          f"{after_restart} queued once it was back, {len(everyone)} of {len(everyone)} "
          f"handled by nova")
    assert (before_kill, after_restart) == (15, 30)
    assert d.sample("lpar_eventd_settle_errors_total") == 0
    assert rows(nova_db, everyone) == {u: STOPPED_BY_NOVA for u in everyone}


def test_tls_heartbeat_and_quorum_queues_come_from_the_standard_options(
        rabbitmq_factory, tls_files, tmp_path):
    """[oslo_messaging_rabbit] as in nova.conf, on both sides: amqps verified
    against the CA, heartbeats, and the host's queue a quorum queue."""
    broker = rabbitmq_factory(tls=tls_files)
    rabbit = (f"ssl = true\nssl_ca_file = {tls_files.ca}\nheartbeat_timeout_threshold = 10\n"
              "rabbit_quorum_queue = true")
    sink = NovaComputeSink("tls-host", conf=daemon_conf(tmp_path / "daemon", broker.tls_url,
                                                        rabbit))
    nova_side = daemon_conf(tmp_path / "nova", broker.tls_url, rabbit)
    driver = RecordingDriver()
    driver.listen()
    receiver = ComputeReceiver.from_conf(driver, nova_side, host="tls-host").start()
    try:
        for n in range(5):
            sink.emit(decision(instance(n), Transition.STOPPED))
        assert [e.uuid for e in driver.wait_for(5, 30)] == [instance(n) for n in range(5)]
        queues = {row[0]: row[1:] for row in broker.queues("type", "durable")}
        connections = broker.ctl("list_connections", "--no-table-headers", "ssl",
                                 "timeout").split()
    finally:
        receiver.stop()
        receiver.wait()
        sink.close()
    assert queues[queue_name("tls-host")] == ["quorum", "true"]
    assert connections and set(connections[0::2]) == {"true"}  # every connection is TLS
    assert set(connections[1::2]) == {"10"}  # the heartbeat both sides asked for


def test_a_broker_certificate_from_another_ca_fails_the_send_in_one_line(
        rabbitmq_factory, tls_files, tmp_path):
    broker = rabbitmq_factory(tls=tls_files)
    other = make_test_pki(tmp_path / "other-pki")
    sink = NovaComputeSink("tls-host", conf=daemon_conf(
        tmp_path, broker.tls_url, f"ssl = true\nssl_ca_file = {other.ca}"))
    try:
        with pytest.raises(SinkError) as err:
            sink.emit(decision(instance(1), Transition.STOPPED))
    finally:
        sink.close()
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value) and "\n" not in str(err.value)


def test_the_daemon_configured_for_nova_compute_delivers_what_it_decides(
        rabbitmq, nova_db_path, tmp_path):
    """The real lpar-eventd process ([sink] driver = log,nova-compute, the
    standard messaging options in its file) against the simulator: an
    out-of-band power-off wave; every decision it logs reaches the receiver,
    and emit_event, once."""
    from lpar_eventd.testbed.procs import total
    from lpar_eventd.nova.seed import specs_from_scenario
    from lpar_eventd.scale import scenarios
    from lpar_eventd.simulator.config import SimConfig
    from lpar_eventd.simulator.server import Simulator
    from tests.functional.daemon_proc import SPEED
    from tests.functional.daemon_proc import Daemon as DaemonProcess
    from tests.functional.nova_compute import TRANSITION_NAMES

    scenario = scenarios.build("mixed", 40, 4)
    specs = specs_from_scenario(scenario)
    db = NovaDatabase(f"sqlite:///{nova_db_path}?timeout=1")
    seed_instances(db, specs, this_host=HOST)
    db.dispose()
    driver = RecordingDriver()
    driver.listen()
    receiver = ComputeReceiver.from_conf(
        driver, daemon_conf(tmp_path / "nova", rabbitmq.url), host=HOST).start()
    sim = Simulator(SimConfig(port=0, long_poll=0.5)).start()
    sim.load(scenario)
    running = [spec.lpar_uuid for spec in specs if spec.power_state == RUNNING
               and sim.lpar_state(spec.lpar_uuid) == "running"][:15]
    daemon = DaemonProcess(tmp_path, sim.http_port, nova_db_path, extra=(
        f"[sink]\ndriver = log,nova-compute\n[nova]\ncompute_host = {HOST}\n"
        f"[DEFAULT]\ntransport_url = {rabbitmq.url}\n"
        "[oslo_messaging_rabbit]\namqp_durable_queues = true\n"))
    try:
        daemon.start().healthy()
        for future in [sim.operate(lpar, "shutdown", SPEED) for lpar in running]:
            future.result(timeout=60)
        daemon.wait_settled()
        emitted = total(daemon.metrics(), "lpar_eventd_lifecycle_events_emitted_total")
        heard = driver.wait_for(int(emitted), 30)
        assert daemon.stop() == 0
    finally:
        daemon.stop()
        receiver.stop()
        receiver.wait()
        sim.stop()
    logged = Counter((line.split("instance=")[1].split()[0],
                      line.split("transition=")[1].split()[0])
                     for line in daemon.log_text().splitlines() if "lifecycle transition=" in line)
    received = Counter((e.uuid, TRANSITION_NAMES[e.transition]) for e in heard)
    assert len(running) == 15 and emitted >= 15
    assert received == logged and sum(received.values()) == emitted
    assert {(spec.uuid, "stopped") for spec in specs if spec.lpar_uuid in running} <= set(received)
