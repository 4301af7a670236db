"""HTTP control endpoints under `/_localcluster/` for out-of-process tests.

GET    /_localcluster/faults            list fault rules
POST   /_localcluster/faults            add a rule (FaultRule fields as JSON) -> 201 {"rule": ...}
DELETE /_localcluster/faults            remove all rules
DELETE /_localcluster/faults/{id}       remove one rule
POST   /_localcluster/watches/close     cut every open watch -> {"closed": n}
POST   /_localcluster/watches/expire    the next `count` watches get 410 Gone
POST   /_localcluster/restart           stop and restart on the same port after `downtimeSeconds`
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from localcluster import errors
from localcluster.faults import FaultRule, Faults
from localcluster.store import dumps

Manifest = dict[str, Any]


def _json(code: int, body: Manifest) -> web.Response:
    return web.Response(status=code, body=dumps(body), content_type="application/json")


async def _read(request: web.Request) -> Manifest:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return body


async def handle(
    request: web.Request, faults: Faults, restart: Callable[[float], Awaitable[None]], parts: list[str]
) -> web.Response:
    method = request.method
    if parts == ["faults"] and method == "GET":
        return _json(200, {"rules": [r.to_json() for r in faults.rules]})
    if parts == ["faults"] and method == "POST":
        rule = faults.add(FaultRule.from_json(await _read(request)))
        return _json(201, {"rule": rule.to_json()})
    if parts == ["faults"] and method == "DELETE":
        faults.clear()
        return _json(200, {"rules": []})
    if len(parts) == 2 and parts[0] == "faults" and method == "DELETE" and parts[1].isdigit():
        faults.remove(int(parts[1]))
        return _json(200, {"rules": [r.to_json() for r in faults.rules]})
    if parts == ["watches", "close"] and method == "POST":
        return _json(200, {"closed": faults.close_watches()})
    if parts == ["watches", "expire"] and method == "POST":
        body = await _read(request)
        rule = faults.expire_next_watches(int(body.get("count", 1)), str(body.get("resource", "")))
        return _json(201, {"rule": rule.to_json()})
    if parts == ["restart"] and method == "POST":
        body = await _read(request)
        await restart(float(body.get("downtimeSeconds", 0.0)))
        return _json(202, {"restarting": True})
    raise errors.resource_not_found()
