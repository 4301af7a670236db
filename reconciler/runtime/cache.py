"""A controller's view of the cluster: one informer per kind (and namespace), owner indexes, and
the writes the controller made that the watches have not delivered yet.

Reconciles read only from here, so a reconcile that changes nothing makes no API request. Which
key an event enqueues is the controller's to say, per kind (``Relation``): an object of the
primary kind enqueues its own key; an owned object (a child) enqueues the key of its owner, as
controller-runtime's ``EnqueueRequestForOwner`` does; a dependent belongs to an owned object (a
pod to the Deployment that made it) and enqueues that object's owner. Children are indexed by
owner and dependents by the object they belong to, so an owner's ``fingerprint`` covers both: a
dependent that changes is looked at, and a pass over ones that did not is still skipped.

The write overlay is client-go's MutationCache idea: an object the controller just created or
updated is served from the overlay until its informer catches up (resourceVersions are etcd
revisions and compare as integers), so a reconcile that runs before the watch event arrives does
not create the same child twice or rewrite a status it just wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock
from reconciler.runtime.informer import (
    Entry,
    Informer,
    ListWatchClient,
    ObjKey,
    OwnerOf,
    Transform,
    key_of,
    slim,
)

GVK = tuple[str, str]
"""(apiVersion, kind)"""
OVERLAY_TTL = 60.0
"""Seconds an unconfirmed write is trusted over the informer (a dropped watch relists long before)."""

M = TypeVar("M", bound=Hashable)


@dataclass(frozen=True)
class Relation:
    """How the objects of one kind relate to the objects the controller reconciles."""

    owner_of: OwnerOf | None = None
    """namespace/name of the object this one belongs to; None for the primary kind, whose objects
    enqueue their own key."""
    through: GVK | None = None
    """Set for dependents: ``owner_of`` names a cached object of this kind, whose owner is enqueued."""
    transform: Transform = slim
    """What the informer keeps of each object."""


Relations = Callable[[GVK], Relation]
"""The controller's relation for each kind it watches."""


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


@dataclass
class _Write:
    entry: Entry | None
    """None: deleted by us."""
    rv: int
    expires: float


class _Index(Generic[M]):
    """Key (namespace/name) to the members filed under it, with one shared string per key: the
    cache entry of every member points at it (a dozen children, or thousands of pods, per key)."""

    def __init__(self) -> None:
        self._members: dict[str, set[M]] = {}
        self._keys: dict[str, str] = {}

    def intern(self, key: str | None) -> str | None:
        return None if key is None else self._keys.setdefault(key, key)

    def move(self, member: M, old: str | None, new: str | None) -> None:
        """``member`` is now filed under ``new`` (None: gone), no longer under ``old``."""
        if old is not None and old != new:
            members = self._members.get(old)
            if members is not None:
                members.discard(member)
                if not members:
                    del self._members[old]
                    self._keys.pop(old, None)
        if new is not None:
            self._members.setdefault(new, set()).add(member)

    def of(self, key: str) -> set[M]:
        """The members filed under ``key``; do not change the set."""
        return self._members.get(key) or set()


