"""The one error the nova adapters raise: nova cannot be asked right now.

The engine treats any exception from a port as "retry later with backoff"
and logs it; what it logs is ``str(exc)``. A raw oslo.db error embeds the
whole SQL statement (dozens of lines), and a raw oslo.messaging timeout says
nothing about which nova it was talking to, so both are translated here into
one line that names the cause and the endpoint.

    try:
        objects.Instance.get_by_uuid(ctx, uuid)
    except Exception as exc:
        raise unavailable("database sqlite:///nova.sqlite", exc) from exc
"""

from __future__ import annotations

__all__ = ["NovaUnavailable", "unavailable", "one_line"]


class NovaUnavailable(Exception):
    """Nova (its database or its conductor) did not answer; retry later."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


def one_line(exc: BaseException, limit: int = 200) -> str:
    """``ExceptionClass: first line of its message`` (no SQL, no traceback)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > limit:
        first = first[:limit - 3] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def unavailable(endpoint: str, exc: BaseException) -> NovaUnavailable:
    """A NovaUnavailable naming ``endpoint`` and the cause in one line."""
    return NovaUnavailable(f"nova {endpoint} unavailable: {one_line(exc)}", exc)
