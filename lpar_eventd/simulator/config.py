"""Simulator settings, with NovaLink's defaults.

The long-poll wait must stay below the client's read timeout: pypowervm's
EventListener reads the feed with the Session's timeout (1200 s by default),
so NovaLink's 10 s is far inside it; a test that shortens the Session
timeout must shorten ``long_poll`` more.

    SimConfig(port=0, https_port=0, long_poll=0.5, certfile=..., keyfile=...)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SimConfig", "DEFAULT_USERS"]

# The credentials of the captures in shared/novalink-wire.
DEFAULT_USERS = {"hscroot": "abc123"}


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int | None = 12080            # None: no plain HTTP listener
    https_port: int | None = None       # None: no HTTPS listener (NovaLink: 12443)
    certfile: str | None = None         # PEM server cert (chain) for HTTPS
    keyfile: str | None = None
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    allow_file_auth: bool = True
    token_ttl: float | None = None      # seconds a token lives; None: until logoff
    long_poll: float = 10.0             # seconds an empty feed read waits
    max_events_per_response: int = 100
    max_queue: int = 10_000             # per application id, then MISSING_EVENTS
    speed: float = 1.0                  # default time compression for plays
    seed: int = 1                       # jitter of live operations
    control: bool = True                # serve the /sim control API (loopback only)
    shutdown_timeout: float = 1.0

    def __post_init__(self) -> None:
        if self.port is None and self.https_port is None:
            raise ValueError("need at least one of port and https_port")
        if self.https_port is not None and not (self.certfile and self.keyfile):
            raise ValueError("https_port needs certfile and keyfile")
        if self.long_poll < 0 or self.max_events_per_response < 1 or self.max_queue < 1:
            raise ValueError("long_poll >= 0, max_events_per_response >= 1, "
                             "max_queue >= 1")
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
