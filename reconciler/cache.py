"""The reconciler's view of the cluster: one informer per kind (and namespace), an owner index, and
the writes the reconciler made that the watches have not delivered yet.

Reconciles read only from here, so a reconcile that changes nothing makes no API request. Every
change of a ModelService enqueues its key; every change of a child enqueues its controlling
ModelService (controller ownerReference, or the ownership labels on cluster-scoped children), as
controller-runtime's ``EnqueueRequestForOwner`` does.

The write overlay is client-go's MutationCache idea: an object the reconciler just created or
updated is served from the overlay until its informer catches up (resourceVersions are etcd
revisions and compare as integers), so a reconcile that runs before the watch event arrives does
not create the same child twice or rewrite a status it just wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.clock import Clock
from reconciler.informer import Informer, ListWatchClient, ObjKey, key_of
from reconciler.kube import Manifest, Resource
from shared import api, labels

GVK = tuple[str, str]
"""(apiVersion, kind)"""
MODELSERVICE: GVK = (api.API_VERSION, api.KIND)
OVERLAY_TTL = 60.0
"""Seconds an unconfirmed write is trusted over the informer (a dropped watch relists long before)."""


def owner_key(obj: Manifest) -> str | None:
    """namespace/name of the ModelService controlling ``obj``, if any."""
    meta = obj["metadata"]
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == api.KIND and ref.get("apiVersion") == api.API_VERSION:
            return f"{meta.get('namespace', '')}/{ref.get('name', '')}"
    found = meta.get("labels") or {}
    name = found.get(labels.OWNER_NAME)
    namespace = found.get(labels.OWNER_NAMESPACE) or meta.get("namespace")
    return f"{namespace}/{name}" if name and namespace else None


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


@dataclass
class _Write:
    obj: Manifest | None
    """None: deleted by us."""
    rv: int
    expires: float


class Cache:
    """Informers per kind, an index from owner key to children, and the write overlay."""

    def __init__(
        self,
        client: ListWatchClient,
        clock: Clock,
        enqueue: Callable[[str], None],
        *,
        namespaces: Iterable[str] = (),
        watch_timeout: int = 300,
        page_size: int = 500,
    ) -> None:
        self._client = client
        self._clock = clock
        self._enqueue = enqueue
        self._namespaces = tuple(namespaces)
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self._informers: dict[GVK, dict[str | None, Informer]] = {}
        self._tasks: dict[GVK, list[asyncio.Task[None]]] = {}
        self._index: dict[str, set[tuple[GVK, ObjKey]]] = {}
        self._overlay: dict[tuple[GVK, ObjKey], _Write] = {}

    # --- informers -------------------------------------------------------------------------------

    def watch(self, resource: Resource, label_selector: str | None = None) -> None:
        """Start caching ``resource`` (in the configured namespaces, or cluster-wide)."""
        gvk = (resource.api_version, resource.kind)
        if gvk in self._informers:
            return
        scopes: tuple[str | None, ...] = (
            self._namespaces if resource.namespaced and self._namespaces else (None,)
        )
        informers = {
            scope: Informer(
                self._client,
                resource,
                lambda old, new, gvk=gvk: self._on_event(gvk, old, new),  # type: ignore[misc]
                self._clock,
                namespace=scope,
                label_selector=label_selector,
                page_size=self._page_size,
                watch_timeout=self._watch_timeout,
            )
            for scope in scopes
        }
        self._informers[gvk] = informers
        self._tasks[gvk] = [
            asyncio.create_task(i.run(), name=f"informer {resource.plural} {s or '*'}")
            for s, i in informers.items()
        ]

    async def unwatch(self, gvk: GVK) -> None:
        """Stop caching a kind (its CRD went away); its objects leave the cache and the index."""
        informers = self._informers.pop(gvk, {})
        await _cancel(self._tasks.pop(gvk, []))
        for informer in informers.values():
            for obj in informer.store.values():
                self._reindex(gvk, obj, None)

    async def stop(self) -> None:
        tasks = [t for ts in self._tasks.values() for t in ts]
        self._tasks.clear()
        await _cancel(tasks)

    def watching(self, gvk: GVK) -> bool:
        return gvk in self._informers

    def synced(self, gvk: GVK | None = None) -> bool:
        groups = [self._informers[gvk]] if gvk is not None else list(self._informers.values())
        return all(i.synced.is_set() for group in groups for i in group.values())

    async def wait_synced(self) -> None:
        """Until every informer has listed once (bound it with a timeout)."""
        for group in list(self._informers.values()):
            for informer in group.values():
                await informer.synced.wait()

    def informers(self) -> list[Informer]:
        return [i for group in self._informers.values() for i in group.values()]

    def size(self) -> dict[str, int]:
        return {gvk[1]: sum(len(i.store) for i in group.values()) for gvk, group in self._informers.items()}

    # --- reads -----------------------------------------------------------------------------------

    def get(self, gvk: GVK, namespace: str | None, name: str) -> Manifest | None:
        key = (namespace or "", name)
        write = self._overlay.get((gvk, key))
        if write is not None:
            if write.expires > self._clock.monotonic():
                return write.obj
            del self._overlay[(gvk, key)]
        group = self._informers.get(gvk)
        if not group:
            return None
        informer = group.get(namespace) or group.get(None)
        return informer.store.get(key) if informer is not None else None

    def owned(self, owner: str) -> list[tuple[GVK, Manifest]]:
        """Cached children whose controller (or ownership labels) point at ``owner``."""
        found = []
        for gvk, (namespace, name) in self._index.get(owner, ()):
            obj = self.get(gvk, namespace or None, name)
            if obj is not None:
                found.append((gvk, obj))
        return found

    def keys(self, gvk: GVK = MODELSERVICE) -> list[str]:
        """namespace/name of every cached object of ``gvk`` (ModelServices by default)."""
        return [f"{ns}/{name}" for i in self._informers.get(gvk, {}).values() for ns, name in i.store]

    # --- writes made by the reconciler ----------------------------------------------------------

    def record_write(self, gvk: GVK, obj: Manifest) -> None:
        """Serve ``obj`` (as the API server returned it) until the informer has caught up with it."""
        rv = _int_rv(obj)
        if rv is not None:
            expires = self._clock.monotonic() + OVERLAY_TTL
            self._overlay[(gvk, key_of(obj))] = _Write(obj, rv, expires)

    def record_delete(self, gvk: GVK, namespace: str | None, name: str) -> None:
        """Treat the object as gone until the informer reports its deletion (or the TTL passes)."""
        expires = self._clock.monotonic() + OVERLAY_TTL
        self._overlay[(gvk, (namespace or "", name))] = _Write(None, 0, expires)

    # --- events ----------------------------------------------------------------------------------

    def _on_event(self, gvk: GVK, old: Manifest | None, new: Manifest | None) -> None:
        current = new if new is not None else old
        if current is None:
            return
        key = key_of(current)
        write = self._overlay.get((gvk, key))
        if write is not None and (new is None or write.obj is None or (_int_rv(new) or 0) >= write.rv):
            del self._overlay[(gvk, key)]
        if gvk == MODELSERVICE:
            self._enqueue(f"{key[0]}/{key[1]}")
            return
        self._reindex(gvk, old, new)

    def _reindex(self, gvk: GVK, old: Manifest | None, new: Manifest | None) -> None:
        old_owner = owner_key(old) if old is not None else None
        new_owner = owner_key(new) if new is not None else None
        if old_owner is not None and old is not None:
            children = self._index.get(old_owner)
            if children is not None:
                children.discard((gvk, key_of(old)))
                if not children:
                    del self._index[old_owner]
            self._enqueue(old_owner)
        if new_owner is not None and new is not None:
            self._index.setdefault(new_owner, set()).add((gvk, key_of(new)))
            if new_owner != old_owner:
                self._enqueue(new_owner)


def _int_rv(obj: Manifest) -> int | None:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or "")
    except ValueError:
        return None


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
