"""One informer: list, then watch, one resource (in one namespace or all), into a dict store.

The watch resumes from the last resourceVersion it saw (bookmarks keep that fresh on quiet
resources), a ``410 Gone`` relists, and any other failure reconnects after a capped, jittered
backoff. A relist diffs against the store, so only objects that really changed while the watch
was down produce events. Stored objects lose ``metadata.managedFields`` (often the largest part of
an object and never read here); nothing else is dropped, because cached objects are the base of
updates.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Protocol

from reconciler.clock import Clock
from reconciler.errors import ApiError, Gone
from reconciler.kube import Manifest, Resource

log = logging.getLogger(__name__)

ObjKey = tuple[str, str]
"""(namespace or "", name)"""
Handler = Callable[[Manifest | None, Manifest | None], None]
"""Called with (old, new) for every change: (None, obj) added, (obj, None) deleted."""


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
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.store: dict[ObjKey, Manifest] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._client = client
        self._handler = handler
        self._clock = clock
        self._selector = label_selector
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._max_backoff = max_backoff
        self.lists = 0
        """How many times this informer listed (1 + relists), for tests and metrics."""

    async def run(self) -> None:
        """List and watch until cancelled."""
        failures = 0
        must_list = True
        while True:
            try:
                if must_list:
                    await self._list()
                    must_list = False
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

    async def _list(self) -> None:
        items: dict[ObjKey, Manifest] = {}
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
                items[key_of(obj)] = slim(obj)
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                self.resource_version = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        self.lists += 1
        self._replace(items)

    def _replace(self, items: dict[ObjKey, Manifest]) -> None:
        old_store, self.store = self.store, items
        for key, gone in old_store.items():
            if key not in items:
                self._handler(gone, None)
        for key, new in items.items():
            old = old_store.get(key)
            if old is None or _rv(old) != _rv(new):
                self._handler(old, new)

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
            self._handler(old or obj, None)
        elif kind in ("ADDED", "MODIFIED"):
            self.store[key] = slim(obj)
            self._handler(old, obj)
        self.resource_version = rv or self.resource_version


def _rv(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
