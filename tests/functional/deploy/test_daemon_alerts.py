"""The real daemon against the simulator, scraped by a real Prometheus with our
rules (durations compressed 60x), alerts routed through a real Alertmanager:
a storm raises LparEventdEventStorm which clears afterwards, a dead NovaLink
raises LparEventdFeedDown, and every dashboard panel's query has data."""

from __future__ import annotations

import json
import socket
import time

import pytest

from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.seed import seed_instances, specs_from_scenario
from lpar_eventd.scale import promreport, scenarios
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.testbed.novaapi import NovaApi
from tests.functional.daemon_proc import Daemon
from tests.functional.deploy.servers import wait_for
from tests.unit.deploy.contract import DASHBOARD_JSON, dashboard_src

SPEED = 4.0  # a storm long enough to hold the (compressed) for: 5 s


def panel_queries(window: promreport.Window) -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    return [(panel["title"], promreport.substitute(target["expr"], window))
            for panel in dashboard_src().panels(dashboard) for target in panel["targets"]]


@pytest.mark.slow
def test_a_real_storm_fires_and_clears_and_a_dead_novalink_is_noticed(
        prometheus_factory, compressed_rules, alertmanager, webhook, tmp_path,
        nova_db_path):
    scenario = scenarios.build("deploy-storm", 250, 8)
    db = NovaDatabase(sqlite_url(nova_db_path))
    seed_instances(db, specs_from_scenario(scenario))
    sim = Simulator(SimConfig(port=0, long_poll=0.5)).start()
    daemon = nova_api = None
    try:
        sim.load(scenario)
        daemon = Daemon(tmp_path, sim.http_port, nova_db_path, stale=3,
                        speed=SPEED).start().healthy()
        prom = prometheus_factory([f"127.0.0.1:{daemon.metrics_port}"], compressed_rules,
                                  [alertmanager.address])
        start = time.time()
        assert prom.alert_state("LparEventdEventStorm") is None

        nova_api = NovaApi(db, socket.gethostname())
        play = sim.play(scenario, speed=SPEED, on_nova_change=nova_api, load=False)
        seen: list[str | None] = []

        def storm_firing() -> bool:
            seen.append(prom.alert_state("LparEventdEventStorm"))
            return seen[-1] == "firing"

        wait_for(storm_firing, 60, "LparEventdEventStorm firing during the storm")
        assert "pending" in seen
        wait_for(lambda: webhook.alerts("LparEventdEventStorm", "firing"), 30,
                 "the storm notification at the webhook")
        play.result(timeout=120)
        daemon.wait_settled(60)

        window = promreport.Window(start=start, end=time.time(), scrape_interval=1.0)
        empty = [title for title, expr in panel_queries(window)
                 if not prom.query_range(expr, window.start, window.end)]
        assert not empty, f"dashboard panels without data on a real daemon: {empty}"

        wait_for(lambda: prom.alert_state("LparEventdEventStorm") is None, 60,
                 "LparEventdEventStorm cleared after the storm")
        assert prom.alert_state("LparEventdFeedDown") is None

        sim.stop()  # NovaLink goes away
        wait_for(lambda: prom.alert_state("LparEventdFeedDown") == "firing", 60,
                 "LparEventdFeedDown firing with NovaLink down")
        wait_for(lambda: webhook.alerts("LparEventdFeedDown", "firing"), 30,
                 "the feed-down notification at the webhook")
    finally:
        if daemon is not None:
            assert daemon.stop() == 0
        sim.stop()
        if nova_api is not None:
            nova_api.close()
        db.dispose()
