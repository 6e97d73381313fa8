"""The NovaLink REST routes pypowervm talks to.

Logon/logoff (``/rest/api/web/Logon``), the event feed, LogicalPartition and
VirtualIOServer (root and ManagedSystem-child forms, entries, quick
properties, ``?group=NVRAM``) and the ManagedSystem root. Bodies come from
``wire``; errors are raised as ``NovaLinkError`` and rendered as HttpError
entries by the application's middleware, so every failure looks like
NovaLink's.

    app.add_routes(routes(core))
"""

from __future__ import annotations

from aiohttp import web

from lpar_eventd.simulator import wire
from lpar_eventd.simulator.auth import BadLogonRequest, LogonError
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.host import UnknownPartition
from lpar_eventd.simulator.partition import Partition

__all__ = ["routes", "NovaLinkError", "CORE", "SESSION_HEADER"]

CORE: web.AppKey[SimCore] = web.AppKey("core", SimCore)
SESSION_HEADER = "X-API-Session"
UOM = "/rest/api/uom"
_MAX_LOGON_BODY = 64 * 1024


class NovaLinkError(Exception):
    """An error answer: status, message and NovaLink's ReasonCode."""

    def __init__(self, status: int, message: str, reason: str = "Unknown internal error."):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def _core(request: web.Request) -> SimCore:
    return request.app[CORE]


def _base(request: web.Request) -> str:
    """The scheme://host:port the client used, for hrefs in bodies."""
    return f"{request.scheme}://{request.host}"


def _atom(body: bytes, etag: str | None = None) -> web.Response:
    headers = {"ETag": etag} if etag else None
    return web.Response(body=body, content_type=wire.ATOM_XML, headers=headers)


# -- logon ---------------------------------------------------------------------
async def logon(request: web.Request) -> web.Response:
    body = await request.content.read(_MAX_LOGON_BODY + 1)
    if len(body) > _MAX_LOGON_BODY:
        raise NovaLinkError(413, "LogonRequest too large")
    core = _core(request)
    try:
        result = core.auth.logon(body)
    except BadLogonRequest as exc:
        raise NovaLinkError(400, str(exc), "Bad request") from None
    except LogonError as exc:
        core.counters.add("logons_failed")
        raise NovaLinkError(401, str(exc), "Unauthorized") from None
    core.counters.add_label("logons", "file" if result.file else "password")
    payload = (wire.logon_file_response(result.file) if result.file
               else wire.logon_response(result.token))
    return web.Response(body=payload, headers={"X-MC-Type": "PVM"},
                        content_type="application/vnd.ibm.powervm.web+xml")


async def logoff(request: web.Request) -> web.Response:
    _core(request).auth.logoff(request.headers.get(SESSION_HEADER))
    return web.Response(status=204)


# -- events ----------------------------------------------------------------------
async def events(request: web.Request) -> web.Response:
    core = _core(request)
    bad = core.faults.match_body(request.path)
    if bad is not None:  # an injected malformed answer, queue left as it is
        core.counters.add_label("faults_fired", bad.kind)
        return web.Response(status=bad.status, body=bad.body or None,
                            content_type=wire.ATOM_XML)
    app_id = (request.query.get("QUEUE_APPLICATIONID")
              or request.headers.get(SESSION_HEADER, ""))
    batch = await core.queues.take(app_id, core.max_per_response, core.long_poll)
    if not batch:
        return web.Response(status=204)
    for event in batch:
        core.counters.add_label("events_sent", event.event_type)
    return _atom(wire.event_feed(_base(request), batch))


# -- partitions --------------------------------------------------------------------
def _check_ms(request: web.Request) -> None:
    ms = request.match_info.get("ms")
    if ms is not None and ms.upper() != _core(request).host.ms_uuid:
        raise NovaLinkError(404, f"ManagedSystem {ms} not found", "Not found")


def _lpar_or_404(request: web.Request) -> Partition:
    _check_ms(request)
    uuid = request.match_info["uuid"]
    try:
        return _core(request).host.lpar(uuid)
    except UnknownPartition:
        raise NovaLinkError(404, f"LogicalPartition {uuid} not found",
                            "Not found") from None


