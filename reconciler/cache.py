"""The reconciler's view of the cluster: one informer per kind (and namespace), an owner index, and
the writes the reconciler made that the watches have not delivered yet.

Reconciles read only from here, so a reconcile that changes nothing makes no API request. Every
change of a ModelService enqueues its key; every change of a child enqueues its controlling
ModelService (controller ownerReference, or the ownership labels on cluster-scoped children), as
controller-runtime's ``EnqueueRequestForOwner`` does. Serving pods are cached slim
(``reconciler.pods``) and indexed by the Deployment that made them; a pod's change enqueues that
Deployment's owner, and the pods join the owner's fingerprint, so a pod that changes is looked at
and a pass over pods that did not is still skipped.

The write overlay is client-go's MutationCache idea: an object the reconciler just created or
updated is served from the overlay until its informer catches up (resourceVersions are etcd
revisions and compare as integers), so a reconcile that runs before the watch event arrives does
not create the same child twice or rewrite a status it just wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler import pods
from reconciler.pods import DEPLOYMENT, POD
from reconciler.runtime import managedfields as fields
from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock
from reconciler.runtime.informer import Entry, Informer, ListWatchClient, ObjKey, OwnerOf, key_of, slim
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
    entry: Entry | None
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
        self._owners: dict[str, str] = {}
        self._pods = pods.PodIndex()

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
                lambda key, old, new, gvk=gvk: self._on_event(gvk, key, old, new),  # type: ignore[misc]
                self._clock,
                owner_of=self._owner_function(gvk),
                namespace=scope,
                label_selector=label_selector,
                transform=_transform(gvk),
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
            for key, entry in informer.store.items():
                self._index_change(gvk, key, entry, None)

    async def stop(self) -> None:
        tasks = [t for ts in self._tasks.values() for t in ts]
        self._tasks.clear()
        await _cancel(tasks)

    def watching(self, gvk: GVK) -> bool:
        return gvk in self._informers

    def unserved(self) -> list[GVK]:
        """Watched kinds whose informer last got 404 (their CRD was probably deleted)."""
        return [gvk for gvk, group in self._informers.items() if any(i.not_found for i in group.values())]

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
        """Cached objects per kind."""
        return {gvk[1]: sum(len(i.store) for i in group.values()) for gvk, group in self._informers.items()}

    # --- reads -----------------------------------------------------------------------------------

    def entry(self, gvk: GVK, namespace: str | None, name: str) -> Entry | None:
        """The cached entry (resourceVersion, owner, encoded object); an unconfirmed write first."""
        key = (namespace or "", name)
        write = self._overlay.get((gvk, key))
        if write is not None:
            if write.expires > self._clock.monotonic():
                return write.entry
            del self._overlay[(gvk, key)]
        return self._stored(gvk, key)

    def get(self, gvk: GVK, namespace: str | None, name: str) -> Manifest | None:
        """A fresh dict of the cached object (the caller may change it), or None."""
        found = self.entry(gvk, namespace, name)
        return found.obj() if found is not None else None

    def _stored(self, gvk: GVK, key: ObjKey) -> Entry | None:
        informer = self._informer(gvk, key[0])
        return informer.store.get(key) if informer is not None else None

    def _informer(self, gvk: GVK, namespace: str) -> Informer | None:
        group = self._informers.get(gvk)
        if not group:
            return None
        return group.get(namespace or None) or group.get(None)

    def owned_keys(self, owner: str) -> list[tuple[GVK, ObjKey]]:
        """(kind, key) of the cached children whose controller (or ownership labels) is ``owner``,
        including ones just written that no watch has delivered yet."""
        indexed = self._index.get(owner, set())
        recent = {k for k, w in self._overlay.items() if w.entry is not None and w.entry.owner == owner}
        return [(gvk, key) for gvk, key in indexed | recent if self.entry(gvk, key[0], key[1])]

    def owned(self, owner: str) -> list[tuple[GVK, Manifest]]:
        """The cached children of ``owner``, decoded."""
        found = []
        for gvk, (namespace, name) in self._index.get(owner, ()):
            obj = self.get(gvk, namespace or None, name)
            if obj is not None:
                found.append((gvk, obj))
        return found

    def fingerprint(self, owner: str) -> int:
        """A hash of which children ``owner`` has, the pods of its Deployments, and the
        resourceVersions of all of them; changes with any of them."""
        digest = 0
        count = 0
        for gvk, key in self._index.get(owner, ()):
            found = self.entry(gvk, key[0], key[1])
            if found is None:
                continue
            digest ^= hash((gvk, key, found.rv))
            count += 1
            if gvk == DEPLOYMENT:
                for pod_key in self._pods.of(f"{key[0]}/{key[1]}"):
                    pod = self._stored(POD, pod_key)
                    if pod is not None:
                        digest ^= hash((POD, pod_key, pod.rv))
                        count += 1
        return hash((digest, count))

    def pods(self, namespace: str, deployment: str) -> list[Manifest]:
        """The cached (slim) pods of Deployment ``namespace/deployment``, by name."""
        found = [self._stored(POD, key) for key in self._pods.of(f"{namespace}/{deployment}")]
        return sorted((e.obj() for e in found if e is not None), key=lambda p: str(p["metadata"]["name"]))

    def keys(self, gvk: GVK = MODELSERVICE) -> list[str]:
        """namespace/name of every cached object of ``gvk`` (ModelServices by default)."""
        return [f"{ns}/{name}" for i in self._informers.get(gvk, {}).values() for ns, name in i.store]

    def _owner_function(self, gvk: GVK) -> OwnerOf | None:
        """What a cache entry of ``gvk`` points at: nothing (ModelServices), the controlling
        Deployment (pods), or the owning ModelService (children)."""
        if gvk == MODELSERVICE:
            return None
        return self._pods.deployment_of if gvk == POD else self._owner_of

    def _owner_of(self, obj: Manifest) -> str | None:
        """The owner key, one shared string per owner (a dozen children point at each)."""
        found = owner_key(obj)
        return None if found is None else self._owners.setdefault(found, found)

    # --- writes made by the reconciler ----------------------------------------------------------

    def record_write(self, gvk: GVK, obj: Manifest) -> None:
        """Serve ``obj`` (as the API server returned it) until the informer has caught up with it.

        The watch may have delivered this write, or even a later one, before the response
        arrived; then the informer's copy is current and nothing is recorded.
        """
        rv = _int_rv(obj)
        key = key_of(obj)
        informer = self._informer(gvk, key[0])
        if rv is None or informer is None:
            return
        cached = informer.store.get(key)
        if cached is not None and _int(cached.rv) >= rv:
            return
        expires = self._clock.monotonic() + OVERLAY_TTL
        self._overlay[(gvk, key)] = _Write(informer.entry(obj), rv, expires)

    def record_delete(self, gvk: GVK, obj: Manifest) -> None:
        """Treat ``obj`` as gone until the informer reports its deletion (or the TTL passes)."""
        key = key_of(obj)
        cached = self._stored(gvk, key)
        if cached is None or cached.rv != str(obj["metadata"].get("resourceVersion") or ""):
            return  # the informer already saw it go, or saw something newer under that name
        self._overlay[(gvk, key)] = _Write(None, 0, self._clock.monotonic() + OVERLAY_TTL)

    # --- events ----------------------------------------------------------------------------------

    def _on_event(self, gvk: GVK, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        write = self._overlay.get((gvk, key))
        if write is not None and (new is None or write.entry is None or _int(new.rv) >= write.rv):
            del self._overlay[(gvk, key)]
        if gvk == MODELSERVICE:
            self._enqueue(f"{key[0]}/{key[1]}")
            return
        self._index_change(gvk, key, old, new)

    def _index_change(self, gvk: GVK, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        if gvk == POD:
            self._reindex_pod(key, old, new)
        elif gvk != MODELSERVICE:
            self._reindex(gvk, key, old, new)

    def _reindex_pod(self, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        """Move the pod between Deployments' pod sets; enqueue the owners of those Deployments (a
        Deployment not cached yet enqueues its owner itself when it arrives)."""
        old_deployment = old.owner if old is not None else None
        new_deployment = new.owner if new is not None else None
        self._pods.move(key, old_deployment, new_deployment)
        for deployment in dict.fromkeys((old_deployment, new_deployment)):
            if deployment is None:
                continue
            namespace, name = split_key(deployment)
            found = self.entry(DEPLOYMENT, namespace, name)
            if found is not None and found.owner is not None:
                self._enqueue(found.owner)

    def _reindex(self, gvk: GVK, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        old_owner = old.owner if old is not None else None
        new_owner = new.owner if new is not None else None
        if old_owner is not None:
            children = self._index.get(old_owner)
            if children is not None:
                children.discard((gvk, key))
                if not children:
                    del self._index[old_owner]
                    self._owners.pop(old_owner, None)
            self._enqueue(old_owner)
        if new_owner is not None:
            self._index.setdefault(new_owner, set()).add((gvk, key))
            if new_owner != old_owner:
                self._enqueue(new_owner)


def _transform(gvk: GVK) -> Callable[[Manifest], Manifest]:
    """What is kept of an object: of a pod what the status reads, of a child the managedFields
    entries of our own manager too (what we own decides whether an apply would change anything)."""
    if gvk == POD:
        return pods.slim_pod
    return slim if gvk == MODELSERVICE else fields.slim_managed_fields


def _int_rv(obj: Manifest) -> int | None:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or "")
    except ValueError:
        return None


def _int(rv: str) -> int:
    """resourceVersions are etcd revisions; anything else sorts first (never trusted over a write)."""
    return int(rv) if rv.isdigit() else -1


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
