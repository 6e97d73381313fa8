"""Event value types: what one NovaLink feed entry means to the engine.

A NovaLink event names a changed object by URI (``EventData``) and the changed
properties (``EventDetail``, comma separated). Only LogicalPartition URIs
matter to lpar_eventd; everything else (VIOS, the managed system, storage) is
counted and ignored. Parsing is strict about the uuid so that a malformed URI
can never be mistaken for an LPAR, and lenient about everything else so that
an unknown event type is counted, never fatal.

    ev = Event.parse("MODIFY_URI", "https://h:12443/rest/api/uom/ManagedSystem/"
                     "<ms>/LogicalPartition/<UUID>", "PartitionState,Other", now)
    ev.lpar_uuid, ev.is_partition_state  # ('<UUID>', True)
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["EventType", "Event", "parse_lpar_uuid", "high_bit_uuid"]


class EventType(enum.Enum):
    """The EventType values NovaLink sends; UNKNOWN stands for anything else."""

    ADD_URI = "ADD_URI"
    MODIFY_URI = "MODIFY_URI"
    DELETE_URI = "DELETE_URI"
    INVALID_URI = "INVALID_URI"
    HIDDEN_URI = "HIDDEN_URI"
    VISIBLE_URI = "VISIBLE_URI"
    NEW_CLIENT = "NEW_CLIENT"
    CACHE_CLEARED = "CACHE_CLEARED"
    MISSING_EVENTS = "MISSING_EVENTS"
    CUSTOM_CLIENT_EVENT = "CUSTOM_CLIENT_EVENT"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: str | None) -> "EventType":
        return _TYPES.get((value or "").strip(), cls.UNKNOWN)

    @property
    def metric_label(self) -> str:
        """The ``type`` label of events_received_total (a small fixed set)."""
        return _TYPE_LABELS.get(self, "other")

    @property
    def loses_events(self) -> bool:
        """True for the feed events that say events may have been lost."""
        return self in (EventType.NEW_CLIENT, EventType.CACHE_CLEARED,
                        EventType.MISSING_EVENTS)


_TYPES = {t.value: t for t in EventType if t is not EventType.UNKNOWN}
_TYPE_LABELS = {
    EventType.ADD_URI: "add",
    EventType.MODIFY_URI: "modify",
    EventType.DELETE_URI: "delete",
    EventType.NEW_CLIENT: "new_client",
    EventType.CACHE_CLEARED: "cache_cleared",
    EventType.MISSING_EVENTS: "missing_events",
}

# The uuid must be the last path segment, directly below LogicalPartition
# (root form .../uom/LogicalPartition/<uuid> or child form
# .../ManagedSystem/<ms>/LogicalPartition/<uuid>); a query string is allowed.
_LPAR_URI = re.compile(
    r"/LogicalPartition/([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
    r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})/?(?:\?.*)?$")


def parse_lpar_uuid(uri: str | None) -> str | None:
    """Return the LPAR uuid (upper case, PowerVM's form) of an LPAR URI, else None."""
    if not uri:
        return None
    match = _LPAR_URI.search(uri)
    if match is None:
        return None
    return match.group(1).upper()


def high_bit_uuid(uuid: str) -> str:
    """The other form a nova uuid may take for an LPAR: first hex digit OR 8.

    PowerVM clears the high bit of an LPAR uuid, so an instance whose uuid
    starts with 8-f is known to NovaLink with that bit cleared; the instance
    uuid is then the LPAR uuid with the bit set again. Lower case, as nova
    stores uuids.
    """
    lowered = uuid.lower()
    first = int(lowered[0], 16) | 0x8
    return format(first, "x") + lowered[1:]


@dataclass(frozen=True, slots=True)
class Event:
    """One feed entry as the engine sees it."""

    type: EventType
    data: str
    details: frozenset[str]
    received_at: float
    lpar_uuid: str | None = None
    raw_type: str = ""
    event_id: str = ""

    @classmethod
    def parse(cls, event_type: str | None, data: str | None,
              detail: str | None, received_at: float,
              event_id: str | None = None) -> "Event":
        """Build an Event from the raw feed strings; never raises on bad input."""
        etype = EventType.parse(event_type)
        uri = data or ""
        details = _parse_details(detail)
        return cls(etype, uri, details, received_at, parse_lpar_uuid(uri),
                   (event_type or "").strip(), event_id or "")

    @property
    def is_partition_state(self) -> bool:
        return "PartitionState" in self.details

    @property
    def is_nvram(self) -> bool:
        return "NVRAM" in self.details


_DETAIL_CACHE: dict[str, frozenset[str]] = {}


def _parse_details(detail: str | None) -> frozenset[str]:
    """Split EventDetail; the handful of distinct values in a feed are memoised."""
    if not detail:
        return frozenset()
    cached = _DETAIL_CACHE.get(detail)
    if cached is None:
        cached = frozenset(p.strip() for p in detail.split(",") if p.strip())
        if len(_DETAIL_CACHE) < 1024:
            _DETAIL_CACHE[detail] = cached
    return cached
