"""The whole pipeline on real parts: simulator -> pypowervm -> engine -> nova.

One host stack per test (``testbed.hoststack``): NovaLink is the simulator on
loopback; nova is nova's own nova-compute for the host (its ComputeManager,
the simulated host's driver reading LPARs through pypowervm) on a real nova
cell database (sqlite, nova's own schema), with the engine embedded in it as
a PowerVM driver runs it; nova-api's side of each scenario is written through
nova objects; NVRAM goes through pypowervm into the directory store. Every
decision reaches nova's own lifecycle handling, and nova's whole view is
judged at the end (``nova_judge``): no action the scenario's truth did not
call for, no (vm_state, power_state) other than nova's own rules give when
told the truth.

Time is compressed: the simulator plays scenarios ``SPEED`` times faster and
the engine's windows are divided by the same factor.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from lpar_eventd.metrics import Metrics
from lpar_eventd.nvram import DirectoryStore
from lpar_eventd.scale import scenarios
from lpar_eventd.scale.faults import NovaDbFaults
from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario
from lpar_eventd.scale.virtual import lower_bound
from lpar_eventd.simulator import server as sim_server
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sinks.notifier import EVENT_TYPE
from lpar_eventd.sources.novalink import (
    NovaLinkSettings, NovaLinkSource, NovaLinkStateReader)
from lpar_eventd.testbed.procs import total

from tests.functional.conftest import PASSWORD, TEST_LONG_POLL, USER

pytestmark = pytest.mark.slow

LOG = logging.getLogger(__name__)

SPEED = 10.0
LPARS = 50


def run_storm(stack: Any, timeout: float = 120.0) -> dict[str, float]:
    """Play the stack's scenario, let it settle; the engine's figures."""
    stack.wait_quiet(timeout=30)                # the start-up resync
    stack.play().result(timeout=timeout)
    return settle(stack)


def settle(stack: Any) -> dict[str, float]:
    stack.finish_changes()
    stack.wait_delivered()
    assert stack.wait_quiet(timeout=60, still_for=60.0 / SPEED + 1.5)
    return stack.scrape()


def clean(view: Any) -> tuple[int, int, int]:
    return view.wrong_nova_actions, view.missed_nova_actions, view.mismatch


def figure(samples: dict[str, float], name: str, **labels: str) -> float:
    if not labels:
        return total(samples, "lpar_eventd_" + name)
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return samples.get(f"lpar_eventd_{name}{{{inner}}}", 0.0)


# -- a) the deploy storm -------------------------------------------------------------
def test_a_deploy_storm_settles_each_lpar_once_on_a_real_nova(host_stack, capsys):
    scenario = scenarios.build("deploy-storm", LPARS, 5)
    deployed = scenario.managed()
    bound = lower_bound(scenario)
    stack = host_stack(scenario, speed=SPEED)
    started = time.monotonic()
    samples = run_storm(stack)
    wall = time.monotonic() - started
    served_nvram = {u: stack.sim.call(lambda u=u: stack.sim.core.host.lpar(u).nvram)
                    for u in deployed}
    view = stack.nova_view()
    with capsys.disabled():
        print(f"\ndeploy storm of {LPARS} at {SPEED:g}x: reads "
              f"{figure(samples, 'state_reads_total'):.0f}, get_instance "
              f"{figure(samples, 'get_instance_calls_total'):.0f}, lower bound {bound}, "
              f"wall {wall:.1f} s; nova: {view.figures()}")
    assert clean(view) == (0, 0, 0), view.examples
    assert (view.nova_stop_calls, view.nova_force_stop_calls, view.residual) == (0, 0, 0)
    reads = figure(samples, "state_reads_total")
    # every deployed LPAR settled once per burst: reads and nova calls stay at
    # the lower bound (real time may split a burst the virtual clock keeps whole)
    assert bound <= reads <= bound + 3
    decided = (figure(samples, "lifecycle_events_emitted_total")
               + figure(samples, "events_skipped_total", reason="no_transition")
               + figure(samples, "events_skipped_total", reason="task_state"))
    assert decided == reads
    assert figure(samples, "get_instance_calls_total") == figure(
        samples, "get_instance_calls_total", result="hit") == reads
    assert figure(samples, "events_skipped_total", reason="instance_not_found") == 0
    assert figure(samples, "admin_context_created_total") == 1
    assert figure(samples, "events_received_total") == len(scenario.host_events())
    # NVRAM: one file per deployed instance, holding the LPAR's latest NVRAM
    store = DirectoryStore(stack.workdir / "nvram", fetch=None)
    for lpar, instance in deployed.items():
        assert store.read(instance) == served_nvram[lpar].encode("ascii"), lpar


# -- b) NovaLink killed and restarted mid-storm ------------------------------------------
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

    def reborn(self, meanwhile: list[HostEvent]) -> Callable[..., SimCore]:
        """A SimCore factory: the world as it is now, plus what the host did
        while its REST server was down (no client hears those events)."""
        def make(config: SimConfig, token_dir: Path) -> SimCore:
            core = SimCore(config, token_dir)
            core.host.ms_uuid = self.ms_uuid
            core.host.lpars.update(copy.deepcopy(self.lpars))
            core.host.vios.update(copy.deepcopy(self.vios))
            for step in meanwhile:
                core.host.apply(step)
            return core
        return make


def part_of(scenario: Scenario, start: float, end: float = float("inf")) -> Scenario:
    """The steps in [start, end), shifted to begin at 0."""
    steps = [dataclasses.replace(s, at=round(s.at - start, 3)) for s in scenario.steps
             if start <= s.at < end]
    return dataclasses.replace(scenario, steps=steps)


def test_b_novalink_killed_and_restarted_mid_storm_loses_nothing(host_stack, monkeypatch,
                                                                  capsys):
    scenario = scenarios.build("deploy-storm", LPARS, 6)
    cut = scenario.duration * 0.55   # deploys still booting, most done
    down = 1.0                       # wall seconds without NovaLink
    back = cut + down * SPEED        # scenario time when it is back
    nova_steps = [s for s in scenario.steps if isinstance(s, NovaChange)]
    # LPARs whose deploy was over before the kill; a few are shut down from
    # inside while NovaLink is down: only a resync can tell nova
    done = [lpar for lpar, inst in scenario.managed().items()
            if max(s.at for s in nova_steps if s.instance == inst) < cut - 1.0]
    power_off = sorted(done)[:5]
    assert len(power_off) == 5
    scenario.steps = sorted(scenario.steps + [
        HostEvent(cut + 0.5, "MODIFY_URI", scenarios.lpar_path(scenario.ms_uuid, lpar),
                  "PartitionState,Other", lpar, "not activated") for lpar in power_off],
        key=lambda s: s.at)
    stack = host_stack(scenario, speed=SPEED)
    stack.wait_quiet(timeout=30)
    first, port = stack.sim, stack.sim.http_port
    started = time.monotonic()
    first.play(part_of(scenario, 0.0, cut), speed=SPEED, on_nova_change=stack.nova_api,
               load=False).result(timeout=60)
    world = World.of(first)
    first.stop()                     # the listener goes away mid-storm
    gap = part_of(scenario, cut, back).steps
    for step in gap:                 # nova goes on without NovaLink
        if isinstance(step, NovaChange):
            stack.nova_api(step)
    time.sleep(down)
    with monkeypatch.context() as patch:
        patch.setattr(sim_server, "SimCore", world.reborn(
            [s for s in gap if isinstance(s, HostEvent)]))
        stack.sim = Simulator(SimConfig(port=port, long_poll=1.0, speed=SPEED)).start()
    stack.sim.play(part_of(scenario, back), speed=SPEED, on_nova_change=stack.nova_api,
                   load=False).result(timeout=60)
    samples = settle(stack)
    view = stack.nova_view()
    final = stack.sim.lpars()
    with capsys.disabled():
        print(f"\nNovaLink killed for {down:g} s mid-storm: wall "
              f"{time.monotonic() - started:.1f} s; nova: {view.figures()}")
    assert all(final[lpar] == "not activated" for lpar in power_off)
    assert clean(view) == (0, 0, 0), view.examples
    assert view.nova_stop_calls == len(power_off)          # nova heard each halt
    assert figure(samples, "source_reconnects_total") > 0
    assert figure(samples, "resyncs_total", reason="new_client") >= 2  # start + reconnect


def test_b_a_pvm_rest_restart_that_drops_sessions_loses_nothing(host_stack):
    """The in-place restart: queues cleared (CACHE_CLEARED), tokens invalid.

    pypowervm's Session logs on again by itself on the next 401, so the
    source sees no error and does not reconnect; the CACHE_CLEARED resync is
    what keeps anything from being lost.
    """
    scenario = scenarios.build("deploy-storm", LPARS, 7)
    stack = host_stack(scenario, speed=SPEED)
    stack.wait_quiet(timeout=30)
    play = stack.play()
    time.sleep(scenario.duration / SPEED * 0.4)
    stack.sim.restart(drop_sessions=True)
    play.result(timeout=60)
    samples = settle(stack)
    logons = stack.sim.counters()["logons"]
    assert clean(stack.nova_view()) == (0, 0, 0)
    assert logons["password"] >= 2     # the driver's one session, logged on again
    assert figure(samples, "events_received_total", type="cache_cleared") == 1
    assert figure(samples, "resyncs_total", reason="cache_cleared") == 1


# -- c) nova unreachable for a while ---------------------------------------------------
def test_c_nova_unreachable_for_a_while_then_back_every_lpar_converges(host_stack, capsys):
    """nova-compute loses its database (its conductor, in production) for a
    while: the engine's lookups fail, are counted and retried; once it is
    back, nova ends as its own rules say."""
    scenario = scenarios.build("mixed", LPARS, 1)
    stack = host_stack(scenario, speed=SPEED, nova_link=True)
    faults = NovaDbFaults(stack.db_path, stack.nova_path)
    span = scenario.duration / SPEED
    stack.wait_quiet(timeout=30)
    play = stack.play()
    time.sleep(span * 0.25)
    faults.unavailable(span * 0.45)
    play.result(timeout=60)
    samples = settle(stack)
    view = stack.nova_view()
    with capsys.disabled():
        print(f"\nnova unreachable for {span * 0.45:.1f} s of {span:.1f} s: "
              f"nova: {view.figures()}")
    assert figure(samples, "get_instance_calls_total", result="error") > 0
    assert figure(samples, "retries_total", stage="lookup") > 0
    assert clean(view) == (0, 0, 0), view.examples
    assert figure(samples, "lifecycle_events_emitted_total") > 0
    warnings = [line for line in stack.engine.log_text().splitlines()
                if "lookup failed for LPAR" in line]
    assert warnings and all("unable to open database file" in line for line in warnings)


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


def test_an_out_of_band_power_off_wave_reaches_nova_and_rabbitmq_consumers(
        rabbitmq, host_stack, wait_until):
    scenario = scenarios.build("reboot-wave", 20, 3)  # only its world: 20 running
    lpars = sorted(scenario.managed())
    b = scenarios.HostBuilder.for_host(scenario.ms_uuid, 4, "wave")
    for i, lpar in enumerate(lpars):                   # shut down from inside
        b.shutdown(1.0 + 0.2 * i, lpar)
    scenario.steps = b.finish().steps
    with listening(rabbitmq.url) as consumer:
        stack = host_stack(scenario, speed=SPEED, sinks="log,notification",
                           engine_options={"sink.transport_url": rabbitmq.url})
        run_storm(stack)
        wait_until(lambda: len(consumer.received()) >= len(lpars), timeout=30,
                   message="a notification per powered-off LPAR")
        view = stack.nova_view()
    assert clean(view) == (0, 0, 0), view.examples
    assert view.nova_stop_calls == len(lpars)               # nova stopped each
    got = consumer.received()
    assert sorted(p["pvm_uuid"] for p in got) == lpars
    assert {(p["transition"], p["observed_state"]) for p in got} == {
        ("stopped", "not activated")}
    assert {p["instance_uuid"] for p in got} == set(scenario.managed().values())


# -- shutdown while NovaLink hangs --------------------------------------------------------
def sim_config(port: int = 0) -> SimConfig:
    return SimConfig(port=port, long_poll=TEST_LONG_POLL, users={USER: PASSWORD})


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
