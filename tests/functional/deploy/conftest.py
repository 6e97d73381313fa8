"""Fixtures for end-to-end tests of the deploy artefacts on real servers:
Prometheus with our rules (the compressed test variant), Alertmanager with a
webhook receiver, a registry exporter. Reusable with any scrape target:

    def test_x(prometheus_factory, compressed_rules):
        prom = prometheus_factory(targets=["127.0.0.1:9826"], rule_files=compressed_rules)
        prom.wait_for_targets()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.deploy.servers import (
    AlertmanagerServer, PrometheusServer, WebhookReceiver, wait_for)
from tests.debian_tools import require
from tests.unit.deploy.contract import render_rules

# Every duration of thresholds.yaml divided by 60: 5m holds become 5s.
TEST_SCALE = 1 / 60


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require("prometheus", "prometheus")


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return require("prometheus-alertmanager", "prometheus-alertmanager")


@pytest.fixture(scope="session")
def compressed_rules(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Our recording and alert rules rendered from thresholds.yaml with every
    duration divided by 60 (so a ``for: 5m`` storm alert fires after 5 s)."""
    mod = render_rules()
    out = tmp_path_factory.mktemp("rules")
    files = mod.render(mod.load_thresholds(), scale=TEST_SCALE)
    mod.write(out, files)
    return [out / name for name in sorted(files)]


@pytest.fixture
def prometheus_factory(prometheus_binary: str,
                       tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Start Prometheus (1 s scrape and evaluation) on a free loopback port with a
    temporary TSDB; every one started is stopped at teardown."""
    started: list[PrometheusServer] = []

    def start(targets: list[str], rule_files: list[Path] = (),
              alertmanagers: list[str] = (), **kwargs: Any) -> PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        server = PrometheusServer(prometheus_binary, workdir, targets, rule_files,
                                  alertmanagers, **kwargs)
        started.append(server)
        server.start()
        wait_for(server.targets_up, 15, "every scrape target up")
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def alertmanager(alertmanager_binary: str, tmp_path: Path,
                 webhook: WebhookReceiver) -> Iterator[AlertmanagerServer]:
    """Alertmanager routing every alert to ``webhook``."""
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()
    server = AlertmanagerServer(alertmanager_binary, workdir, webhook.url).start()
    yield server
    server.stop()
