"""Simulator -> real pypowervm -> engine on real threads -> nova (in memory).

The same scenario the virtual-clock benchmark plays, now on a real HTTP feed
with compressed time; nova is nova's rules (``nova_rules.RulesCompute``) with
its driver on the simulator (``get_info`` reads the simulated LPAR, a stop is
the simulator's power call): nova takes no wrong action, ends as its rules
say when told the truth, and nothing stays pending.
"""

from __future__ import annotations

import threading
import time

import pytest
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.engine.handler import EngineConfig, Ports
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.metrics import Metrics
from lpar_eventd.runtime import Runtime, make_pool
from lpar_eventd.scale import scenarios
from lpar_eventd.scale.nova_rules import RulesCompute, nova_power_state
from lpar_eventd.scale.virtual import World
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.sources.novalink import (
    NovaLinkSettings, NovaLinkSource, NovaLinkStateReader)

SPEED = 50.0


class NovaOnSimulator(RulesCompute):
    """nova by its rules, its driver on the simulator."""

    def __init__(self, world: World, sim: Simulator):
        super().__init__(world.compute_host, world.nova.instances, {})
        self.sim = sim

    def _driver_state(self, instance: str) -> int:
        try:
            return nova_power_state(self.sim.lpar_state(self.lpar_of(instance)))
        except KeyError:                       # the LPAR is gone: InstanceNotFound
            return power_state.NOSTATE

    def _power_off(self, instance: str) -> None:
        try:
            self.sim.power(self.lpar_of(instance), "off", speed=SPEED)
        except KeyError:
            pass


def compressed(config: EngineConfig, speed: float) -> EngineConfig:
    """The engine's windows scaled like the simulator's clock."""
    for name in ("settle_seconds", "max_wait_seconds", "nvram_settle_seconds",
                 "retry_base_seconds", "retry_max_seconds", "resync_delay_seconds",
                 "resync_min_interval_seconds", "resync_batch_interval_seconds"):
        setattr(config, name, getattr(config, name) / speed)
    return config


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["default", "reference"])
def test_a_deploy_storm_over_http_converges(policy):
    scenario = scenarios.build("mixed", 40, 11)
    world = World.of(scenario)
    lock = threading.Lock()

    def nova_change(step):
        with lock:
            world.apply(step)

    with Simulator(SimConfig(port=0, long_poll=0.3)) as sim:
        sim.load(scenario)
        metrics = Metrics(CollectorRegistry())
        source = NovaLinkSource(NovaLinkSettings(
            host="127.0.0.1", port=sim.http_port, protocol="http",
            username="hscroot", password="abc123", timeout=10.0), metrics)
        world.sink = NovaOnSimulator(world, sim)
        pool = make_pool(4)
        handler = make_handler(policy, Ports(NovaLinkStateReader(source.adapter),
                                             world.nova, world.sink, world.nvram),
                               compressed(EngineConfig(), SPEED), metrics,
                               executor=pool)
        runtime = Runtime(handler, source, pool).start()
        try:
            assert source.first_read.wait(10)
            sim.play(scenario, speed=SPEED, on_nova_change=nova_change,
                     load=False).result(timeout=120)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.2)
                if handler.idle() and time.monotonic() > deadline - 25:
                    break
            world.host.states = sim.lpars()
        finally:
            runtime.stop(timeout=5)
        view = world.view()                    # nova's last periodic sync: the driver
    assert (view.wrong_nova_actions, view.mismatch) == (0, 0), view.examples
    assert metrics.value("pending_settles") == 0
    # a simulated REST restart (CACHE_CLEARED) may drop what was queued: that
    # is what the resync is for, and convergence above is the real check
    assert metrics.total("events_received_total") >= 0.9 * len(scenario.host_events())
    assert metrics.value("events_received_total", type="new_client") >= 1
    assert metrics.value("events_received_total", type="cache_cleared") == 1
