"""The aiohttp application: URL parsing, verb dispatch, JSON rendering, errors as `Status`.

One catch-all route parses Kubernetes paths (`/api/v1/namespaces/{ns}/{plural}/{name}/{sub}`,
`/apis/{group}/{version}/...`, discovery, OpenAPI) by hand, which is both simpler and faster than
a route per resource, and resources appear and disappear with CRDs anyway. Handlers translate
query parameters into `operations.Options`, apply injected faults, and render results; every
failure leaves as a `Status` object with the right HTTP code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web
from multidict import CIMultiDict

from localcluster import codec, control, discovery, errors, listing, selectors, tables, watch
from localcluster.faults import Faults
from localcluster.operations import Operations, Options, Result, Target
from localcluster.registry import Registry
from localcluster.store import Store, dumps

log = logging.getLogger(__name__)
Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as it arrived, before routing (an audit log's RequestReceived stage, no body).

    Enough for a test to derive what an authorizer would be asked (verb, resource, namespace,
    name) and to tell clients apart by their User-Agent.
    """

    method: str
    path: str
    query: str
    user_agent: str


@dataclass
class ServerState:
    """Everything a request handler needs; it outlives the aiohttp app across restarts."""

    registry: Registry
    store: Store
    ops: Operations
    faults: Faults
    bookmark_interval: float
    watch_buffer: int
    address: str
    restart: Callable[[float], Awaitable[None]]
    requests: list[RequestRecord] | None = None
    """Every request received, in order, when recording is on (None: off, nothing is kept)."""


STATE = web.AppKey("localcluster_state", ServerState)


