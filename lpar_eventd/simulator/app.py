"""The aiohttp application: routes plus the guard every request goes through.

Middleware, outermost first:

* ``guard``: the logged boundary. Whatever a handler raises becomes an
  answer (NovaLink's HttpError entry for ``/rest``, a JSON error for
  ``/sim``), never a crash; every answer is counted by status.
* ``faults``: injected errors, drops, slow answers and 401s (``/rest`` only).
* ``authenticate``: ``/rest`` needs a live ``X-API-Session`` except to log on.

The control API answers loopback clients only.

    app = build_app(core)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from lpar_eventd.simulator import control, rest, wire
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.faults import Fault
from lpar_eventd.simulator.host import UnknownPartition
from lpar_eventd.simulator.rest import CORE, SESSION_HEADER, NovaLinkError

__all__ = ["build_app"]

LOG = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_UNAVAILABLE = "Service Unavailable: the REST server is not ready, retry later"


def _error(request: web.Request, status: int, message: str,
           reason: str = "Unknown internal error.") -> web.Response:
    if request.path.startswith("/sim"):
        return web.json_response({"ok": False, "error": message}, status=status)
    body = wire.http_error(status, request.path, message, reason)
    return web.Response(status=status, body=body, content_type=wire.ATOM_XML)


def _count(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    request.app[CORE].counters.add_label("responses", str(response.status))
    return response


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return _count(request, await handler(request))
    except NovaLinkError as exc:
        return _count(request, _error(request, exc.status, exc.message, exc.reason))
    except control.ControlError as exc:
        return _count(request, _error(request, exc.status, exc.message))
    except web.HTTPException as exc:  # aiohttp's own 404/405/413...
        return _count(request, _error(request, exc.status, exc.reason, exc.reason))
    except UnknownPartition as exc:
        return _count(request, _error(request, 404, f"no partition {exc.args[0]}"))
    except (KeyError, ValueError, TypeError) as exc:
        return _count(request, _error(request, 400, f"bad request: {exc!r}", "Bad request"))
    except asyncio.CancelledError:
        raise
    except Exception:  # the logged boundary: the simulator never crashes
        LOG.exception("simulator: error handling %s %s", request.method, request.path)
        return _count(request, _error(request, 500, "internal simulator error"))


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/rest/"):
        return await handler(request)
    fault = request.app[CORE].faults.match(request.path)
    if fault is None:
        return await handler(request)
    request.app[CORE].counters.add_label("faults_fired", fault.kind)
    return await _fire(request, handler, fault)


async def _fire(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    if fault.kind == "drop":
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=599)  # never reaches the client
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if fault.kind == "unauthorized":
        raise NovaLinkError(401, "session expired", "Unauthorized")
    raise NovaLinkError(fault.status, _UNAVAILABLE if fault.status == 503
                        else "injected error")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/sim"):
        if not _loopback(request):
            raise NovaLinkError(403, "control API is loopback only", "Forbidden")
        return await handler(request)
    logging_on = path == "/rest/api/web/Logon" and request.method == "PUT"
    if path.startswith("/rest/") and not logging_on:
        if not request.app[CORE].auth.valid(request.headers.get(SESSION_HEADER)):
            raise NovaLinkError(401, "Authorization required: no valid session",
                                "Unauthorized")
    return await handler(request)


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def build_app(core: SimCore) -> web.Application:
    app = web.Application(middlewares=[guard, faults, authenticate],
                          client_max_size=1024 * 1024)
    app[CORE] = core
    app.add_routes(rest.routes())
    if core.config.control:
        app.add_routes(control.routes())
    return app
