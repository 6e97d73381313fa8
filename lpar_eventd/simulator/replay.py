"""The recorded event log format: one JSON object per line.

    {"timestamp": 1700000000.125, "EventType": "MODIFY_URI",
     "EventData": "https://h:12443/rest/api/uom/ManagedSystem/<ms>/LogicalPartition/<U>",
     "EventDetail": "PartitionState,Other", "state": "running"}

Each line carries either ``delay`` (seconds after the previous line) or
``timestamp`` (epoch seconds, or ISO 8601); ``state`` is optional (the
PartitionState after the event, when the recorder knew it). The recorder
(``lpar-eventd-sim record`` and the daemon's ``--record``) writes timestamps;
a hand-written file may use delays. The simulator replays a log with its own
base URL in place of the recorded host's, so LPARs are read back from it.

    events = read_jsonl("feed.jsonl")           # [ReplayEvent(at=0.0, ...), ...]
    with open("out.jsonl", "a") as fh:
        write_event(fh, "MODIFY_URI", uri, "NVRAM")
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

__all__ = ["ReplayEvent", "ReplayFormatError", "read_jsonl", "parse_lines",
           "write_event", "uri_path"]


class ReplayFormatError(ValueError):
    """A line of the log is not a valid event object (names the line)."""


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    at: float                 # seconds since the first event
    event_type: str
    data: str
    detail: str
    state: str | None = None

    @property
    def path(self) -> str:
        return uri_path(self.data)


def uri_path(uri: str) -> str:
    """The path (and query) of a full URI, '' for an empty one."""
    if not uri:
        return ""
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def read_jsonl(path: str | Path) -> list[ReplayEvent]:
    """Read a log file; raises ReplayFormatError naming the bad line."""
    with open(path, encoding="utf-8") as handle:
        return list(parse_lines(handle))


def parse_lines(lines: Iterable[str]) -> Iterator[ReplayEvent]:
    start: float | None = None
    clock = 0.0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = _load(line, number)
        when = _when(obj, number, clock)
        start = when if start is None else start
        clock = when
        yield ReplayEvent(round(when - start, 6), _field(obj, "EventType", number),
                          str(obj.get("EventData") or ""),
                          str(obj.get("EventDetail") or ""), _state(obj, number))


def _load(line: str, number: int) -> dict[str, object]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplayFormatError(f"line {number}: not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ReplayFormatError(f"line {number}: expected a JSON object")
    return obj


def _field(obj: dict[str, object], name: str, number: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise ReplayFormatError(f"line {number}: missing or empty {name}")
    return value


def _state(obj: dict[str, object], number: int) -> str | None:
    value = obj.get("state")
    if value is not None and not isinstance(value, str):
        raise ReplayFormatError(f"line {number}: state must be a string")
    return value


def _when(obj: dict[str, object], number: int, previous: float) -> float:
    """Absolute time of a line: its timestamp, or previous + delay."""
    if "timestamp" in obj:
        return _timestamp(obj["timestamp"], number)
    delay = obj.get("delay", 0.0)
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
        raise ReplayFormatError(f"line {number}: delay must be a number >= 0")
    return previous + float(delay)


def _timestamp(value: object, number: int) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    raise ReplayFormatError(f"line {number}: bad timestamp {value!r}")


def write_event(handle: IO[str], event_type: str, data: str | None,
                detail: str | None, state: str | None = None,
                timestamp: float | None = None) -> None:
    """Append one event line (flushed, so a killed recorder loses nothing)."""
    obj: dict[str, object] = {
        "timestamp": round(time.time() if timestamp is None else timestamp, 6),
        "EventType": event_type, "EventData": data or "",
        "EventDetail": detail or ""}
    if state is not None:
        obj["state"] = state
    handle.write(json.dumps(obj, separators=(",", ":")) + "\n")
    handle.flush()
