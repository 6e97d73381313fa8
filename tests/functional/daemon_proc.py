"""A real `lpar-eventd --config-file` process for functional tests: the test
bed's DaemonProcess with a config written for the simulator and a nova DB."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from lpar_eventd.nova.database import sqlite_url
from lpar_eventd.testbed.procs import (
    DaemonProcess, free_port, wait_quiet, write_engine_config)

SPEED = 20.0


class Daemon(DaemonProcess):
    """One `lpar-eventd --config-file` process, its stderr kept for the test."""

    _stderr = subprocess.PIPE

    def __init__(self, workdir: Path, sim_port: int, nova_path: Path,
                 extra: str = "", args: tuple[str, ...] = (), env: dict | None = None,
                 stale: float = 30.0, speed: float = SPEED):
        port = self.metrics_port = free_port()
        super().__init__(workdir / "lpar-eventd.conf", workdir / "lpar-eventd.log", port,
                         args, env)
        self._write = lambda extra_text: write_engine_config(
            self.conf, sim_port=sim_port, nova_url=sqlite_url(nova_path),
            metrics_port=port, speed=speed, extra=extra_text, feed_stale=stale)
        self._write(extra)

    def metrics(self) -> dict[str, float]:
        return self.scrape()

    def health(self) -> int:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def wait_settled(self, timeout: float = 30) -> None:
        if not wait_quiet([self.scrape], timeout):
            raise TimeoutError("settles still pending")
