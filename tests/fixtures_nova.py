"""Fixtures for the nova adapters: a real nova database, a real broker.

``nova_db_template`` runs nova's own schema migrations (db_sync) into an
sqlite file once per session; ``nova_db`` gives each test its own copy of
that file (a file copy, milliseconds), so tests never share rows.
``rabbitmq`` starts a private rabbitmq-server on loopback for the session,
or skips with the reason when it cannot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpar_eventd.nova.database import NovaDatabase, build_sqlite, sqlite_url


@dataclass
class NovaTemplate:
    path: Path
    sync_seconds: float


@pytest.fixture(scope="session")
def nova_db_template(tmp_path_factory: pytest.TempPathFactory) -> NovaTemplate:
    path = tmp_path_factory.mktemp("nova-template") / "nova.sqlite"
    started = time.perf_counter()
    db = build_sqlite(path)
    took = time.perf_counter() - started
    db.dispose()
    return NovaTemplate(path, took)


@pytest.fixture
def nova_db_path(nova_db_template: NovaTemplate, tmp_path: Path) -> Path:
    path = tmp_path / "nova.sqlite"
    shutil.copyfile(nova_db_template.path, path)
    return path


@pytest.fixture
def nova_db(nova_db_path: Path) -> Iterator[NovaDatabase]:
    db = NovaDatabase(sqlite_url(nova_db_path))
    yield db
    db.dispose()


# -- rabbitmq ---------------------------------------------------------------
RABBIT_HOME = Path("/usr/lib/rabbitmq/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, deadline: float, proc: subprocess.Popen[bytes]) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


@dataclass
class Broker:
    url: str
    port: int
    start_seconds: float


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A private rabbitmq-server on loopback (Debian package), or a skip."""
    server = RABBIT_HOME / "rabbitmq-server"
    epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    if not server.exists() or not os.path.exists(epmd):
        pytest.skip("rabbitmq-server is not installed "
                    "(apt-get install rabbitmq-server to run the real-broker tests)")
    base = tmp_path_factory.mktemp("rabbitmq")
    (base / "enabled_plugins").write_text("[].\n")
    amqp, dist, epmd_port = _free_port(), _free_port(), _free_port()
    env = dict(os.environ, HOME=str(base), ERL_EPMD_PORT=str(epmd_port),
               ERL_EPMD_ADDRESS="127.0.0.1",
               RABBITMQ_NODENAME=f"lpar-eventd-test-{amqp}@localhost",
               RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(amqp),
               RABBITMQ_DIST_PORT=str(dist), RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
               RABBITMQ_LOG_BASE=str(base / "log"),
               RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
               RABBITMQ_PID_FILE=str(base / "pid"))
    env.pop("RABBITMQ_ALLOW_INPUT", None)
    started = time.monotonic()
    epmd_proc = subprocess.Popen([epmd, "-port", str(epmd_port), "-address", "127.0.0.1"],
                                 env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    log = open(base / "server.log", "wb")  # noqa: SIM115 (closed at teardown)
    proc = subprocess.Popen([str(server)], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        if not _wait_port(amqp, started + 60, proc):
            tail = (base / "server.log").read_text(errors="replace")[-500:]
            pytest.skip(f"rabbitmq-server did not start on 127.0.0.1:{amqp} "
                        f"within 60 s: {tail!r}")
        yield Broker(f"rabbit://guest:guest@127.0.0.1:{amqp}/", amqp,
                     time.monotonic() - started)
    finally:
        for child in (proc, epmd_proc):
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.close()


# -- a real nova-conductor (nova's ConductorManager) for conductor-mode tests ---
def serve_conductor(db_url: str, transport_url: str) -> None:
    """Run nova's own ConductorManager on ``transport_url`` over ``db_url``.

    The conductor side of nova-compute's object calls, in a separate process
    (nova.objects cannot both indirect and serve in one process). Placement
    is pointed at nothing: object calls never use it. Prints READY, stops
    on SIGTERM.
    """
    import signal
    import threading

    import oslo_messaging
    from nova import rpc
    from nova.conductor import manager
    from nova.db.main import api as main_db_api
    from nova.objects import base as objects_base

    from lpar_eventd.nova.config import configure_nova

    conf = configure_nova(connection=db_url, transport_url=transport_url)
    conf.set_override("auth_type", "none", group="placement")
    conf.set_override("endpoint_override", "http://127.0.0.1:9/", group="placement")
    main_db_api.configure(conf)
    rpc.init(conf)
    conductor = manager.ConductorManager()
    server = rpc.get_server(
        oslo_messaging.Target(topic="conductor", server="lpar-eventd-test"), [conductor],
        serializer=objects_base.NovaObjectSerializer())
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    server.stop()
    server.wait()


if __name__ == "__main__":
    import sys
    import warnings
    warnings.simplefilter("ignore")
    if sys.argv[1:2] == ["conductor"]:
        serve_conductor(sys.argv[2], sys.argv[3])
