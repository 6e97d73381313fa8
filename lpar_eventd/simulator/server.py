"""Run the simulator in a background thread with its own event loop.

Tests and the scale harness are synchronous (pypowervm is threads and
blocking requests), so the simulator gets a thread of its own and a Python
API that hops onto its loop for every call; the loop is then the only owner
of the simulated host (see ``core``).

    sim = Simulator(SimConfig(port=0, long_poll=0.5)).start()
    sim.play(build("deploy-storm", 20, 1), speed=200).result(timeout=10)
    sim.lpar_state(uuid)       # 'running'
    sim.stop()

Also a context manager: ``with Simulator(cfg) as sim: ...``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from lpar_eventd.scale.scenarios import Scenario
from lpar_eventd.simulator.app import build_app
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.faults import Fault
from lpar_eventd.simulator.player import Gate, NovaCallback
from lpar_eventd.simulator.replay import ReplayEvent

__all__ = ["Simulator"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")
_CALL_TIMEOUT = 30.0


class Simulator:
    """A NovaLink REST simulator on loopback, driven from any thread."""

    def __init__(self, config: SimConfig | None = None, **overrides: Any):
        self.config = config or SimConfig(**overrides)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._token_dir: Path | None = None
        self.core: SimCore | None = None
        self.http_port: int | None = None
        self.https_port: int | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "Simulator":
        """Bind the listeners and serve; returns self once accepting."""
        if self._thread is not None:
            return self
        self._token_dir = Path(tempfile.mkdtemp(prefix="lpar-eventd-sim-"))
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,),
                                        name="novalink-sim", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=_CALL_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), which re-raises
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        loop.run_forever()
        loop.close()

    async def _serve(self) -> None:
        cfg = self.config
        self.core = SimCore(cfg, self._token_dir)  # type: ignore[arg-type]
        self._runner = web.AppRunner(build_app(self.core), access_log=None,
                                     handler_cancellation=True,
                                     shutdown_timeout=cfg.shutdown_timeout)
        await self._runner.setup()
        if cfg.port is not None:
            self.http_port = await self._site(cfg.port, None)
        if cfg.https_port is not None:
            self.https_port = await self._site(cfg.https_port, self._ssl_context())
        self.core.host.base_url = self.base_url

    async def _site(self, port: int, ssl_ctx: ssl.SSLContext | None) -> int:
        site = web.TCPSite(self._runner, self.config.host, port,  # type: ignore[arg-type]
                           ssl_context=ssl_ctx,
                           shutdown_timeout=self.config.shutdown_timeout,
                           backlog=512)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.config.certfile, self.config.keyfile)  # type: ignore[arg-type]
        return ctx

    def stop(self) -> None:
        """Stop serving and release everything; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout=_CALL_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=_CALL_TIMEOUT)
        if self._token_dir is not None:
            shutil.rmtree(self._token_dir, ignore_errors=True)
        self._loop = self._thread = self._runner = self._token_dir = None

    async def _shutdown(self) -> None:
        if self.core is not None:
            self.core.cancel_plays()
            self.core.queues.forget()  # wakes long polls so they answer now
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it listens ----------------------------------------------------------
    @property
    def host(self) -> str:
        return self.config.host

    @property
    def base_url(self) -> str:
        """The URL events name (https when served, as NovaLink's feeds do)."""
        if self.https_port is not None:
            return f"https://{self.host}:{self.https_port}"
        return f"http://{self.host}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    # -- the Python API (each call runs on the loop) -----------------------------
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args)`` on the simulator's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("simulator not started")

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(_CALL_TIMEOUT)

    def _task_future(self, start: Callable[..., asyncio.Task[int]], *args: Any
                     ) -> concurrent.futures.Future[int]:
        """Start a play on the loop; a thread-safe future of its result."""
        result: concurrent.futures.Future[int] = concurrent.futures.Future()

        def launch() -> None:
            task = start(*args)
            task.add_done_callback(lambda t: _copy_result(t, result))

        self.call(launch)
        return result

    def play(self, scenario: Scenario, speed: float | None = None,
             on_nova_change: NovaCallback | None = None,
             load: bool = True, gate: Gate | None = None) -> concurrent.futures.Future[int]:
        """Load and play a scenario; ``on_nova_change`` runs on the sim thread,
        ``gate`` (see ``player.play``) on the loop."""
        return self._task_future(self._core.play, scenario, speed, on_nova_change, load,
                                 gate)

    def replay(self, events: Sequence[ReplayEvent],
               speed: float | None = None) -> concurrent.futures.Future[int]:
        return self._task_future(self._core.replay, events, speed)

    def operate(self, uuid: str, op: str,
                speed: float | None = None) -> concurrent.futures.Future[int]:
        """boot/shutdown/reboot/flap/suspend/resume/migrate/crash/delete an LPAR."""
        return self._task_future(self._core.operate, uuid, op, speed)

    def power(self, uuid: str, action: str, speed: float | None = None,
              timeout: float = _CALL_TIMEOUT) -> bool:
        """Power an LPAR ``off`` or ``on`` as a management call and wait until
        its events are out; False when it already was (see ``SimCore.power``)."""
        result: concurrent.futures.Future[int | None] = concurrent.futures.Future()

        def launch() -> None:
            task = self._core.power(uuid, action, speed)
            if task is None:
                result.set_result(None)
            else:
                task.add_done_callback(lambda t: _copy_result(t, result))

        self.call(launch)
        return result.result(timeout) is not None

    def load(self, scenario: Scenario) -> None:
        """Take a scenario's starting world without playing its steps."""
        self.call(self._core.host.load, scenario)

    def set_state(self, uuid: str, state: str) -> None:
        self.call(self._core.set_state, uuid, state)

    def add_lpar(self, uuid: str, state: str = "not activated",
                 name: str | None = None, event: bool = True) -> None:
        self.call(self._core.add_lpar, uuid, state, name, event)

    def lpar_state(self, uuid: str) -> str:
        return self.call(lambda: self._core.host.lpar(uuid).state)

    def lpars(self) -> dict[str, str]:
        return self.call(lambda: {u: p.state for u, p in self._core.host.lpars.items()})

    def push_events(self, count: int, detail: str = "ReferenceCode,Other",
                    event_type: str = "MODIFY_URI") -> int:
        return self.call(self._core.push_events, count, detail, event_type)

    def restart(self, drop_sessions: bool = False) -> None:
        self.call(self._core.restart, drop_sessions)

    def expire_tokens(self) -> int:
        return self.call(self._core.auth.expire_all)

    def inject_fault(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Arm a fault (``Fault`` or its fields: kind, count, path, status, delay)."""
        armed = fault or Fault(**kwargs)
        self.call(self._core.faults.arm, armed)
        return armed

    def clear_faults(self) -> None:
        self.call(self._core.faults.clear)

    def stall_feed(self, seconds: float) -> None:
        self.call(self._core.stall_feed, seconds)

    def cancel_plays(self) -> int:
        return self.call(self._core.cancel_plays)

    def counters(self) -> dict[str, Any]:
        return self.call(self._core.counters.snapshot)

    def last_drained(self) -> float | None:
        """``time.monotonic()`` when a client's queue was last emptied."""
        return self.call(self._core.queues.last_drained)

    def status(self) -> dict[str, Any]:
        return self.call(self._core.status)

    def set_option(self, **values: Any) -> None:
        """Change long_poll, max_per_response or max_queue while running."""
        self.call(self._set_options, values)

    def _set_options(self, values: dict[str, Any]) -> None:
        core = self._core
        for name, value in values.items():
            if name == "long_poll":
                core.long_poll = float(value)
            elif name == "max_per_response":
                core.max_per_response = max(1, int(value))
            elif name == "max_queue":
                core.queues.max_events = max(1, int(value))
            else:
                raise ValueError(f"unknown option {name!r}")

    @property
    def _core(self) -> SimCore:
        if self.core is None:
            raise RuntimeError("simulator not started")
        return self.core


def _copy_result(task: asyncio.Task[int],
                 future: concurrent.futures.Future[Any]) -> None:
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        future.set_result(task.result())
