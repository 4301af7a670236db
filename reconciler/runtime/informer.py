"""One informer: list, then watch, one resource (in one namespace or all), into a dict store.

The watch resumes from the last resourceVersion it saw (bookmarks keep that fresh on quiet
resources), a ``410 Gone`` relists, and any other failure reconnects after a capped, jittered
backoff. A relist diffs against the store, so only objects that really changed while the watch
was down produce events.

Memory: objects are stored as compact JSON, deflated with a preset dictionary (the first object
the informer stored). Objects of one kind that one controller made differ in little more than
names, so a 4 KB Deployment shrinks to a few hundred bytes, against about 18 KB as a Python dict;
``Entry`` keeps beside it only what the cache reads on every event (resourceVersion, owner key).
Reading an object decodes a fresh dict, which callers may change freely. ``metadata.managedFields``
is dropped (often the largest part); nothing else is. An informer may be given its own
``transform`` instead (client-go's SetTransform: of a pod, say, only what a status reads, or of a
child the entries of the controller's own field manager, ``managedfields.FieldManager.slim``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Protocol

import orjson

from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock
from reconciler.runtime.errors import ApiError, Gone, NotFound

log = logging.getLogger(__name__)

ObjKey = tuple[str, str]
"""(namespace or "", name)"""
OwnerOf = Callable[[Manifest], str | None]
Transform = Callable[[Manifest], Manifest]
"""What an informer stores of each object it lists or watches (client-go's SetTransform)."""


class Codec:
    """Raw deflate with a preset dictionary: the first object encoded (objects of a kind look alike)."""

    __slots__ = ("_zdict",)

    def __init__(self) -> None:
        self._zdict: bytes | None = None

    def encode(self, obj: Manifest) -> bytes:
        data = orjson.dumps(obj)
        if self._zdict is None:
            self._zdict = data
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, self._zdict)
        return compressor.compress(data) + compressor.flush()

    def decode(self, blob: bytes) -> Manifest:
        assert self._zdict is not None, "decode before any encode"
        decoded: Manifest = orjson.loads(zlib.decompressobj(-15, zdict=self._zdict).decompress(blob))
        return decoded


class Entry:
    """One cached object: its resourceVersion, its owner key and the encoded object."""

    __slots__ = ("blob", "codec", "owner", "rv")

    def __init__(self, obj: Manifest, codec: Codec, owner: str | None) -> None:
        self.rv = _rv(obj)
        self.owner = owner
        self.codec = codec
        self.blob = codec.encode(obj)

    def obj(self) -> Manifest:
        """A fresh dict of the object."""
        return self.codec.decode(self.blob)


Handler = Callable[[ObjKey, Entry | None, Entry | None], None]
"""Called with (key, old, new) for every change: (key, None, e) added, (key, e, None) deleted."""


class ListWatchClient(Protocol):
    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Manifest: ...

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[tuple[str, Manifest], None]: ...


def key_of(obj: Manifest) -> ObjKey:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def slim(obj: Manifest) -> Manifest:
    """The object as cached: without managedFields."""
    meta = obj.get("metadata")
    if meta and "managedFields" in meta:
        del meta["managedFields"]
    return obj


class Informer:
    """List+watch loop for one resource; ``store`` is always a consistent snapshot of some resourceVersion."""

    def __init__(
        self,
        client: ListWatchClient,
        resource: Resource,
        handler: Handler,
        clock: Clock,
        *,
        owner_of: OwnerOf | None = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        transform: Transform = slim,
        page_size: int = 500,
        watch_timeout: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.store: dict[ObjKey, Entry] = {}
        self.codec = Codec()
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._client = client
        self._handler = handler
        self._owner_of = owner_of
        self._clock = clock
        self._selector = label_selector
        self._transform = transform
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._max_backoff = max_backoff
        self.lists = 0
        """How many times this informer listed (1 + relists), for tests and metrics."""
        self.not_found = False
        """The last list or watch answered 404: the resource is no longer served (CRD deleted)."""

    async def run(self) -> None:
        """List and watch until cancelled."""
        failures = 0
        must_list = True
        while True:
            try:
                if must_list:
                    await self._list()
                    must_list = False
                    self.not_found = False
                    self.synced.set()
                started = self._clock.monotonic()
                if await self._watch() or self._clock.monotonic() - started >= 1.0:
                    failures = 0
                    continue
                # A watch that ends at once with nothing in it is a failure in disguise (a proxy
                # cutting streams, a server restarting): back off instead of spinning.
                failures += 1
                await self._clock.sleep(self._backoff(failures))
            except Gone:
                log.info("watch expired, relisting", extra={"resource": self.resource.plural})
                must_list = True
            except (ApiError, ValueError) as e:
                self.not_found = isinstance(e, NotFound)
                failures += 1
                delay = self._backoff(failures)
                log.warning(
                    "list/watch failed",
                    extra={"resource": self.resource.plural, "error": str(e), "retry_in": round(delay, 3)},
                )
                await self._clock.sleep(delay)

    def _backoff(self, failures: int) -> float:
        base = min(self._max_backoff, 0.2 * 2.0 ** min(failures - 1, 10))
        return base * (0.5 + random.random() / 2)

    def entry(self, obj: Manifest) -> Entry:
        """The cache entry of ``obj`` as the API server sent it (transformed before it is stored)."""
        kept = self._transform(obj)
        return Entry(kept, self.codec, self._owner_of(kept) if self._owner_of is not None else None)

    async def _list(self) -> None:
        items: dict[ObjKey, Entry] = {}
        token: str | None = None
        while True:
            try:
                page = await self._client.list(
                    self.resource,
                    self.namespace,
                    label_selector=self._selector,
                    limit=self._page_size,
                    continue_token=token,
                )
            except Gone:
                # The continue token expired mid-list: start over in one unpaginated request.
                page = await self._client.list(self.resource, self.namespace, label_selector=self._selector)
                items.clear()
                token = None
            for obj in page.get("items") or ():
                obj.setdefault("apiVersion", self.resource.api_version)
                obj.setdefault("kind", self.resource.kind)
                items[key_of(obj)] = self.entry(obj)
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                self.resource_version = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        self.lists += 1
        self._replace(items)

    def _replace(self, items: dict[ObjKey, Entry]) -> None:
        old_store, self.store = self.store, items
        for key, gone in old_store.items():
            if key not in items:
                self._handler(key, gone, None)
        for key, new in items.items():
            old = old_store.get(key)
            if old is None or old.rv != new.rv:
                self._handler(key, old, new)

    async def _watch(self) -> int:
        """Follow the watch until the server ends it; the number of events seen."""
        seen = 0
        stream = self._client.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self._selector,
            timeout_seconds=self._watch_timeout,
        )
        async with aclosing(stream) as events:
            async for kind, obj in events:
                self._apply(kind, obj)
                seen += 1
        return seen

    def _apply(self, kind: str, obj: Manifest) -> None:
        rv = _rv(obj)
        if kind == "BOOKMARK":
            self.resource_version = rv or self.resource_version
            return
        key = key_of(obj)
        old = self.store.get(key)
        if kind == "DELETED":
            self.store.pop(key, None)
            self._handler(key, old or self.entry(obj), None)
        elif kind in ("ADDED", "MODIFIED"):
            new = self.store[key] = self.entry(obj)
            self._handler(key, old, new)
        self.resource_version = rv or self.resource_version


def _rv(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
