"""Shared functional fixtures: a NovaLink simulator on loopback, its TLS files,
pypowervm sessions against it, host stacks (simulator, nova's database and
nova's own nova-compute, with or without the engine embedded) and a polling
wait (tests never sleep blindly).

    def test_x(simulator, pvm_session, wait_until):
        session = pvm_session()                  # password auth, plain HTTP
        wait_until(lambda: simulator.status()["clients"] == 1)

    def test_y(host_stack):
        stack = host_stack(scenario, mode="none", speed=10)   # started, healthy
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lpar_eventd.scale.scenarios import Scenario
from lpar_eventd.simulator import SimConfig, Simulator
from lpar_eventd.simulator.tls import TlsFiles, make_test_pki
from lpar_eventd.testbed.hoststack import HostOptions, HostStack, build_template, scratch_dir

USER, PASSWORD = "hscroot", "abc123"
# Short enough to keep tests fast, far below pypowervm's read timeout.
TEST_LONG_POLL = 0.3


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA and a server cert for 127.0.0.1/localhost."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def sim_config(tls_files: TlsFiles) -> SimConfig:
    """Free ports, HTTP and HTTPS, short long-poll; tweak before using ``simulator``."""
    return SimConfig(port=0, https_port=0, certfile=str(tls_files.cert),
                     keyfile=str(tls_files.key), long_poll=TEST_LONG_POLL,
                     users={USER: PASSWORD})


@pytest.fixture
def simulator(sim_config: SimConfig) -> Iterator[Simulator]:
    """A running simulator, stopped at teardown."""
    sim = Simulator(sim_config).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def pvm_session(simulator: Simulator) -> Iterator[Callable[..., Any]]:
    """Factory of real pypowervm Sessions against ``simulator`` (password auth
    over HTTP unless told otherwise); listeners shut and sessions logged off
    before the simulator stops."""
    from pypowervm import adapter as pvm_adapter

    sessions: list[Any] = []

    def make(**kwargs: Any) -> Any:
        args: dict[str, Any] = {"host": "127.0.0.1", "username": USER,
                                "password": PASSWORD, "protocol": "http",
                                "port": simulator.http_port}
        args.update(kwargs)
        session = pvm_adapter.Session(**args)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        if session.has_event_listener:
            _stop_listener(session.get_event_listener())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session._logoff()


def _stop_listener(listener: Any) -> None:
    """Unsubscribe every handler: pypowervm's shutdown() removes from the list it
    iterates, so with two handlers its poll thread would go on for ever."""
    for handler in list(listener.handlers):
        listener.unsubscribe(handler)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """Poll ``predicate`` until truthy (returns its value) or fail after ``timeout``."""
    def wait(predicate: Callable[[], Any], timeout: float = 10.0,
             interval: float = 0.02, message: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for "
                            f"{message or predicate}")
            time.sleep(interval)
    return wait


@pytest.fixture(scope="session")
def stack_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nova's schema once per session (WAL journal, as campaigns use it)."""
    path = tmp_path_factory.mktemp("stack-template") / "nova.sqlite"
    build_template(path)
    return path


@pytest.fixture
def host_stack(stack_template: Path) -> Iterator[Callable[..., HostStack]]:
    """Factory of started, healthy host stacks (on tmpfs, as campaigns run
    them); all stopped and their files removed at teardown."""
    stacks: list[HostStack] = []
    work = scratch_dir("lpar-eventd-test-")

    def make(scenario: Scenario, **options: Any) -> HostStack:
        stack = HostStack(scenario, work / f"host-{len(stacks)}", stack_template,
                          HostOptions(**options), index=len(stacks))
        stacks.append(stack)
        return stack.start().healthy()

    yield make
    for stack in stacks:
        stack.stop()
    shutil.rmtree(work, ignore_errors=True)
