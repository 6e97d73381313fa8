"""The threads around the pure engine: feed thread, scheduler thread, settle pool.

The engine has no threads of its own. At run time the source's thread calls
``accept_batch``; one scheduler thread sleeps until the next due time (or a
wake-up from new events or finished settles) and calls ``run_due``; settles
run on a small bounded pool so a storm cannot flood nova. The daemon
(oslo.service) and the functional tests both use this.

    rt = Runtime(handler, source, max_concurrent=4).start()
    ...
    rt.stop(mode="cancel", timeout=10)   # stop reading, cancel pending, drain
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from collections.abc import Callable

from lpar_eventd.engine.handler import BaseHandler

__all__ = ["Runtime", "make_pool"]

LOG = logging.getLogger(__name__)


def make_pool(max_concurrent: int) -> ThreadPoolExecutor:
    """The settle pool a handler is built with (its size bounds nova calls)."""
    return ThreadPoolExecutor(max_workers=max(1, max_concurrent),
                              thread_name_prefix="settle")


def name_os_thread() -> None:
    """Give the calling thread its Python name in the kernel too (``ps -L``,
    ``top -H``, /proc/PID/task/TID/comm): Python 3.11 names no OS thread, and
    an operator looking at a stuck daemon wants the scheduler told from the
    settle workers. Best effort: 15 characters, errors ignored."""
    path = f"/proc/self/task/{threading.get_native_id()}/comm"
    try:
        with open(path, "w", encoding="ascii", errors="replace") as fh:
            fh.write(threading.current_thread().name[:15])
    except OSError:
        pass


class Runtime:
    """Runs one handler: scheduler loop, settle pool, and the event source."""

    def __init__(self, handler: BaseHandler, source: Any, pool: ThreadPoolExecutor,
                 on_tick: Callable[[], None] | None = None, max_sleep: float = 1.0,
                 on_batch: Callable[[Any], None] | None = None):
        self.handler = handler
        self.source = source
        self._pool = pool
        self.on_tick = on_tick or (lambda: None)
        self._on_batch = on_batch or handler.accept_batch
        self._max_sleep = max_sleep
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_tick = time.monotonic()
        handler.wakeup = self._wake.set

    def start(self) -> "Runtime":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scheduler",
                                            daemon=True)
            self._thread.start()
            self.source.start(self._on_batch)
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        name_os_thread()
        clock = self.handler.clock
        while not self._stopping.is_set():
            try:
                nxt = self.handler.run_due()
                self.on_tick()
            except Exception:  # the scheduler must survive anything
                LOG.exception("Scheduler tick failed; continuing")
                nxt = None
            self.last_tick = time.monotonic()
            wait = self._max_sleep if nxt is None else min(
                self._max_sleep, max(0.0, nxt - clock.now()))
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()

    def stop(self, mode: str = "cancel", timeout: float = 10.0) -> bool:
        """Stop reading, cancel (or flush) pending settles, finish those in
        flight within ``timeout``; returns True when nothing was left running."""
        started = time.monotonic()
        self.source.stop(timeout=min(5.0, timeout / 2))
        dropped = self.handler.shutdown(mode)
        LOG.info("Shutting down: %d pending settles %s", dropped,
                 "flushed" if mode == "settle" else "cancelled")
        deadline = started + timeout
        if mode == "settle":
            while not self.handler.idle() and time.monotonic() < deadline:
                self._wake.set()
                time.sleep(0.05)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        while self.handler.in_flight() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._pool.shutdown(wait=False, cancel_futures=True)
        clean = self.handler.in_flight() == 0
        if not clean:
            LOG.warning("%d settles still running at shutdown", self.handler.in_flight())
        return clean
