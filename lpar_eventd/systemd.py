"""sd_notify over $NOTIFY_SOCKET: READY, STATUS, WATCHDOG, STOPPING.

oslo.service's threading backend does not notify systemd, and the daemon
wants more than READY: a watchdog ping from the scheduler loop (so a wedged
scheduler gets restarted) and a STATUS line with the pending count. The
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
        self._last_ping = 0.0

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
        return True

    def watchdog(self, status: str) -> None:
        """From the scheduler loop: WATCHDOG=1 (if asked for) and STATUS."""
        now = time.monotonic()
        every = self._watchdog_every if self._watchdog_every is not None else 5.0
        if self._address is None or now - self._last_ping < every:
            return
        self._last_ping = now
        if self._watchdog_every is not None:
            self.notify("WATCHDOG=1", f"STATUS={status}")
        else:
            self.notify(f"STATUS={status}")
