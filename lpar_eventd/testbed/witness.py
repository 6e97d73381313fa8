"""What nova did, as nova-compute reports it: its own log records and the
driver's power calls. No model of nova here: only what nova said and did.

Every lifecycle event the driver hands to nova (``emit_event``) is followed
on its thread through nova's handling, from nova's own log records:

* ``VM Stopped (Lifecycle Event)``: nova got it (``handle_lifecycle_event``);
* ``Synchronizing instance power state after lifecycle event``: nova's
  double check (the driver's ``get_info``) agreed, it syncs; without it the
  event was dropped as stale;
* ``Event ... arrived for non-existent instance``: no such instance;
* inside the sync: the instance is another host's, a task is pending, the
  power_state written, the stop API called (``Instance shutdown by itself``,
  ``suspended unexpectedly``) or the forced stop (``Instance is not stopped``,
  ``Paused instance shutdown by itself``), or that call failing.

The same records outside an event (nova's periodic ``_sync_power_states``)
are kept apart. The stop itself reaches the driver over nova's compute RPC:
each ``power_off`` / ``power_on`` is recorded with the vm_state nova sent
(a stop comes for an active or error instance, a forced stop for a stopped
or paused one).

    witness = Witness(journal=Path("witness.jsonl")).install()
    with witness.handling(event):  # in driver.emit_event
        manager_callback(event)
    read_journal(Path("witness.jsonl"))   # what snapshot() says, across restarts

Every record is also appended to a JSON-lines journal as it is made, so what
nova did survives nova-compute's restarts (a SIGKILL included): the harness
reads the journal, not the process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Witness", "EventRecord", "PowerCall", "classify", "read_journal"]

#: nova's log templates (``record.msg``) -> what they say nova did.
_TEMPLATES = (
    ("VM %(state)s (Lifecycle Event)", "received"),
    ("Synchronizing instance power state after lifecycle event", "synced"),
    ("Event %s arrived for non-existent instance", "not_found"),
    ("During the sync_power process the instance has moved", "other_host"),
    ("During sync_power_state the instance has a pending task", "task_state"),
    ("During _sync_instance_power_state the DB power_state", "power_state_updated"),
    ("Instance shutdown by itself. Calling the stop API", "stop"),
    ("Instance is suspended unexpectedly. Calling the stop API", "stop"),
    ("Instance is not stopped. Calling the stop API", "force_stop"),
    ("Paused instance shutdown by itself", "force_stop"),
    ("error during stop() in sync_power_state", "stop_failed"),
    ("Exception dispatching event", "dispatch_failed"),
)
#: the loggers those come from
LOGGERS = ("nova.compute.manager", "nova.virt.driver")
#: vm_states a stop is sent for; others (stopped, paused) get a forced stop
_STOP_VM_STATES = frozenset({"active", "error"})


def classify(template: Any) -> str | None:
    """What one of nova's log templates says nova did (None: not ours to count)."""
    if not isinstance(template, str):
        return None
    for prefix, what in _TEMPLATES:
        if template.startswith(prefix):
            return what
    return None


@dataclass
class EventRecord:
    """One lifecycle event handed to nova, and what nova made of it."""

    at: float                     # wall clock, when handed over
    instance: str
    transition: str
    said: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """stale, not_found, dispatch_failed or synced (nova acted on it)."""
        for what in ("not_found", "dispatch_failed", "synced"):
            if what in self.said:
                return what
        return "stale" if "received" in self.said else "not_received"


@dataclass
class PowerCall:
    """One power call nova made through the driver."""

    at: float
    op: str                       # power_off, power_on
    instance: str
    vm_state: str | None
    task_state: str | None
    changed: bool                 # the LPAR changed (it was not already there)

    @property
    def kind(self) -> str:
        if self.op == "power_on":
            return "start"
        return "stop" if self.vm_state in _STOP_VM_STATES else "force_stop"


