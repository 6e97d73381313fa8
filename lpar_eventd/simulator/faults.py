"""Fault injection: the ways a real NovaLink misbehaves.

A fault is armed for the next ``count`` matching requests (or until
cleared, with ``count=None``). Kinds:

* ``error``: answer ``status`` (default 503) with the service-unavailable
  HttpError body, as pvm-rest does while it restarts;
* ``drop``: close the connection without an answer;
* ``slow``: answer normally after ``delay`` seconds;
* ``unauthorized``: answer 401 as if the token had expired;
* ``body``: answer the next event reads with ``status`` and the raw ``body``
  (malformed XML, a DOCTYPE, an empty 200...): served by the event route
  itself, so the middleware's ``match`` skips it (``match_body``).

Feed stalls and token expiry act on state rather than on one request and live
on the Simulator (``stall_feed``, ``expire_tokens``).

    faults.arm(Fault("error", count=3, path="/rest/api/uom/Event"))
    fault = faults.match("/rest/api/uom/Event")   # the armed fault, or None
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Fault", "Faults", "KINDS"]

KINDS = frozenset({"error", "drop", "slow", "unauthorized", "body"})


@dataclass
class Fault:
    kind: str
    count: int | None = 1
    path: str = "/rest/api/"  # prefix of the request paths it applies to
    status: int = 0  # 0: the kind's default (503; 200 for body)
    delay: float = 0.0
    body: bytes = b""
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose from "
                             f"{', '.join(sorted(KINDS))}")
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
        if not self.status:
            self.status = 200 if self.kind == "body" else 503
        if self.kind == "body" and not 200 <= self.status <= 599:
            raise ValueError(f"body fault status must be 2xx-5xx, not {self.status}")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be 4xx or 5xx, not {self.status}")
        if self.count is not None and self.count < 1:
            raise ValueError("fault count must be >= 1 (or None: until cleared)")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Fault":
        known = {"kind", "count", "path", "status", "delay", "body"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "count": self.count, "path": self.path,
                "status": self.status, "delay": self.delay, "fired": self.fired,
                "body": self.body.decode("utf-8", "replace")[:200]}


class Faults:
    """Armed faults, first armed first served."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        self._armed.append(fault)

    def clear(self) -> None:
        self._armed.clear()

    def armed(self) -> list[Fault]:
        return list(self._armed)

    def match(self, path: str, body: bool = False) -> Fault | None:
        """Consume one shot of the first fault that applies to ``path``
        (``body`` faults only with ``body=True``: the event route serves them)."""
        for fault in self._armed:
            if (fault.kind == "body") == body and path.startswith(fault.path):
                fault.fired += 1
                if fault.count is not None and fault.fired >= fault.count:
                    self._armed.remove(fault)
                return fault
        return None

    def match_body(self, path: str) -> Fault | None:
        return self.match(path, body=True)
