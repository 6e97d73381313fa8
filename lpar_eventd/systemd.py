"""sd_notify over $NOTIFY_SOCKET: READY, STATUS, WATCHDOG, STOPPING.

oslo.service's threading backend does not notify systemd, and the daemon
wants more than READY: a watchdog ping from the scheduler loop (so a wedged
scheduler gets restarted) and a STATUS line (health and pending count) kept
current, so ``systemctl status`` says why a daemon is not healthy. The
protocol is one datagram of newline-separated assignments; without
$NOTIFY_SOCKET every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

__all__ = ["Notifier"]

LOG = logging.getLogger(__name__)

#: the STATUS line changes at most this often (seconds): it carries counts
STATUS_EVERY = 1.0


class Notifier:
    """Sends sd_notify messages; rate-limits watchdog pings to half the interval."""

    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self._watchdog_every = int(usec) / 2e6 if usec.isdigit() and mine else None
        self._last_ping = float("-inf")
        self._status = ""
        self._status_at = float("-inf")

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, self._address)
        except OSError as exc:
            LOG.warning("sd_notify to %r failed: %s", self._address, exc)
            return False
        for assignment in assignments:
            if assignment.startswith("STATUS="):
                self._status = assignment[len("STATUS="):]
        return True

    def watchdog(self, status: str) -> None:
        """From the scheduler loop: WATCHDOG=1 every half interval (if systemd
        asked for a watchdog), STATUS when it changed (at most once a second)."""
        if self._address is None:
            return
        now = time.monotonic()
        parts = []
        if self._watchdog_every is not None and now - self._last_ping >= self._watchdog_every:
            self._last_ping = now
            parts.append("WATCHDOG=1")
        if status != self._status and now - self._status_at >= STATUS_EVERY:
            self._status_at = now
            parts.append(f"STATUS={status}")
        if parts:
            self.notify(*parts)
