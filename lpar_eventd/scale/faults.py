"""Fault injection for end-to-end campaigns: every way the world around the daemon fails.

Why a module of its own: the chaos campaign (``chaos``) drives a host stack
(the NovaLink simulator, an sqlite nova database, nova-compute with the
engine in it) and breaks things from the outside, exactly as an operator's
environment would: nothing here patches the engine or nova.

Kinds (``KINDS``), and how each is made:

* ``novalink_5xx``: the simulator answers the next few ``/rest/api/uom``
  requests (feed reads and state reads alike) with a 500/502/503 HttpError body;
* ``drop``: the simulator closes the next few connections without an answer;
* ``stall``: feed reads hang for a while (below the client's read timeout);
* ``token_expiry``: every session token is invalidated (401, re-logon, NEW_CLIENT);
* ``missing_events``: the feed stalls while the simulator's per-client queue
  is shrunk, so the daemon's queue overflows into MISSING_EVENTS;
* ``cache_cleared``: a pvm-rest restart (queues replaced by CACHE_CLEARED,
  sessions sometimes dropped too);
* ``nova_unavailable``: nova-compute reaches its database through a symlink
  that is swapped to a missing file (oslo.db uses no pool for sqlite files, so
  the next connection fails: "unable to open database file"), then back: the
  engine's lookups and nova's own handling fail alike, as when nova-compute
  loses its conductor;
* ``nova_locked``: the harness holds an EXCLUSIVE sqlite transaction: reads
  and writes wait, then fail with "database is locked";
* ``sink_error``: the harness holds a RESERVED lock (``BEGIN IMMEDIATE``):
  lookups still read, but nova's writes (its power-state sync, its stops)
  wait for the lock;
* ``sigterm`` / ``sigkill``: the process the engine runs in (nova-compute,
  embedded) is stopped (gracefully or not) and started again at once; the
  engine rebuilds its state by its start-up resync.

    db_faults = NovaDbFaults(real_path, link_path)     # nova-compute uses link_path
    inject(PlannedFault(1.2, "stall", {"seconds": 2.0}), sim, db_faults, stack.engine)
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


__all__ = ["KINDS", "RESTART_KINDS", "PlannedFault", "plan_faults", "NovaDbFaults",
           "inject"]

KINDS = ("novalink_5xx", "drop", "stall", "token_expiry", "missing_events",
         "cache_cleared", "nova_unavailable", "nova_locked", "sink_error",
         "sigterm", "sigkill")
#: Kinds that restart the engine's process: each costs a start-up (~3 s), so a
#: run gets at most ``max_restarts`` of them.
RESTART_KINDS = ("sigterm", "sigkill")
#: Paths a NovaLink fault applies to: the event feed only, or every uom read
#: (then settles' state reads and resync listings fail too).
_FAULT_PATHS = ("/rest/api/uom/Event", "/rest/api/uom/")


@dataclass(frozen=True)
class PlannedFault:
    """One fault of a run: when (wall seconds after the storm starts), what, how."""

    at: float
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in sorted(self.params.items()))
        return f"{self.at:5.2f}s {self.kind}({args})"


def plan_faults(rng: random.Random, storm_seconds: float, count: int,
                max_restarts: int = 1, kinds: tuple[str, ...] = KINDS) -> list[PlannedFault]:
    """``count`` faults at random times of the storm, sorted by time.

    Durations stay short (a few hundred ms to 2 s) and shot counts small
    (1-3), so every run can converge quickly.
    """
    restarts = 0
    out = []
    for _ in range(count):
        choices = [k for k in kinds
                   if k not in RESTART_KINDS or restarts < max_restarts]
        kind = rng.choice(choices)
        restarts += kind in RESTART_KINDS
        out.append(PlannedFault(round(rng.uniform(0.3, 0.9 * storm_seconds), 3), kind,
                                _params(rng, kind)))
    return sorted(out, key=lambda f: f.at)


def _params(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "novalink_5xx":
        return {"count": rng.randint(1, 3), "status": rng.choice((500, 502, 503)),
                "path": rng.choice(_FAULT_PATHS)}
    if kind == "drop":
        return {"count": rng.randint(1, 3), "path": rng.choice(_FAULT_PATHS)}
    if kind in ("stall", "missing_events"):
        return {"seconds": round(rng.uniform(0.5, 2.0), 2)}
    if kind == "cache_cleared":
        return {"drop_sessions": rng.random() < 0.5}
    if kind in ("nova_unavailable", "nova_locked", "sink_error"):
        return {"seconds": round(rng.uniform(0.3, 2.0), 2)}
    if kind in RESTART_KINDS:
        return {"gap": round(rng.uniform(0.0, 1.0), 2)}
    return {}


class NovaDbFaults:
    """Break the daemon's path to an sqlite nova database, from outside the daemon.

    The daemon is configured with ``link`` (a symlink to ``real``); the
    harness (nova-api, the final check) uses ``real`` and keeps working, as
    when the network between lpar_eventd and the database fails.
    """

    def __init__(self, real: Path, link: Path):
        self.real = real
        self.link = link
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(real)

    def unavailable(self, seconds: float) -> None:
        """The symlink points to a file in a missing directory for ``seconds``."""
        self._point(self.real.parent / "gone" / self.real.name)
        try:
            time.sleep(seconds)
        finally:
            self._point(self.real)

    def _point(self, target: Path) -> None:
        tmp = self.link.with_name(self.link.name + ".swap")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, self.link)   # atomic: never a moment without the link

    def locked(self, seconds: float, mode: str = "EXCLUSIVE") -> None:
        """Hold ``BEGIN EXCLUSIVE`` (no one reads or writes) or ``BEGIN IMMEDIATE``
        (others read, no one else writes) on the database for ``seconds``."""
        if mode not in ("EXCLUSIVE", "IMMEDIATE"):
            raise ValueError(f"lock mode {mode!r}")
        with closing(sqlite3.connect(self.real, timeout=10.0,
                                     isolation_level=None)) as conn:
            conn.execute(f"BEGIN {mode}")
            try:
                time.sleep(seconds)
            finally:
                conn.execute("ROLLBACK")


def inject(fault: PlannedFault, sim: Any, db: NovaDbFaults,
           engine: Any) -> dict[str, Any]:
    """Apply one fault now (blocking for its duration); returns what happened.
    ``engine`` is the process the engine runs in (``testbed.procs``)."""
    kind, p = fault.kind, fault.params
    out: dict[str, Any] = {}
    if kind == "novalink_5xx":
        sim.inject_fault(kind="error", count=p["count"], status=p["status"],
                         path=p["path"])
    elif kind == "drop":
        sim.inject_fault(kind="drop", count=p["count"], path=p["path"])
    elif kind == "stall":
        sim.stall_feed(p["seconds"])
        time.sleep(p["seconds"])
    elif kind == "token_expiry":
        out["tokens_expired"] = sim.expire_tokens()
    elif kind == "missing_events":
        before = sim.counters().get("queue_overflows", 0)
        sim.set_option(max_queue=3)
        sim.stall_feed(p["seconds"])
        try:
            time.sleep(p["seconds"])
        finally:
            sim.set_option(max_queue=sim.config.max_queue)
        out["overflows"] = sim.counters().get("queue_overflows", 0) - before
    elif kind == "cache_cleared":
        sim.restart(drop_sessions=p["drop_sessions"])
    elif kind == "nova_unavailable":
        db.unavailable(p["seconds"])
    elif kind == "nova_locked":
        db.locked(p["seconds"], "EXCLUSIVE")
    elif kind == "sink_error":
        db.locked(p["seconds"], "IMMEDIATE")
    elif kind in RESTART_KINDS:
        sig = signal.SIGTERM if kind == "sigterm" else signal.SIGKILL
        started = time.monotonic()
        out["exit_status"] = engine.restart(sig, p["gap"])
        out["restart_seconds"] = round(time.monotonic() - started, 2)
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return out
