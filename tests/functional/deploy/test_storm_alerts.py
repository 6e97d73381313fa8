"""End to end on real servers: a storm on a real Metrics registry, scraped by a
real Prometheus with our rules (durations compressed 60x), routed to a real
Alertmanager and on to a webhook; the dashboard's queries answered; the
report rendered.

Set LPAR_EVENTD_REPORT_DIR to keep the report's PNGs for a look.
"""

from __future__ import annotations

import json
import os
import time
from argparse import Namespace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from lpar_eventd.metrics import Metrics
from lpar_eventd.scale import promreport
from tests.functional.deploy.load import QUIET, STORM, MetricsLoad
from tests.functional.deploy.servers import RegistryExporter, wait_for
from tests.unit.deploy.contract import DASHBOARD_JSON, dashboard_src

STORM_ALERT = "LparEventdEventStorm"


@pytest.fixture
def exporter_and_load():
    metrics = Metrics(CollectorRegistry())
    exporter = RegistryExporter(metrics.registry).start()
    load = MetricsLoad(metrics, QUIET).start()
    yield exporter, load
    load.stop()
    exporter.stop()


def _panel_queries(window: promreport.Window) -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    return [(panel["title"], promreport.substitute(target["expr"], window))
            for panel in dashboard_src().panels(dashboard) for target in panel["targets"]]


@pytest.mark.slow
def test_storm_alert_pending_firing_notified_and_cleared(
        prometheus_factory, compressed_rules, alertmanager, webhook,
        exporter_and_load, tmp_path):
    exporter, load = exporter_and_load
    prom = prometheus_factory([exporter.target], compressed_rules,
                              [alertmanager.address])
    start = time.time()
    wait_for(lambda: prom.query("instance:lpar_eventd_partition_state_events:rate5m"),
             15, "the recording rules to produce data")
    assert prom.alert_state(STORM_ALERT) is None, "no storm yet"

    load.rates = STORM
    seen: list[str | None] = []

    def firing() -> bool:
        seen.append(prom.alert_state(STORM_ALERT))
        return seen[-1] == "firing"

    wait_for(firing, 30, f"{STORM_ALERT} firing")
    assert "pending" in seen, f"never saw the for: hold, states {seen}"
    others = {a["labels"]["alertname"] for a in prom.alerts()} - {STORM_ALERT}
    assert not others, f"quiet alerts went off during a plain storm: {others}"

    # Every panel of the dashboard answers while the storm runs.
    window = promreport.Window(start=start, end=time.time(), scrape_interval=1.0)
    empty = [title for title, expr in _panel_queries(window)
             if not prom.query_range(expr, window.start, window.end)]
    assert not empty, f"dashboard panels without data: {empty}"

    notified = wait_for(lambda: webhook.alerts(STORM_ALERT, "firing"), 20,
                        "the firing notification at the webhook")
    assert notified[0]["labels"]["severity"] == "warning"
    assert notified[0]["annotations"]["runbook_url"].endswith("#lpareventdeventstorm")

    load.rates = QUIET
    wait_for(lambda: prom.alert_state(STORM_ALERT) is None, 30, f"{STORM_ALERT} cleared")
    wait_for(lambda: webhook.alerts(STORM_ALERT, "resolved"), 20,
             "the resolved notification at the webhook")

    out = Path(os.environ.get("LPAR_EVENTD_REPORT_DIR") or tmp_path / "report")
    args = Namespace(prometheus=prom.url, out=out, since=time.time() - start + 5,
                     end=None, instance=".*", scrape_interval=1.0,
                     dashboard=DASHBOARD_JSON)
    assert promreport.run(args) == 0
    assert (out / "index.html").exists()
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 10 and all(p.stat().st_size > 5000 for p in pngs)
