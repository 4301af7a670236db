"""WATCH: per-client event streams with selector transitions, bookmarks, resume and 410 Gone.

A `Watcher` receives every event of its resource synchronously from the store and decides what
this client sees: an object that starts matching the selector arrives as ADDED, one that stops
matching as DELETED, as the real watch cache does. Lines are buffered as bytes (the object JSON
is shared by all watchers through the event) and written in batches, so a burst of writes costs
one socket write per watcher rather than one per event. A watcher whose buffer outgrows its limit
is closed, like the real server drops a watcher that cannot keep up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from localcluster import errors, listing, selectors
from localcluster.operations import Target
from localcluster.store import ADDED, DELETED, MODIFIED, Event, Store, dumps

Manifest = dict[str, Any]
Render = Callable[[str, Manifest], bytes]
DEFAULT_TIMEOUT = 1800.0


class Watcher:
    """The server side of one watch request."""

    __slots__ = (
        "api_version",
        "buffer",
        "closed",
        "fields",
        "kind",
        "labels",
        "limit",
        "namespace",
        "remaining",
        "render",
        "wakeup",
    )

    def __init__(
        self,
        t: Target,
        query: listing.Query,
        limit: int,
        render: Render | None = None,
        close_after: int | None = None,
    ) -> None:
        self.api_version = t.rt.api_version(t.version)
        self.kind = t.rt.kind
        self.namespace = t.namespace if t.rt.namespaced else ""
        self.labels = query.labels
        self.fields = query.fields
        self.limit = limit
        self.render = render
        self.remaining = close_after
        self.buffer: list[bytes] = []
        self.wakeup = asyncio.Event()
        self.closed = False

    def matches(self, obj: Manifest) -> bool:
        obj_meta = obj["metadata"]
        if self.namespace and obj_meta.get("namespace") != self.namespace:
            return False
        if self.labels and not selectors.matches(self.labels, obj_meta.get("labels")):
            return False
        return not self.fields or selectors.fields_match(self.fields, obj)

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        now = self.matches(event.obj)
        if event.type == MODIFIED:
            before = event.old is not None and self.matches(event.old)
            if now and before:
                kind = MODIFIED
            elif now:
                kind = ADDED
            elif before:
                kind = DELETED
            else:
                return
        elif now:
            kind = event.type
        else:
            return
        if self.render is not None:
            self._push(self.render(kind, event.obj))
        else:
            self._push(b'{"type":"' + kind.encode() + b'","object":' + event.raw(self.api_version) + b"}\n")

    def added(self, obj: Manifest) -> None:
        """An initial (synthetic) ADDED event for an object that existed when the watch began."""
        if self.render is not None:
            self._push(self.render(ADDED, obj))
        else:
            view = (
                obj if obj.get("apiVersion") == self.api_version else {**obj, "apiVersion": self.api_version}
            )
            self._push(b'{"type":"ADDED","object":' + dumps(view) + b"}\n")

    def bookmark(self, rv: int, initial_events_end: bool = False) -> None:
        obj_meta: Manifest = {"resourceVersion": str(rv)}
        if initial_events_end:
            obj_meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.kind, "apiVersion": self.api_version, "metadata": obj_meta}
        self._push(dumps({"type": "BOOKMARK", "object": obj}) + b"\n")

    def _push(self, line: bytes) -> None:
        if self.closed:
            return
        self.buffer.append(line)
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.close()
        if len(self.buffer) > self.limit:
            self.close()
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


def error_line(err: errors.StatusError) -> bytes:
    return dumps({"type": "ERROR", "object": err.status()}) + b"\n"


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def start(
    store: Store,
    t: Target,
    query: listing.Query,
    watcher: Watcher,
    rv_param: str,
    send_initial: bool,
    bookmarks: bool,
) -> None:
    """Replay what the client asked for and subscribe, with no await in between (no gap)."""
    if rv_param in ("", "0") or send_initial:
        namespace = t.namespace if t.rt.namespaced and t.namespace else None
        for obj in listing.select(store, t.rt.key, namespace, query):
            watcher.added(obj)
        if send_initial and bookmarks:
            watcher.bookmark(store.resource_version, initial_events_end=True)
    else:
        try:
            rv = int(rv_param)
        except ValueError:
            raise errors.bad_request(f'invalid resource version: "{rv_param}"') from None
        for event in store.events_after(rv, t.rt.key):
            watcher.offer(event)
    store.subscribe(t.rt.key, watcher)


async def serve(
    request: web.Request,
    store: Store,
    t: Target,
    query: listing.Query,
    watcher: Watcher,
    bookmark_interval: float,
    expired: bool = False,
) -> web.StreamResponse:
    """Stream events until timeoutSeconds, a cut, a slow-consumer close or a disconnect."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    bookmarks = _flag(request, "allowWatchBookmarks")
    try:
        if expired:
            raise errors.gone(
                f"too old resource version: {request.query.get('resourceVersion', '0')} "
                f"({store.compacted + 1})"
            )
        start(
            store,
            t,
            query,
            watcher,
            request.query.get("resourceVersion", ""),
            _flag(request, "sendInitialEvents"),
            bookmarks,
        )
    except errors.StatusError as err:
        if err.code != 410:
            raise
        await resp.prepare(request)
        await resp.write(error_line(err))
        await resp.write_eof()
        return resp
    try:
        await resp.prepare(request)
        await _pump(request, resp, store, watcher, bookmarks, bookmark_interval)
    except ConnectionResetError:
        pass  # the client went away; nothing to tell it
    finally:
        watcher.close()
        store.unsubscribe(t.rt.key, watcher)
    return resp


async def _pump(
    request: web.Request,
    resp: web.StreamResponse,
    store: Store,
    watcher: Watcher,
    bookmarks: bool,
    interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    raw_timeout = request.query.get("timeoutSeconds")
    deadline = loop.time() + (float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT)
    next_bookmark = loop.time() + interval
    while True:
        if watcher.buffer:
            chunk = b"".join(watcher.buffer)
            watcher.buffer.clear()
            await resp.write(chunk)
            continue
        if watcher.closed:
            return
        watcher.wakeup.clear()
        now = loop.time()
        if now >= deadline:
            return
        # Wake at least once a second to notice a client that disconnected without a write failing.
        wait = min(deadline, next_bookmark if bookmarks else deadline, now + 1.0) - now
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                await watcher.wakeup.wait()
        except TimeoutError:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            if bookmarks and loop.time() >= next_bookmark:
                watcher.bookmark(store.resource_version)
                next_bookmark = loop.time() + interval


def decode_line(line: bytes) -> Manifest:
    """Parse one watch line (handy for tests reading raw streams)."""
    event: Manifest = json.loads(line)
    return event
