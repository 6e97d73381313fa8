"""The control API under ``/sim``: drive the simulator over HTTP (loopback only).

JSON in, JSON out. The same operations as the Python API, for the CLI
simulator and for harnesses in another process:

    GET    /sim/status                      counts, queue depths, armed faults
    GET    /sim/counters                    what was produced and sent
    GET    /sim/lpars                       uuid -> state
    POST   /sim/lpars                       {"uuid", "state"?, "name"?}: ADD_URI
    POST   /sim/lpars/{uuid}/state          {"state": "running"}
    POST   /sim/lpars/{uuid}/op             {"op": "reboot", "speed"?}
    POST   /sim/lpars/{uuid}/power          {"action": "off"|"on", "speed"?}: a
                                            management power call; answers when
                                            its events are out: {"changed", "state"}
    POST   /sim/scenario                    {"name", "lpars"?, "seed"?, "speed"?}
    POST   /sim/replay                      {"path", "speed"?}
    POST   /sim/events                      {"count", "detail"?, "type"?}
    POST   /sim/faults                      {"kind", "count"?, "path"?, "status"?, "delay"?}
    DELETE /sim/faults
    POST   /sim/restart                     {"drop_sessions"?}
    POST   /sim/expire-tokens
    POST   /sim/stall                       {"seconds"}
    POST   /sim/stop-plays
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lpar_eventd.scale.scenarios import build
from lpar_eventd.simulator.core import SimCore
from lpar_eventd.simulator.faults import Fault
from lpar_eventd.simulator.replay import ReplayFormatError, read_jsonl
from lpar_eventd.simulator.rest import CORE

__all__ = ["routes", "ControlError"]


class ControlError(Exception):
    """A bad control request: answered with this status and a JSON error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _core(request: web.Request) -> SimCore:
    return request.app[CORE]


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _ok(**data: Any) -> web.Response:
    return web.json_response({"ok": True, **data})


async def status(request: web.Request) -> web.Response:
    return web.json_response(_core(request).status())


async def counters(request: web.Request) -> web.Response:
    return web.json_response(_core(request).counters.snapshot())


async def lpars(request: web.Request) -> web.Response:
    return web.json_response({u: p.state for u, p in _core(request).host.lpars.items()})


async def add_lpar(request: web.Request) -> web.Response:
    data = await _json(request)
    _core(request).add_lpar(str(data["uuid"]), str(data.get("state", "not activated")),
                            data.get("name"))
    return _ok()


async def set_state(request: web.Request) -> web.Response:
    data = await _json(request)
    _core(request).set_state(request.match_info["uuid"], str(data["state"]))
    return _ok()


async def operate(request: web.Request) -> web.Response:
    data = await _json(request)
    _core(request).operate(request.match_info["uuid"], str(data["op"]), data.get("speed"))
    return _ok()


async def power(request: web.Request) -> web.Response:
    data = await _json(request)
    core = _core(request)
    uuid = request.match_info["uuid"]
    try:
        task = core.power(uuid, str(data.get("action", "")), data.get("speed"))
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    if task is not None:
        await task
    return _ok(changed=task is not None, state=core.host.lpar(uuid).state)


async def scenario(request: web.Request) -> web.Response:
    data = await _json(request)
    sc = build(str(data["name"]), int(data.get("lpars", 50)), int(data.get("seed", 1)))
    _core(request).play(sc, data.get("speed"))
    return _ok(steps=len(sc.steps), duration=sc.duration)


async def replay(request: web.Request) -> web.Response:
    data = await _json(request)
    try:
        events = read_jsonl(str(data["path"]))
    except (OSError, ReplayFormatError) as exc:
        raise ControlError(400, str(exc)) from None
    _core(request).replay(events, data.get("speed"))
    return _ok(events=len(events))


async def push_events(request: web.Request) -> web.Response:
    data = await _json(request)
    count = await _core(request).push_events_chunked(int(data.get("count", 1)),
                                       str(data.get("detail", "ReferenceCode,Other")),
                                       str(data.get("type", "MODIFY_URI")))
    return _ok(count=count)


async def arm_fault(request: web.Request) -> web.Response:
    _core(request).faults.arm(Fault.from_dict(await _json(request)))
    return _ok()


async def clear_faults(request: web.Request) -> web.Response:
    _core(request).faults.clear()
    return _ok()


async def restart(request: web.Request) -> web.Response:
    data = await _json(request)
    _core(request).restart(bool(data.get("drop_sessions", False)))
    return _ok()


async def expire_tokens(request: web.Request) -> web.Response:
    return _ok(expired=_core(request).auth.expire_all())


async def stall(request: web.Request) -> web.Response:
    data = await _json(request)
    _core(request).stall_feed(float(data["seconds"]))
    return _ok()


async def stop_plays(request: web.Request) -> web.Response:
    return _ok(cancelled=_core(request).cancel_plays())


def routes() -> list[web.RouteDef]:
    return [web.get("/sim/status", status), web.get("/sim/counters", counters),
            web.get("/sim/lpars", lpars), web.post("/sim/lpars", add_lpar),
            web.post("/sim/lpars/{uuid}/state", set_state),
            web.post("/sim/lpars/{uuid}/op", operate),
            web.post("/sim/lpars/{uuid}/power", power),
            web.post("/sim/scenario", scenario), web.post("/sim/replay", replay),
            web.post("/sim/events", push_events), web.post("/sim/faults", arm_fault),
            web.delete("/sim/faults", clear_faults), web.post("/sim/restart", restart),
            web.post("/sim/expire-tokens", expire_tokens), web.post("/sim/stall", stall),
            web.post("/sim/stop-plays", stop_plays)]