def make_app(state: ServerState) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATE] = state
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def respond(code: int, body: Any, warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json"})
    for warning in warnings or ():
        headers.add("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
    return web.Response(status=code, body=dumps(body), headers=headers)


def failure(err: errors.StatusError) -> web.Response:
    resp = respond(err.code, err.status())
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if state.requests is not None:
        user_agent = request.headers.get("User-Agent", "")
        state.requests.append(RequestRecord(request.method, request.path, request.query_string, user_agent))
    try:
        return await _route(request, state)
    except errors.StatusError as err:
        return failure(err)
    except Exception as exc:  # the handler boundary: never let a traceback reach the client
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return failure(errors.internal(f"{type(exc).__name__}: {exc}"))


async def _route(request: web.Request, state: ServerState) -> web.StreamResponse:
    parts = [p for p in request.path.split("/") if p]
    head = parts[0] if parts else ""
    if head == "_localcluster":
        return await control.handle(request, state.faults, state.restart, parts[1:])
    resource_path = (head == "api" and len(parts) > 2) or (head == "apis" and len(parts) > 3)
    if request.method != "GET" and not resource_path:
        raise errors.method_not_allowed()
    if head in ("healthz", "livez", "readyz"):
        return web.Response(text="ok")
    if head == "version" and len(parts) == 1:
        return respond(200, discovery.SERVER_VERSION)
    if head == "openapi":
        return _openapi(state.registry, parts[1:])
    if head == "api":
        if len(parts) == 1:
            return respond(200, discovery.api_versions(state.address))
        return await _resources(request, state, "", parts[1], parts[2:])
    if head == "apis":
        if len(parts) == 1:
            return respond(200, discovery.api_group_list(state.registry))
        if len(parts) == 2:
            group_doc = discovery.api_group(state.registry, parts[1])
            if group_doc is None:
                raise errors.resource_not_found()
            return respond(200, group_doc)
        return await _resources(request, state, parts[1], parts[2], parts[3:])
    raise errors.resource_not_found()


def _openapi(registry: Registry, parts: list[str]) -> web.Response:
    if parts == ["v3"]:
        return respond(200, discovery.openapi_v3_root(registry))
    if len(parts) >= 3 and parts[0] == "v3":
        rest = parts[1:]
        group, version = (
            ("", rest[1])
            if rest[0] == "api" and len(rest) == 2
            else ((rest[1], rest[2]) if rest[0] == "apis" and len(rest) == 3 else ("", ""))
        )
        doc = discovery.openapi_v3_doc(registry, group, version) if version else None
        if doc is not None:
            return respond(200, doc)
    raise errors.resource_not_found()


def _split(rest: list[str]) -> tuple[str, list[str]]:
    """Separate `namespaces/{ns}/` from the resource part of a path."""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        return rest[1], rest[2:]
    return "", rest


async def _resources(
    request: web.Request, state: ServerState, group: str, version: str, rest: list[str]
) -> web.StreamResponse:
    if not rest:
        doc = discovery.resource_list(state.registry, group, version)
        if doc is None:
            raise errors.resource_not_found()
        return respond(200, doc)
    namespace, rest = _split(rest)
    if len(rest) > 3:
        raise errors.resource_not_found()
    rt = state.registry.lookup(group, version, rest[0])
    if rt is None or (namespace and not rt.namespaced):
        raise errors.resource_not_found()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and not (
        (sub == "status" and rt.status_subresource) or (sub == "finalize" and rt.plural == "namespaces")
    ):
        raise errors.resource_not_found()
    if rt.namespaced and name and not namespace:
        raise errors.resource_not_found()
    # namespaces/{name}/finalize only edits spec.finalizers: a plain update serves it.
    t = Target(rt, version, namespace, name, "" if sub == "finalize" else sub)
    return await _dispatch(request, state, t)


def _verb(method: str, t: Target, query: Any) -> str:
    """The Kubernetes verb of a request; anything a resource path does not offer is 405."""
    if method == "GET":
        if t.name:
            return "get"
        return "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
    if t.name:
        verb = {"PUT": "update", "PATCH": "patch"}.get(method)
        if method == "DELETE" and not t.subresource:
            verb = "delete"
    else:
        verb = {"POST": "create", "DELETE": "deletecollection"}.get(method)
    if verb is None:
        raise errors.method_not_allowed()
    return verb


async def _dispatch(request: web.Request, state: ServerState, t: Target) -> web.StreamResponse:
    query = request.query
    verb = _verb(request.method, t, query)
    resource = f"{t.rt.plural}/{t.subresource}" if t.subresource else t.rt.plural
    effects = await state.faults.before(verb, resource, t.namespace, t.name)
    if verb == "get":
        obj = state.ops.get(t)
        if tables.wants_table(request.headers.get("Accept", "")):
            return respond(
                200,
                tables.table(
                    t.rt,
                    t.version,
                    [obj],
                    {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    query.get("includeObject", "Metadata"),
                ),
            )
        return respond(200, obj)
    if verb in ("list", "watch"):
        return await _read_many(request, state, t, verb, effects)
    opts = _options(query)
    if verb == "create":
        result = await state.ops.create(t, await _body(request), opts)
    elif verb == "update":
        result = await state.ops.update(t, await _body(request), opts)
    elif verb == "patch":
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        result = await state.ops.patch(t, await _body(request, patch=True), content_type, opts)
    elif verb == "delete":
        result = await _delete(request, state, t, opts)
    else:
        result = await _delete_collection(request, state, t, opts)
    return respond(result.code, result.body, result.warnings)


def _options(query: Any) -> Options:
    dry_run = query.get("dryRun", "")
    if dry_run and dry_run != "All":
        raise errors.bad_request(f'dryRun: Unsupported value: "{dry_run}": supported values: "All"')
    validation = query.get("fieldValidation", "Warn") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )
    options: Manifest = {}
    if dry_run:
        options["dryRun"] = [dry_run]
    if query.get("fieldManager"):
        options["fieldManager"] = query["fieldManager"]
    return Options(dry_run=bool(dry_run), field_validation=validation, options=options)


async def _body(request: web.Request, patch: bool = False) -> Any:
    raw = await request.read()
    if not raw:
        if patch:
            raise errors.bad_request("the body of the request was empty")
        raise errors.bad_request("the request body is empty")
    content_type = request.headers.get("Content-Type", "")
    if "protobuf" in content_type or "cbor" in content_type:
        # kubectl's generators (create namespace/deployment, scale) send protobuf through typed clients.
        raise errors.StatusError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f'application/json, application/yaml (got "{content_type}"); this local API server does not '
            "decode protobuf, so create built-in objects from manifests (kubectl apply -f / create -f)",
        )
    try:
        if "yaml" in content_type and "apply-patch" not in content_type:
            return yaml.safe_load(raw)
        return codec.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc


def _query(request: web.Request) -> listing.Query:
    try:
        limit = int(request.query.get("limit") or 0)
    except ValueError:
        raise errors.bad_request(f"limit: invalid value {request.query.get('limit')!r}") from None
    return listing.Query(
        labels=selectors.parse_labels(request.query.get("labelSelector")),
        fields=selectors.parse_fields(request.query.get("fieldSelector")),
        limit=max(limit, 0),
        continue_token=request.query.get("continue", ""),
    )


async def _read_many(
    request: web.Request, state: ServerState, t: Target, verb: str, effects: Any
) -> web.StreamResponse:
    query = _query(request)
    accept = request.headers.get("Accept", "")
    table = tables.wants_table(accept)
    include = request.query.get("includeObject", "Metadata")
    if verb == "watch":
        render = None
        if table:

            def render(kind: str, obj: Manifest) -> bytes:
                view = tables.table(
                    t.rt,
                    t.version,
                    [obj],
                    {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    include,
                )
                return dumps({"type": kind, "object": view}) + b"\n"

        watcher = watch.Watcher(t, query, state.watch_buffer, render, effects.close_after)
        return await watch.serve(
            request, state.store, t, query, watcher, state.bookmark_interval, effects.expire
        )
    namespace = t.namespace if t.namespace else None
    items, list_meta = listing.page(
        state.store, listing.select(state.store, t.rt.key, namespace, query), query
    )
    if table:
        api_version = t.rt.api_version(t.version)
        objs = [o if o.get("apiVersion") == api_version else {**o, "apiVersion": api_version} for o in items]
        return respond(200, tables.table(t.rt, t.version, objs, list_meta, include))
    return respond(200, listing.envelope(t.rt.list_kind, t.rt.api_version(t.version), items, list_meta))


async def _delete_options(request: web.Request) -> Manifest:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = codec.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc
    return body if isinstance(body, dict) else {}


def _propagation(request: web.Request, body: Manifest) -> str | None:
    policy = request.query.get("propagationPolicy") or body.get("propagationPolicy")
    if policy is None and body.get("orphanDependents") is not None:
        policy = "Orphan" if body["orphanDependents"] else "Background"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: '
            '"Background", "Foreground", "Orphan"'
        )
    return policy


async def _delete(request: web.Request, state: ServerState, t: Target, opts: Options) -> Result:
    body = await _delete_options(request)
    if body.get("dryRun") == ["All"]:
        opts.dry_run = True
    opts.options = {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}
    return await state.ops.delete(t, opts, _propagation(request, body), body.get("preconditions"))


async def _delete_collection(request: web.Request, state: ServerState, t: Target, opts: Options) -> Result:
    body = await _delete_options(request)
    policy = _propagation(request, body)
    namespace = t.namespace if t.namespace else None
    deleted = []
    for obj in listing.select(state.store, t.rt.key, namespace, _query(request)):
        one = Target(t.rt, t.version, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        await state.ops.delete(one, Options(dry_run=opts.dry_run), policy)
        deleted.append(state.ops.out(t, obj))
    envelope = listing.envelope(
        t.rt.list_kind,
        t.rt.api_version(t.version),
        deleted,
        {"resourceVersion": str(state.store.resource_version)},
    )
    return Result(200, envelope, opts.warnings)
