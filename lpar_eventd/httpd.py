"""The daemon's HTTP endpoint: /metrics (Prometheus), /healthz, and at /
a page linking both.

prometheus_client's own ``start_http_server`` has no basic auth and no
health route, so this wraps its WSGI app: optional basic auth against an
htpasswd-style file of bcrypt hashes (``htpasswd -B``), optional TLS, and
``/healthz`` answering 200 or 503 with the reason. Served by wsgiref's
threading server on a daemon thread; loopback by default.

    server = MetricsServer(registry, health=lambda: (True, "ok"), port=0).start()
    server.url        # 'http://127.0.0.1:41235'
    server.stop()
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
import ssl
import threading
from socketserver import ThreadingMixIn
from typing import Any
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bcrypt
from prometheus_client import CollectorRegistry, make_wsgi_app

from lpar_eventd import __version__

__all__ = ["MetricsServer", "load_basic_auth", "BasicAuthFileError"]

LOG = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, str]]


class BasicAuthFileError(ValueError):
    """The basic-auth file is missing or malformed (one clear line)."""


def load_basic_auth(path: str) -> dict[str, bytes]:
    """user -> bcrypt hash, from lines ``user:$2y$...`` (comments allowed)."""
    users: dict[str, bytes] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise BasicAuthFileError(f"cannot read basic_auth_file {path}: "
                                 f"{exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise BasicAuthFileError(f"{path} line {number}: expected user:bcrypt-hash "
                                     "(htpasswd -B)")
        users[user] = hashed.replace("$2y$", "$2b$", 1).encode("ascii")
    if not users:
        raise BasicAuthFileError(f"{path}: no users")
    return users


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        LOG.debug("metrics endpoint: " + format, *args)


# What a person pointing a browser at the port gets: the way to the two
# endpoints (relative links, so they work behind a path-prefix proxy).
LANDING_PAGE = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lpar_eventd</title></head>
<body><h1>lpar_eventd {html.escape(__version__)}</h1>
<ul>
<li><a href="metrics">/metrics</a>: Prometheus metrics</li>
<li><a href="healthz">/healthz</a>: health, 200 or 503 with the reason</li>
</ul></body></html>
""".encode()


class MetricsServer:
    """Serves one registry's /metrics and the daemon's /healthz."""

    def __init__(self, registry: CollectorRegistry, health: Health,
                 bind_host: str = "127.0.0.1", port: int = 9826,
                 cert_file: str | None = None, key_file: str | None = None,
                 basic_auth: dict[str, bytes] | None = None):
        self._metrics_app = make_wsgi_app(registry)
        self._health = health
        self._bind = (bind_host, port)
        self._tls = (cert_file, key_file) if cert_file and key_file else None
        self._users = basic_auth
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        scheme = "https" if self._tls else "http"
        host = f"[{host}]" if ":" in str(host) else host
        return f"{scheme}://{host}:{port}"

    def start(self) -> "MetricsServer":
        """Bind and serve (binding early lets start-up fail fast); idempotent."""
        if self._server is not None:
            return self
        server = make_server(self._bind[0], self._bind[1], self._app,
                             server_class=_ThreadingServer, handler_class=_QuietHandler)
        if self._tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="metrics-http",
                                        daemon=True)
        self._thread.start()
        LOG.info("Metrics on %s/metrics, health on %s/healthz", self.url, self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- WSGI ------------------------------------------------------------------
    def _app(self, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok, reason = self._health()
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [(reason + "\n").encode()]
        if self._users is not None and not self._authorized(environ):
            start_response("401 Unauthorized", [
                ("WWW-Authenticate", 'Basic realm="lpar_eventd"'),
                ("Content-Type", "text/plain")])
            return [b"unauthorized\n"]
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [LANDING_PAGE]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    def _authorized(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode(
                "utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = (self._users or {}).get(user)
        return hashed is not None and bcrypt.checkpw(password.encode("utf-8"), hashed)
