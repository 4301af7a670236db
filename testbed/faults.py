"""An HTTP fault proxy between one client (the reconciler under test) and the real API server.

    proxy = FaultProxy(cp.url, ssl.create_default_context(cafile=cp.ca_file)).start()
    client = Client(ClientConfig(host=proxy.url, token=...))   # plain HTTP on 127.0.0.1
    proxy.fail_next("create", "deployments", code=500)
    proxy.add(verbs={"create"}, code=429, rate=0.05, retry_after=1)
    proxy.close_watches()                                       # cut every open watch stream now
    proxy.add(verbs={"watch"}, close_watch_after=2)             # next watch ends mid-event 3

The client speaks plain HTTP to the proxy, which forwards every request (credentials included)
over verified TLS and streams the answer back, so watches stay watches. Rules match requests by
verb, resource (``deployments`` or ``deployments/status``), namespace and name, derived from the
method, path and query the way the API server derives them, and fire for the next N matching
requests (``times``) or with a probability drawn from a seeded generator (``rate``). A rule
answers an error as the API server would (a ``Status`` body; 429 with ``Retry-After``), adds
latency, resets the connection, answers a watch with an ``ERROR`` event carrying ``410 Expired``,
or lets a watch run for N events and then cuts it halfway through the next one.

Every request is also recorded (method, path, query, User-Agent, status): the RBAC coverage test
reads what the reconciler asked. The proxy runs its own event loop in a thread, so synchronous
tests can use it and the test's own loop has no tasks of the proxy's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import socket
import ssl
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import orjson
from aiohappyeyeballs import AddrInfoType
from aiohttp import web

Manifest = dict[str, Any]
VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
)
REASONS = {
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(slots=True)
class FaultRule:
    """One injected fault. Empty matchers match every request."""

    verbs: frozenset[str] = frozenset()
    resource: str = ""
    namespace: str = ""
    name: str = ""
    code: int = 0
    """An error answer instead of forwarding (0: forward)."""
    retry_after: int = 1
    latency: float = 0.0
    reset: bool = False
    """Drop the connection without an answer, as a crashing server or a broken network would."""
    times: int | None = None
    rate: float = 1.0
    close_watch_after: int | None = None
    """Watches: forward this many events, then half of the next one, then cut the connection."""
    expire_watch: bool = False
    """Watches: answer with an ``ERROR`` event carrying 410 Expired, as for a compacted version."""
    id: int = 0
    fired: int = 0

    def matches(self, info: RequestInfo) -> bool:
        return (
            (not self.verbs or info.verb in self.verbs)
            and (not self.resource or self.resource == info.resource)
            and (not self.namespace or self.namespace == info.namespace)
            and (not self.name or self.name == info.name)
        )


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the API server's request-info resolver makes of a request (resource requests only)."""

    verb: str
    resource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the proxy received."""

    method: str
    path: str
    query: str
    user_agent: str
    status: int


def request_info(method: str, path: str, query: str) -> RequestInfo:
    """Verb, resource (with subresource), namespace and name of a request."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) > 2:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        rest = parts[3:]
    else:
        return RequestInfo(method.lower())
    namespace = ""
    # /namespaces/{ns}/{resource}/...; a namespace's own subresources are status and finalize.
    if rest[:1] == ["namespaces"] and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource += "/" + rest[2]
    params = parse_qs(query)
    watching = params.get("watch", [""])[0] in ("1", "true", "True")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "get")
    if verb == "get" and (watching or not name):
        verb = "watch" if watching else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(verb, resource, namespace, name)


def status_body(code: int, message: str, retry_after: int = 0) -> bytes:
    body: Manifest = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "InternalError" if code >= 500 else "BadRequest"),
        "code": code,
    }
    if code == 429:
        body["details"] = {"retryAfterSeconds": retry_after}
    return orjson.dumps(body)


