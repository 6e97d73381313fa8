"""Fixtures for the nova adapters: a real nova database, a real broker.

``nova_db_template`` runs nova's own schema migrations (db_sync) into an
sqlite file once per session; ``nova_db`` gives each test its own copy of
that file (a file copy, milliseconds), so tests never share rows.
``rabbitmq`` starts a private rabbitmq-server on loopback for one test
(``rabbitmq_factory`` for several, TLS, or kill and restart), or skips with
the reason when it cannot (fails under CI).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpar_eventd.nova.database import NovaDatabase, build_sqlite, sqlite_url
from lpar_eventd.scale.broker import BrokerUnavailable, RabbitServer


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
def _broker_missing(reason: str) -> None:
    """CI installs rabbitmq-server (tools/bootstrap): there, a missing or dead
    broker fails; on a developer's machine it skips with the reason."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def rabbitmq_factory(tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[Callable[..., RabbitServer]]:
    """Start private rabbitmq-servers (``tls=TlsFiles`` adds amqps); all are
    stopped at teardown. A test may kill and restart them (``kill``/``start``)."""
    servers: list[RabbitServer] = []

    def start(tls: object | None = None) -> RabbitServer:
        try:
            server = RabbitServer(tmp_path_factory.mktemp("rabbitmq"), tls=tls)
            servers.append(server)
            return server.start()
        except BrokerUnavailable as exc:
            _broker_missing(str(exc))
            raise
    yield start
    for server in servers:
        server.close()


@pytest.fixture
def rabbitmq(rabbitmq_factory: Callable[..., RabbitServer]) -> RabbitServer:
    """A private rabbitmq-server on loopback for this test (Debian package)."""
    return rabbitmq_factory()


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

    rpc.set_defaults(control_exchange="nova")  # as nova-conductor's parse_args does
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
