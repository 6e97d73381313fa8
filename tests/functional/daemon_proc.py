"""A real `lpar-eventd --config-file` process for functional tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from lpar_eventd.demo import free_port, scrape, wait_healthy, wait_settled, write_config
from lpar_eventd.nova.database import sqlite_url

SPEED = 20.0


class Daemon:
    """One `lpar-eventd --config-file` process."""

    def __init__(self, workdir: Path, sim_port: int, nova_path: Path,
                 extra: str = "", args: tuple[str, ...] = (), env: dict | None = None,
                 stale: float = 30.0, speed: float = SPEED):
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.metrics_port}"
        self.conf = workdir / "lpar-eventd.conf"
        self.log = workdir / "lpar-eventd.log"
        self._write = lambda extra_text: write_config(
            self.conf, sim_port=sim_port, nova_url=sqlite_url(nova_path),
            metrics_port=self.metrics_port, speed=speed, extra=extra_text,
            feed_stale=stale)
        self._write(extra)
        self.args = args
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Daemon":
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "lpar_eventd.cmd.daemon", "--config-file", str(self.conf),
             "--log-file", str(self.log), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        return self

    def healthy(self, timeout: float = 30) -> "Daemon":
        wait_healthy(self.url, timeout, self.proc)
        return self

    def metrics(self) -> dict[str, float]:
        return scrape(self.url + "/metrics")

    def health(self) -> int:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def wait_settled(self, timeout: float = 30) -> None:
        if not wait_settled(self.url, timeout):
            raise TimeoutError("settles still pending")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