class Cache:
    """Informers per kind, the owner and dependent indexes, and the write overlay."""

    def __init__(
        self,
        client: ListWatchClient,
        clock: Clock,
        enqueue: Callable[[str], None],
        relation_of: Relations,
        *,
        namespaces: Iterable[str] = (),
        watch_timeout: int = 300,
        page_size: int = 500,
    ) -> None:
        self._client = client
        self._clock = clock
        self._enqueue = enqueue
        self._relation_of = relation_of
        self._namespaces = tuple(namespaces)
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self._informers: dict[GVK, dict[str | None, Informer]] = {}
        self._tasks: dict[GVK, list[asyncio.Task[None]]] = {}
        self._relations: dict[GVK, Relation] = {}
        self._overlay: dict[tuple[GVK, ObjKey], _Write] = {}
        self._owned: _Index[tuple[GVK, ObjKey]] = _Index()
        """Owner key to the children it owns."""
        self._dependents: dict[GVK, _Index[ObjKey]] = {}
        """Per dependent kind: the key of the object dependents belong to, to their keys."""

    # --- informers -------------------------------------------------------------------------------

    def watch(self, resource: Resource, label_selector: str | None = None) -> None:
        """Start caching ``resource`` (in the configured namespaces, or cluster-wide)."""
        gvk = (resource.api_version, resource.kind)
        if gvk in self._informers:
            return
        relation = self._relations.setdefault(gvk, self._relation_of(gvk))
        if relation.through is not None:
            self._dependents.setdefault(gvk, _Index())
        scopes: tuple[str | None, ...] = (
            self._namespaces if resource.namespaced and self._namespaces else (None,)
        )
        informers = {
            scope: Informer(
                self._client,
                resource,
                lambda key, old, new, gvk=gvk: self._on_event(gvk, key, old, new),  # type: ignore[misc]
                self._clock,
                owner_of=self._owner_function(gvk, relation),
                namespace=scope,
                label_selector=label_selector,
                transform=relation.transform,
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
        """(kind, key) of the cached children whose owner is ``owner``, including ones just
        written that no watch has delivered yet."""
        indexed = self._owned.of(owner)
        recent = {k for k, w in self._overlay.items() if w.entry is not None and w.entry.owner == owner}
        return [(gvk, key) for gvk, key in indexed | recent if self.entry(gvk, key[0], key[1])]

    def owned(self, owner: str) -> list[tuple[GVK, Manifest]]:
        """The cached children of ``owner``, decoded."""
        found = []
        for gvk, (namespace, name) in self._owned.of(owner):
            obj = self.get(gvk, namespace or None, name)
            if obj is not None:
                found.append((gvk, obj))
        return found

    def fingerprint(self, owner: str) -> int:
        """A hash of which children ``owner`` has, the dependents of those children, and the
        resourceVersions of all of them; changes with any of them."""
        digest = 0
        count = 0
        for gvk, key in self._owned.of(owner):
            found = self.entry(gvk, key[0], key[1])
            if found is None:
                continue
            digest ^= hash((gvk, key, found.rv))
            count += 1
            for dependent_gvk in self._dependent_kinds(gvk):
                for dependent_key in self._dependents[dependent_gvk].of(f"{key[0]}/{key[1]}"):
                    dependent = self._stored(dependent_gvk, dependent_key)
                    if dependent is not None:
                        digest ^= hash((dependent_gvk, dependent_key, dependent.rv))
                        count += 1
        return hash((digest, count))

    def dependents(self, gvk: GVK, namespace: str, name: str) -> list[Manifest]:
        """The cached objects of dependent kind ``gvk`` that belong to ``namespace/name``, by name."""
        index = self._dependents.get(gvk)
        keys = index.of(f"{namespace}/{name}") if index is not None else set()
        found = [self._stored(gvk, key) for key in keys]
        return sorted((e.obj() for e in found if e is not None), key=lambda o: str(o["metadata"]["name"]))

    def keys(self, gvk: GVK | None = None) -> list[str]:
        """namespace/name of every cached object of ``gvk``; by default of the primary kind (whose
        objects enqueue their own key)."""
        kinds = [gvk] if gvk is not None else [g for g, r in self._relations.items() if r.owner_of is None]
        return [
            f"{ns}/{name}" for k in kinds for i in self._informers.get(k, {}).values() for ns, name in i.store
        ]

    def _dependent_kinds(self, gvk: GVK) -> list[GVK]:
        return [d for d in self._dependents if self._relations[d].through == gvk]

    def _owner_function(self, gvk: GVK, relation: Relation) -> OwnerOf | None:
        """What a cache entry of ``gvk`` points at (nothing for the primary kind), as the one
        shared string of its index."""
        find = relation.owner_of
        if find is None:
            return None
        index = self._dependents[gvk] if relation.through is not None else self._owned
        return lambda obj: index.intern(find(obj))

    # --- writes made by the controller ----------------------------------------------------------

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
        if self._relations[gvk].owner_of is None:
            self._enqueue(f"{key[0]}/{key[1]}")
            return
        self._index_change(gvk, key, old, new)

    def _index_change(self, gvk: GVK, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        relation = self._relations[gvk]
        if relation.owner_of is None:
            return
        if relation.through is not None:
            self._reindex_dependent(gvk, relation.through, key, old, new)
        else:
            self._reindex_owned(gvk, key, old, new)

    def _reindex_dependent(
        self, gvk: GVK, through: GVK, key: ObjKey, old: Entry | None, new: Entry | None
    ) -> None:
        """Move the dependent between the objects it belongs to; enqueue the owners of those
        objects (one not cached yet enqueues its owner itself when it arrives)."""
        old_parent = old.owner if old is not None else None
        new_parent = new.owner if new is not None else None
        self._dependents[gvk].move(key, old_parent, new_parent)
        for parent in dict.fromkeys((old_parent, new_parent)):
            if parent is None:
                continue
            namespace, name = split_key(parent)
            found = self.entry(through, namespace, name)
            if found is not None and found.owner is not None:
                self._enqueue(found.owner)

    def _reindex_owned(self, gvk: GVK, key: ObjKey, old: Entry | None, new: Entry | None) -> None:
        old_owner = old.owner if old is not None else None
        new_owner = new.owner if new is not None else None
        self._owned.move((gvk, key), old_owner, new_owner)
        if old_owner is not None:
            self._enqueue(old_owner)
        if new_owner is not None and new_owner != old_owner:
            self._enqueue(new_owner)


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