class FaultProxy:
    """Forwards plain HTTP on 127.0.0.1 to `upstream` (https), applying the fault rules."""

    def __init__(self, upstream: str, ssl_context: ssl.SSLContext, *, seed: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self._ssl = ssl_context
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.requests: list[RequestRecord] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watches: set[web.StreamResponse] = set()
        self._upstream_sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ----- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        # Closed transports finish in callbacks (connection_lost) that may schedule more; run
        # them out here, with the loop no longer running in its thread, before closing it.
        for _ in range(5):
            self._loop.run_until_complete(asyncio.sleep(0))
        self._close_stranded_upstreams()
        self._loop.close()

    def _upstream_socket(self, addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=type_, proto=proto)
        self._upstream_sockets.add(sock)
        return sock

    def _close_stranded_upstreams(self) -> None:
        """Close the upstream connections nobody holds any more.

        CPython 3.11 ignores close() of a TLS transport whose handshake has not begun (sslproto's
        `_start_shutdown` in state UNWRAPPED): a request cancelled in the instant its connection is
        made (a client leaving, `stop` cancelling handlers) leaves that connection open, held only
        by this loop, and the garbage collector reports it as unclosed in whatever test runs then.
        Shutting such a socket down makes its transport read end-of-file and close itself.
        """
        stranded = [sock for sock in self._upstream_sockets if sock.fileno() != -1]
        for sock in stranded:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _ in range(20):  # loop turns, not time: each closes what the last one read
            if all(sock.fileno() == -1 for sock in stranded):
                return
            self._loop.run_until_complete(asyncio.sleep(0))

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        # No pool limit: every open watch holds a connection upstream.
        connector = aiohttp.TCPConnector(ssl=self._ssl, limit=0, socket_factory=self._upstream_socket)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A client that hangs up must end its handler, or a forwarded watch would wait on the API
        # server for ever; aiohttp leaves handlers running unless told to cancel them.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._cut_watches()
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers still forwarding (a watch whose client left) end before the upstream session
        # closes, so each hands its connection back and the session closes every socket.
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # ----- rules -----------------------------------------------------------------------------------

    def add(self, rule: FaultRule | None = None, *, verbs: Iterable[str] = (), **fields: Any) -> FaultRule:
        rule = rule or FaultRule(verbs=frozenset(verbs), **fields)
        unknown = rule.verbs - VERBS
        if unknown:
            raise ValueError(f"unknown verbs {sorted(unknown)}; known: {sorted(VERBS)}")
        with self._lock:
            rule.id = next(self._ids)
            self.rules.append(rule)
        return rule

    def fail_next(
        self, verb: str, resource: str, code: int = 500, times: int = 1, **fields: Any
    ) -> FaultRule:
        """The next `times` `verb` requests on `resource` fail with `code`."""
        return self.add(verbs={verb}, resource=resource, code=code, times=times, **fields)

    def expire_next_watches(self, count: int = 1, resource: str = "") -> FaultRule:
        return self.add(verbs={"watch"}, resource=resource, times=count, expire_watch=True)

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules = [r for r in self.rules if r.id != rule.id]

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def close_watches(self) -> int:
        """End every open watch stream now; returns how many were cut."""
        future = asyncio.run_coroutine_threadsafe(self._cut_watches_async(), self._loop)
        return future.result(10)

    async def _cut_watches_async(self) -> int:
        return self._cut_watches()

    def _cut_watches(self) -> int:
        cut = 0
        for response in list(self._watches):
            transport = response._req.transport if response._req is not None else None
            if transport is not None and not transport.is_closing():
                transport.abort()
                cut += 1
        self._watches.clear()
        return cut

    def _fire(self, info: RequestInfo) -> list[FaultRule]:
        """The rules that act on this request, in the order added; the first that answers it (an
        error or a reset) is the last to fire, so a rule behind it keeps its turn for later."""
        fired = []
        with self._lock:
            for rule in list(self.rules):
                if not rule.matches(info):
                    continue
                if rule.times is None and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                if rule.times is not None and rule.fired >= rule.times:
                    self.rules.remove(rule)
                fired.append(rule)
                if rule.code or rule.reset:
                    break
        return fired

    # ----- forwarding ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        info = request_info(request.method, request.path, request.query_string)
        status = 0
        try:
            response = await self._answer(request, info)
            status = response.status
            return response
        finally:
            record = RequestRecord(
                request.method,
                request.path,
                request.query_string,
                request.headers.get("User-Agent", ""),
                status,
            )
            with self._lock:
                self.requests.append(record)

    async def _answer(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        close_after: int | None = None
        expire = False
        for rule in self._fire(info):
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.reset:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # aiohttp drops a cancelled handler's connection quietly
            if rule.code:
                headers = {"Retry-After": str(rule.retry_after)} if rule.code == 429 else {}
                message = (
                    "injected fault" if rule.code != 409 else f"the object has been modified ({info.name})"
                )
                return web.Response(
                    status=rule.code,
                    body=status_body(rule.code, message, rule.retry_after),
                    headers=headers,
                    content_type="application/json",
                )
            close_after = rule.close_watch_after if rule.close_watch_after is not None else close_after
            expire = expire or rule.expire_watch
        if expire and info.verb == "watch":
            event = {"type": "ERROR", "object": orjson.loads(status_body(410, "too old resource version"))}
            return web.Response(body=orjson.dumps(event) + b"\n", content_type="application/json")
        return await self._forward(request, info, close_after)

    async def _forward(
        self, request: web.Request, info: RequestInfo, close_after: int | None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        url = f"{self.upstream}{request.path_qs}"
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        except aiohttp.ClientError as e:
            return web.Response(status=502, body=status_body(503, f"fault proxy: upstream unreachable: {e}"))
        async with upstream:
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            if info.verb != "watch":
                return web.Response(status=upstream.status, body=await upstream.read(), headers=out_headers)
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            await response.prepare(request)
            self._watches.add(response)
            finished = False
            try:
                await self._stream(upstream, response, close_after)
                finished = True
            except (aiohttp.ClientError, ConnectionError):
                pass  # either side went away: the watch ends, as a cut connection ends it
            finally:
                self._watches.discard(response)
                if not finished:
                    # A watch cut short (or a handler cancelled) drops its upstream connection
                    # at once; a graceful TLS close would need the loop after it has stopped.
                    connection = upstream.connection
                    if connection is not None and connection.transport is not None:
                        connection.transport.abort()
            return response

    async def _stream(
        self, upstream: aiohttp.ClientResponse, response: web.StreamResponse, close_after: int | None
    ) -> None:
        events = 0
        async for line in upstream.content:
            if close_after is not None and events >= close_after:
                await response.write(line[: max(1, len(line) // 2)])
                if response._req is not None and response._req.transport is not None:
                    response._req.transport.abort()
                return
            await response.write(line)
            events += 1
        await response.write_eof()