def _vios_or_404(request: web.Request) -> Partition:
    _check_ms(request)
    uuid = request.match_info["uuid"]
    try:
        return _core(request).host.vios_partition(uuid)
    except UnknownPartition:
        raise NovaLinkError(404, f"VirtualIOServer {uuid} not found",
                            "Not found") from None


def _wants_nvram(request: web.Request) -> bool:
    return "NVRAM" in request.query.get("group", "").split(",")


def _render(request: web.Request, part: Partition, nvram: bool = False) -> str:
    core = _core(request)
    base = _base(request)
    if part.kind == "VirtualIOServer":
        href = base + core.host.vios_path(part.uuid)
        return wire.vios_entry(base, href, part.view(core.host.ms_uuid))
    href = base + core.host.lpar_path(part.uuid)
    return wire.lpar_entry(base, href, part.view(core.host.ms_uuid),
                           part.nvram if nvram else None)


async def lpar_feed(request: web.Request) -> web.Response:
    _check_ms(request)
    core = _core(request)
    parts = list(core.host.lpars.values())
    if not parts:
        return web.Response(status=204)  # NovaLink: an empty feed is a 204
    nvram = _wants_nvram(request)
    entries = [_render(request, p, nvram) for p in parts]
    return _atom(wire.feed(_base(request), request.path, entries))


async def lpar_entry(request: web.Request) -> web.Response:
    part = _lpar_or_404(request)
    body = _render(request, part, _wants_nvram(request))
    return _atom(_as_entry(body), etag=str(part.revision))


async def vios_feed(request: web.Request) -> web.Response:
    _check_ms(request)
    parts = list(_core(request).host.vios.values())
    if not parts:
        return web.Response(status=204)
    entries = [_render(request, p) for p in parts]
    return _atom(wire.feed(_base(request), request.path, entries))


async def vios_entry(request: web.Request) -> web.Response:
    part = _vios_or_404(request)
    return _atom(_as_entry(_render(request, part)), etag=str(part.revision))


def _as_entry(entry: str) -> bytes:
    """A top-level entry document: the feed entry with the Atom namespaces."""
    head = ('<entry xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:ns3="http://www.w3.org/1999/xhtml">')
    return entry.strip().replace("<entry>", head, 1).encode() + b"\n"


async def quick(request: web.Request) -> web.Response:
    """``.../quick`` and ``.../quick/All``: every quick property as an object;
    ``.../quick/<Name>``: that property as a bare JSON value."""
    part = _lpar_or_404(request)
    values = part.quick(_core(request).host.ms_uuid)
    prop = request.match_info.get("prop", "All")
    if prop != "All":
        if prop not in values:
            raise NovaLinkError(404, f"quick property {prop} not found", "Not found")
        return web.Response(body=wire.quick_json(values[prop]), content_type=wire.JSON)
    return web.Response(body=wire.quick_json(values), content_type=wire.JSON)


# -- the managed system ----------------------------------------------------------
async def ms_feed(request: web.Request) -> web.Response:
    host = _core(request).host
    entry = wire.ms_entry(_base(request), host.ms_uuid, host.ms_name)
    return _atom(wire.feed(_base(request), request.path, [entry]))


async def ms_entry(request: web.Request) -> web.Response:
    _check_ms(request)
    host = _core(request).host
    return _atom(_as_entry(wire.ms_entry(_base(request), host.ms_uuid, host.ms_name)))


def routes() -> list[web.RouteDef]:
    ms = UOM + "/ManagedSystem/{ms}"
    table = [web.put("/rest/api/web/Logon", logon),
             web.delete("/rest/api/web/Logon", logoff),
             web.get(UOM + "/Event", events),
             web.get(UOM + "/ManagedSystem", ms_feed),
             web.get(ms, ms_entry)]
    for prefix in (UOM, ms):
        lpar = prefix + "/LogicalPartition"
        vios = prefix + "/VirtualIOServer"
        table += [web.get(lpar, lpar_feed), web.get(lpar + "/{uuid}", lpar_entry),
                  web.get(lpar + "/{uuid}/quick", quick),
                  web.get(lpar + "/{uuid}/quick/{prop}", quick),
                  web.get(vios, vios_feed), web.get(vios + "/{uuid}", vios_entry)]
    return table
