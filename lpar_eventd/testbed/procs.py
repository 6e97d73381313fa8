"""The processes of a host stack and how the harness watches them (test bed only).

* ``DaemonProcess``: one ``lpar-eventd --config-file`` (the standalone daemon);
* ``ComputeProcess``: the simulated host's nova-compute (``compute.py``), with
  the engine embedded in it or not;
* ``write_engine_config``: an lpar-eventd.conf for either, every window
  compressed by the run's speed;
* ``scrape``/``total``: /metrics as Prometheus reads it; ``wait_healthy``;
  ``wait_quiet``: the one "until nothing is pending" loop of every campaign.

Both process kinds restart with the same configuration (chaos SIGTERM and
SIGKILL faults), are stopped with SIGTERM (SIGKILL after a bound), and write
their log to a file in the host's directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["free_port", "scrape", "total", "wait_healthy", "wait_quiet", "WINDOWS",
           "write_engine_config", "override_options", "DaemonProcess", "ComputeProcess",
           "PREFIX", "USER", "PASSWORD"]

PREFIX = "lpar_eventd_"
USER, PASSWORD = "hscroot", "abc123"
#: The engine's windows at x1; a run at speed S divides each by S.
WINDOWS = ("settle_seconds", 15.0), ("max_wait_seconds", 60.0), \
    ("nvram_settle_seconds", 2.0), ("resync_min_interval_seconds", 10.0), \
    ("resync_batch_interval_seconds", 0.5), ("retry_base_seconds", 1.0)
#: What "the counters still move" watches.
_MOVING = ("events_received_total", "get_instance_calls_total", "state_reads_total",
           "lifecycle_events_emitted_total")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """Prometheus text exposition -> {'name{label="v"}': value}, as a scraper sees it."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own http URL  # nosec B310
        text = resp.read().decode("utf-8")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def total(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None,
                 what: str = "the daemon") -> None:
    """Until ``url``/healthz answers 200; raises if ``proc`` exits or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:  # noqa: S310  # nosec B310
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}/healthz not healthy within {timeout:g} s")


def wait_quiet(scrapes: Sequence[Callable[[], dict[str, float]]], timeout: float,
               quiet: float = 1.5, still_for: float | None = None,
               minimum: float = 0.0) -> bool:
    """Until every engine has had nothing pending and no counter moving for
    ``quiet`` seconds (a settle can re-arm another, so one zero is not
    enough), or, with ``still_for``, no counter moved for that long (the
    reference policy's leaked timers keep its pending gauge up); not before
    ``minimum`` seconds. False when ``timeout`` passed first."""
    start = time.monotonic()
    quiet_since: float | None = None
    still_since = start
    last: list[float] = []
    while time.monotonic() - start < timeout:
        now = time.monotonic()
        try:
            samples = [fn() for fn in scrapes]
        except OSError:
            samples = []
        if samples:
            pending = sum(s.get(PREFIX + "pending_settles", 0.0) for s in samples)
            moving = [total(s, PREFIX + name) for s in samples for name in _MOVING]
            if moving != last:
                last, still_since = moving, now
            quiet_since = None if pending else (quiet_since or now)
            calm = (quiet_since is not None and now - quiet_since > quiet
                    and now - still_since > quiet)
            stuck = still_for is not None and now - still_since > still_for
            if now - start >= minimum and (calm or stuck):
                return True
        time.sleep(0.2)
    return False


def write_engine_config(path: Path, *, metrics_port: int, speed: float,
                        policy_name: str = "default", sinks: str = "log",
                        sim_port: int | None = None, nova_url: str | None = None,
                        extra: str = "", feed_stale: float = 30.0,
                        compute_host: str | None = None,
                        transport_url: str | None = None) -> None:
    """An lpar-eventd.conf with every window divided by ``speed``.

    The standalone daemon needs where NovaLink is (``sim_port``), its nova
    (``nova_url``: the database lookup) and, to deliver to nova-compute,
    nova's bus (``transport_url``) and the host (``compute_host``); the
    embedded engine takes all of them from nova-compute and ignores them.
    """
    windows = "\n".join(f"{name} = {value / speed:g}" for name, value in WINDOWS)
    nova = f"lookup = database\nconnection = {nova_url}\n" if nova_url else ""
    if compute_host:
        nova += f"compute_host = {compute_host}\n"
    bus = f"transport_url = {transport_url}\n" if transport_url else ""
    path.write_text(f"""[DEFAULT]
debug = false
{bus}
[novalink]
host = 127.0.0.1
port = {sim_port or 0}
protocol = http
username = {USER}
password = {PASSWORD}
timeout = 30
feed_stale_seconds = {feed_stale:g}
reconnect_backoff_max_seconds = {30.0 / speed:g}

[events]
policy = {policy_name}
{windows}
retry_max_seconds = {60.0 / speed:g}

[nova]
{nova}
[sink]
driver = {sinks}

[metrics]
bind_host = 127.0.0.1
port = {metrics_port}
{extra}""", encoding="utf-8")


def override_options(path: Path, options: dict[str, str]) -> None:
    """Set ``group.option = value`` in a written config file (oslo.config
    refuses a section given twice, so each goes into its section)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for dotted, value in options.items():
        group, _, name = dotted.partition(".")
        if not name:
            raise ValueError(f"option {dotted!r}: expected GROUP.OPTION")
        header = f"[{group}]"
        if header not in lines:
            lines += ["", header]
        at = lines.index(header) + 1
        end = next((i for i in range(at, len(lines)) if lines[i].startswith("[")),
                   len(lines))
        lines = [line for i, line in enumerate(lines)
                 if not (at <= i < end and line.split("=")[0].strip() == name)]
        lines.insert(at, f"{name} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _Process:
    """A restartable child process of the harness."""

    what = "process"
    _stdout: int = subprocess.DEVNULL
    _stderr: int = subprocess.DEVNULL

    def __init__(self, log: Path, env: dict[str, str] | None = None):
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "_Process":
        self.proc = subprocess.Popen(  # noqa: S603 - our own console scripts
            [sys.executable, *self._argv()], stdout=self._stdout, stderr=self._stderr,
            env=dict(os.environ, PYTHONWARNINGS="ignore", **(self.env or {})))
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the process and reap it; SIGKILL if it does not go in time."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def restart(self, sig: int, gap: float = 0.0, timeout: float = 60.0) -> int | None:
        """Stop with ``sig``, wait ``gap`` s, start again and wait until healthy."""
        status = self.stop(sig)
        if gap > 0:
            time.sleep(gap)
        self.start().healthy(timeout)
        return status

    def healthy(self, timeout: float = 60.0) -> "_Process":
        raise NotImplementedError

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class DaemonProcess(_Process):
    """One ``lpar-eventd --config-file`` process."""

    what = "the daemon"

    def __init__(self, conf: Path, log: Path, metrics_port: int,
                 args: Sequence[str] = (), env: dict[str, str] | None = None):
        super().__init__(log, env)
        self.conf = conf
        self.url = f"http://127.0.0.1:{metrics_port}"
        self.args = list(args)

    def _argv(self) -> list[str]:
        return ["-m", "lpar_eventd.cmd.daemon", "--config-file", str(self.conf),
                "--log-file", str(self.log), *self.args]

    def healthy(self, timeout: float = 60.0) -> "DaemonProcess":
        wait_healthy(self.url, timeout, self.proc, self.what)
        return self

    def scrape(self) -> dict[str, float]:
        return scrape(self.url + "/metrics", timeout=5.0)


class ComputeProcess(_Process):
    """The simulated host's nova-compute (``python -m lpar_eventd.testbed.compute``).

    It prints ``READY <control port>`` once nova's manager, the driver (and
    the embedded engine) are up; ``metrics_port`` is the embedded engine's
    /metrics (None without one).
    """

    what = "nova-compute"
    _stdout = subprocess.PIPE      # the READY line

    def __init__(self, conf: Path, log: Path, metrics_port: int | None,
                 journal: Path | None = None):
        super().__init__(log)
        self.conf = conf
        self.journal = journal
        self.url = f"http://127.0.0.1:{metrics_port}" if metrics_port else None
        self.control: str | None = None

    def _argv(self) -> list[str]:
        return ["-m", "lpar_eventd.testbed.compute", "--config-file", str(self.conf),
                "--log-file", str(self.log)]

    def start(self) -> "ComputeProcess":
        super().start()
        self.control = None
        return self

    def healthy(self, timeout: float = 60.0) -> "ComputeProcess":
        """Until nova-compute said READY and the embedded engine (if any) is healthy."""
        deadline = time.monotonic() + timeout
        self.control = f"http://127.0.0.1:{self._ready_port(timeout)}"
        if self.url is not None:
            wait_healthy(self.url, max(1.0, deadline - time.monotonic()), self.proc,
                         self.what)
        return self

    def _ready_port(self, timeout: float) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        text = line[0].decode(errors="replace").strip() if line else ""
        if not text.startswith("READY "):
            self.stop()
            tail = self.log_text()[-2000:]
            raise RuntimeError(f"{self.what} did not start (status {self.proc.returncode}): "
                               f"{text or 'no answer'}; log tail: {tail}")
        return int(text.split()[1])

    def scrape(self) -> dict[str, float]:
        if self.url is None:
            return {}
        return scrape(self.url + "/metrics", timeout=5.0)

    def _call(self, method: str, path: str, timeout: float = 60.0,
              body: dict[str, Any] | None = None) -> Any:
        assert self.control is not None, "nova-compute not started"
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.control + path, method=method,  # noqa: S310
                                         data=data if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310  # nosec B310
            return json.loads(resp.read())

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def witness(self) -> dict[str, Any]:
        """What nova did so far: from the journal (every start of the process,
        a killed one included) when there is one, else from the process."""
        if self.journal is not None:
            from lpar_eventd.testbed.witness import read_journal
            return read_journal(self.journal)
        return self._call("GET", "/witness")

    def emit(self, instance: str, transition: str) -> dict[str, Any]:
        """A lifecycle event through the driver's emit_event: {"outcome", "said"}."""
        return self._call("POST", "/emit", body={"instance": instance,
                                                 "transition": transition})

    def sync_power_states(self) -> dict[str, Any]:
        """nova's periodic _sync_power_states, once, waited for."""
        return self._call("POST", "/sync-power-states", timeout=180.0)

    def wait_nova_quiet(self, timeout: float = 30.0) -> bool:
        """Until every stop nova asked for has reached the driver (the stop is
        a cast: it runs after the lifecycle handling that asked for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if nova_in_flight(self.witness()) <= 0:
                return True
            time.sleep(0.1)
        return False


def nova_in_flight(witness: dict[str, Any]) -> int:
    """Stops nova asked for (and its API accepted) that have not reached the driver."""
    said = [w for e in witness["events"] for w in e["said"]] + \
        [p["said"] for p in witness["periodic"]]
    asked = sum(1 for w in said if w in ("stop", "force_stop"))
    failed = sum(1 for w in said if w == "stop_failed")
    done = sum(1 for c in witness["calls"] if c["op"] == "power_off")
    return asked - failed - done
