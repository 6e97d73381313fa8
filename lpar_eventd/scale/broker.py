"""A private rabbitmq-server on loopback (Debian's package), for tests, benchmarks, demos.

Each user (a test, ``bench-delivery``) starts its own on free ports, with
its own Erlang port mapper, node name and data directory, and stops it.
The server can be stopped or killed and started again on the same ports and
data directory (durable queues and persistent messages survive, as on a real
broker restart), optionally with a TLS listener, and ``ctl`` runs
rabbitmqctl against it.

    server = RabbitServer(tmp_path / "rabbit").start()
    server.url          # 'rabbit://guest:guest@127.0.0.1:40123/'
    server.kill()       # SIGKILL, as a crash
    server.start()      # same port, same data: recovered
    server.ctl("list_queues", "name", "type", "messages")
    server.close()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBIT_HOME = Path("/usr/lib/rabbitmq/bin")


class BrokerUnavailable(RuntimeError):
    """rabbitmq-server is not installed or did not start (the message says which)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RabbitServer:
    """One rabbitmq node; ``tls`` (a simulator.tls.TlsFiles) adds an amqps listener."""

    def __init__(self, base: Path, tls: object | None = None):
        server = RABBIT_HOME / "rabbitmq-server"
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if not server.exists() or not os.path.exists(epmd):
            raise BrokerUnavailable("rabbitmq-server is not installed (tools/bootstrap "
                                    "installs Debian's rabbitmq-server)")
        self._server, self._epmd = server, epmd
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port, self.tls_port = free_port(), (free_port() if tls else None)
        self.tls = tls
        dist, epmd_port = free_port(), free_port()
        (base / "enabled_plugins").write_text("[].\n")
        self.env = dict(os.environ, HOME=str(base), ERL_EPMD_PORT=str(epmd_port),
                        ERL_EPMD_ADDRESS="127.0.0.1",
                        RABBITMQ_NODENAME=f"lpar-eventd-test-{self.port}@localhost",
                        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                        RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(dist),
                        RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
                        RABBITMQ_LOG_BASE=str(base / "log"),
                        RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
                        RABBITMQ_PID_FILE=str(base / "pid"))
        self.env.pop("RABBITMQ_ALLOW_INPUT", None)
        if tls is not None:
            self.env["RABBITMQ_CONFIG_FILE"] = str(self._write_tls_config())
        self._epmd_proc = subprocess.Popen(  # noqa: S603
            [epmd, "-port", str(epmd_port), "-address", "127.0.0.1"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base)
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self.starts = 0

    def _write_tls_config(self) -> Path:
        tls = self.tls
        path = self.base / "rabbitmq.conf"
        path.write_text(
            f"listeners.ssl.1 = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.cacertfile = {tls.ca}\n"  # type: ignore[attr-defined]
            f"ssl_options.certfile = {tls.cert}\n"  # type: ignore[attr-defined]
            f"ssl_options.keyfile = {tls.key}\n"  # type: ignore[attr-defined]
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n")
        return path

    @property
    def url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/"

    @property
    def tls_url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.tls_port}/"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 90.0) -> "RabbitServer":
        """Start (or start again) and wait until every listener accepts."""
        started = time.monotonic()
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - the child holds it
        # Its own process group: the script runs the Erlang VM as a child, and
        # a crash (kill) must take the VM, not only the script.
        self._proc = subprocess.Popen([str(self._server)], env=self.env, cwd=self.base,  # noqa: S603
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        ports = [p for p in (self.port, self.tls_port) if p]
        deadline = started + timeout
        while not all(_accepting(p) for p in ports):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.base / "server.log").read_text(errors="replace")[-600:]
                self.stop()
                raise BrokerUnavailable(f"rabbitmq-server did not start on 127.0.0.1:"
                                        f"{self.port} within {timeout:g} s: {tail!r}")
            time.sleep(0.2)
        self.start_seconds = time.monotonic() - started
        self.starts += 1
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM)."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed that the broker had not synced."""
        self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: int, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # SIGTERM to the script (it stops the VM cleanly); SIGKILL to the group.
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 10
        while _accepting(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """rabbitmqctl against this node; its standard output."""
        out = subprocess.run([str(RABBIT_HOME / "rabbitmqctl"), "-q", *args],  # noqa: S603
                             env=self.env, capture_output=True, text=True,
                             timeout=timeout, check=True)
        return out.stdout

    def queues(self, *fields: str) -> list[list[str]]:
        """``list_queues`` rows (name first), e.g. queues("type", "messages")."""
        text = self.ctl("list_queues", "--no-table-headers", "name", *fields)
        return [line.split("\t") for line in text.splitlines() if line.strip()]

    def close(self) -> None:
        self.stop()
        self._epmd_proc.terminate()
        try:
            self._epmd_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._epmd_proc.kill()
            self._epmd_proc.wait()
