"""Real Prometheus and Alertmanager processes on loopback, and the two small
HTTP servers the tests put in front of them (a metrics exporter, a webhook
receiver).

Why real servers: rule files, recording-rule chains, ``for:`` holds, alert
routing and the dashboard's PromQL are only proven by the programs that run
them in production. Each server takes any scrape target URL, so the same
wrappers serve the daemon end-to-end test.

    prom = PrometheusServer(binary, workdir, targets=["127.0.0.1:9826"],
                            rule_files=[...]).start()
    prom.wait_for(lambda: prom.alert_state("LparEventdEventStorm") == "firing")
    prom.stop()
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import yaml
from prometheus_client import CollectorRegistry, make_wsgi_app

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free now on loopback (the servers we start cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def http_json(url: str, data: bytes | None = None, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
        return json.load(resp)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.2) -> Any:
    """Poll until truthy; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class _Process:
    """A server binary with a readiness URL, its log kept for failures."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name, self.workdir = name, workdir
        self.process: subprocess.Popen | None = None

    def _spawn(self, argv: Sequence[str], ready_url: str, timeout: float = 30.0) -> None:
        log = open(self.workdir / f"{self.name}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir)
        log.close()

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log()[-2000:]}")
            with urllib.request.urlopen(ready_url, timeout=2) as resp:  # noqa: S310
                return resp.status == 200

        wait_for(ready, timeout, f"{self.name} ready at {ready_url}")

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class PrometheusServer(_Process):
    """/usr/bin/prometheus scraping ``targets`` with ``rule_files``, sending
    alerts to ``alertmanagers`` (host:port), with a fresh TSDB in ``workdir``."""

    def __init__(self, binary: str, workdir: Path, targets: Sequence[str],
                 rule_files: Sequence[Path] = (), alertmanagers: Sequence[str] = (),
                 job: str = "lpar-eventd", scrape_interval: str = "1s",
                 evaluation_interval: str = "1s") -> None:
        super().__init__("prometheus", workdir)
        self.binary, self.targets = binary, list(targets)
        self.rule_files, self.alertmanagers = list(rule_files), list(alertmanagers)
        self.job, self.scrape_interval = job, scrape_interval
        self.evaluation_interval = evaluation_interval
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {"scrape_interval": self.scrape_interval,
                       "evaluation_interval": self.evaluation_interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [{"job_name": self.job,
                                "static_configs": [{"targets": self.targets}]}],
        }
        if self.alertmanagers:
            config["alerting"] = {"alertmanagers": [
                {"static_configs": [{"targets": self.alertmanagers}]}]}
        return config

    def start(self) -> PrometheusServer:
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()), encoding="utf-8")
        self.port = free_port()
        self._spawn([self.binary, f"--config.file={config}",
                     f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                     f"--web.listen-address={LOOPBACK}:{self.port}",
                     "--log.level=warn"], f"{self.url}/-/ready")
        return self

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        body = http_json(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float,
                    step: float = 1.0) -> list[dict[str, Any]]:
        return self.api("query_range", query=expr, start=f"{start:.3f}",
                        end=f"{end:.3f}", step=f"{step:g}")["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def alert_state(self, name: str) -> str | None:
        """"pending", "firing" or None for the alert named ``name``."""
        states = {a["state"] for a in self.alerts() if a["labels"]["alertname"] == name}
        return "firing" if "firing" in states else states.pop() if states else None

    def targets_up(self) -> bool:
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)


class AlertmanagerServer(_Process):
    """Debian's prometheus-alertmanager, routing everything to one webhook at
    once (group_wait 1s), clustering off so that no second port is taken."""

    def __init__(self, binary: str, workdir: Path, webhook_url: str) -> None:
        super().__init__("alertmanager", workdir)
        self.binary, self.webhook_url, self.port = binary, webhook_url, 0

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "route": {"receiver": "test", "group_by": ["alertname", "instance"],
                      "group_wait": "1s", "group_interval": "1s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "test", "webhook_configs": [
                {"url": self.webhook_url, "send_resolved": True}]}],
        }

    def start(self) -> AlertmanagerServer:
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config()), encoding="utf-8")
        (self.workdir / "am-data").mkdir(exist_ok=True)
        self.port = free_port()
        self._spawn([self.binary, f"--config.file={config}",
                     f"--storage.path={self.workdir / 'am-data'}",
                     f"--web.listen-address={self.address}",
                     "--cluster.listen-address=", "--log.level=warn"],
                    f"http://{self.address}/-/ready")
        return self


class WebhookReceiver:
    """Alertmanager's webhook: keeps every JSON notification it is sent."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver.notifications.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_port}/alerts"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def alerts(self, name: str, status: str) -> list[dict[str, Any]]:
        """Alerts named ``name`` received with ``status`` (firing/resolved)."""
        with self._lock:
            return [alert for note in self.notifications for alert in note["alerts"]
                    if alert["labels"].get("alertname") == name
                    and alert["status"] == status]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class RegistryExporter:
    """Serves one prometheus_client registry over HTTP, as the daemon does."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._server: WSGIServer = make_server(LOOPBACK, 0, make_wsgi_app(registry),
                                               handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self._server.server_port}"

    def start(self) -> RegistryExporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