class _Handler(logging.Handler):
    def __init__(self, witness: "Witness"):
        super().__init__(logging.DEBUG)
        self._witness = witness

    def emit(self, record: logging.LogRecord) -> None:
        what = classify(record.msg)
        if what is not None:
            self._witness.said(what, getattr(record, "instance_uuid", None)
                               or _instance_of(record))


def _instance_of(record: logging.LogRecord) -> str | None:
    inst = getattr(record, "instance", None)
    return getattr(inst, "uuid", None) if inst is not None else None


class _QuietDebug(logging.Filter):
    """Keeps the DEBUG records the witness needs out of the process's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or record.name not in LOGGERS


class Witness:
    """Collects what nova did; thread-safe."""

    def __init__(self, journal: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.events: list[EventRecord] = []
        self.calls: list[PowerCall] = []
        #: what nova said outside any lifecycle event (periodic sync), per kind
        self.periodic: list[tuple[float, str, str | None]] = []
        self._journal = journal.open("a", encoding="utf-8") if journal else None
        if journal is not None and journal.stat().st_size:
            with journal.open("rb") as fh:      # a start after a kill mid-line
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    self._journal.write("\n")

    def _append(self, kind: str, record: dict[str, Any]) -> None:
        """One journal line (lock held)."""
        if self._journal is not None:
            self._journal.write(json.dumps({"record": kind, **record}) + "\n")
            self._journal.flush()

    def install(self, keep_debug: bool = False) -> "Witness":
        """Listen to nova's loggers (at DEBUG; the process's own handlers keep
        their INFO view unless ``keep_debug``)."""
        self._handler = _Handler(self)
        self._filter = _QuietDebug()
        self._levels = {}
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.addHandler(self._handler)
            logger.setLevel(logging.DEBUG)
        if not keep_debug:
            for root_handler in logging.getLogger().handlers:
                root_handler.addFilter(self._filter)
        return self

    def uninstall(self) -> None:
        """Stop listening (tests)."""
        for name, level in self._levels.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self._handler)
            logger.setLevel(level)
        for root_handler in logging.getLogger().handlers:
            root_handler.removeFilter(self._filter)

    @contextlib.contextmanager
    def handling(self, instance: str, transition: str) -> Iterator[EventRecord]:
        """Attribute what nova says on this thread to one lifecycle event."""
        record = EventRecord(time.time(), instance, transition)
        with self._lock:
            self.events.append(record)
        self._local.event = record
        try:
            yield record
        finally:
            self._local.event = None
            with self._lock:
                self._append("event", {**asdict(record), "outcome": record.outcome})

    def said(self, what: str, instance: str | None) -> None:
        event = getattr(self._local, "event", None)
        with self._lock:
            if event is not None:
                event.said.append(what)
            elif what not in ("received", "synced"):
                self.periodic.append((time.time(), what, instance))
                self._append("periodic", {"at": time.time(), "said": what,
                                          "instance": instance})

    def power_call(self, call: PowerCall) -> None:
        with self._lock:
            self.calls.append(call)
            self._append("call", {**asdict(call), "kind": call.kind})

    def snapshot(self) -> dict[str, Any]:
        """Everything so far, JSON-ready."""
        with self._lock:
            return {
                "events": [{**asdict(e), "outcome": e.outcome} for e in self.events],
                "calls": [{**asdict(c), "kind": c.kind} for c in self.calls],
                "periodic": [{"at": at, "said": what, "instance": inst}
                             for at, what, inst in self.periodic],
            }


def read_journal(path: Path) -> dict[str, Any]:
    """A witness journal (every start of nova-compute that wrote it) in the
    form of ``Witness.snapshot``; a line cut short by a kill is skipped."""
    out: dict[str, Any] = {"events": [], "calls": [], "periodic": []}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return out
    keys = {"event": "events", "call": "calls", "periodic": "periodic"}
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = record.pop("record", None)
        if kind in keys:
            out[keys[kind]].append(record)
    return out
