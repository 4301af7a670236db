"""The object store: current objects, one global resourceVersion counter, and a bounded history.

Objects are plain dicts owned by the store and never mutated after they are stored: every write
stores a fresh dict, so readers and watch events can share them without copying. Each write gets
the next resourceVersion and becomes an `Event` in a ring buffer of fixed size; a watch that asks
to resume from a resourceVersion older than the ring gets 410 Gone, as against a compacted etcd.
An event serialises its object once per apiVersion and every watcher shares those bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcluster import codec, errors

Manifest = dict[str, Any]
ResKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

dumps = codec.dumps


@dataclass(slots=True, eq=False)
class Event:
    """One change to one object; `obj` is its new state (the last state for DELETED)."""

    rv: int
    type: str
    res: ResKey
    obj: Manifest
    old: Manifest | None
    _raw: dict[str, bytes] = field(default_factory=dict)

    def raw(self, api_version: str) -> bytes:
        """The object as JSON in `api_version`, serialised once and shared by all watchers."""
        cached = self._raw.get(api_version)
        if cached is None:
            obj = self.obj
            if obj.get("apiVersion") != api_version:
                obj = {**obj, "apiVersion": api_version}
            cached = self._raw[api_version] = dumps(obj)
        return cached


class Subscriber(Protocol):
    """A watch stream: receives every event of the resource it registered for."""

    def offer(self, event: Event) -> None: ...


def key_of(obj: Manifest) -> ObjKey:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def owner_uids(obj: Manifest) -> list[str]:
    return [ref["uid"] for ref in obj["metadata"].get("ownerReferences") or () if ref.get("uid")]


class Store:
    """Objects per resource plus the event history; single-threaded (one event loop)."""

    def __init__(self, history_size: int = 10_000) -> None:
        self._objects: dict[ResKey, dict[ObjKey, Manifest]] = {}
        self._history: deque[Event] = deque(maxlen=max(1, history_size))
        self._compacted = 0  # the newest resourceVersion that fell out of the history
        self._rv = 1
        self._subscribers: dict[ResKey, set[Subscriber]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self.uids: dict[str, tuple[ResKey, ObjKey]] = {}
        self.dependents: dict[str, set[tuple[ResKey, ObjKey]]] = {}

    # ----- reads -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted(self) -> int:
        return self._compacted

    def get(self, res: ResKey, namespace: str, name: str) -> Manifest | None:
        bucket = self._objects.get(res)
        return bucket.get((namespace, name)) if bucket else None

    def items(self, res: ResKey, namespace: str | None = None) -> list[Manifest]:
        """Objects of a resource sorted by (namespace, name), as etcd's key order gives them."""
        bucket = self._objects.get(res)
        if not bucket:
            return []
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def count(self, res: ResKey, namespace: str | None = None) -> int:
        bucket = self._objects.get(res) or {}
        return len(bucket) if namespace is None else sum(1 for k in bucket if k[0] == namespace)

    def resources(self) -> Iterator[ResKey]:
        return iter(list(self._objects))

    def by_uid(self, uid: str) -> tuple[ResKey, Manifest] | None:
        hit = self.uids.get(uid)
        if hit is None:
            return None
        res, key = hit
        obj = self._objects.get(res, {}).get(key)
        return (res, obj) if obj is not None else None

    def events_after(self, rv: int, res: ResKey) -> list[Event]:
        """Events of `res` newer than `rv`; 410 Gone if the history no longer reaches back to it."""
        if rv < self._compacted:
            raise errors.gone(f"too old resource version: {rv} ({self._compacted + 1})")
        return [ev for ev in self._history if ev.rv > rv and ev.res == res]

    # ----- writes ----------------------------------------------------------------------------

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def put(self, res: ResKey, obj: Manifest) -> Event:
        """Store `obj` (a fresh dict the caller hands over) as ADDED or MODIFIED."""
        key = key_of(obj)
        bucket = self._objects.setdefault(res, {})
        old = bucket.get(key)
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        bucket[key] = obj
        self._index(res, key, old, obj)
        return self._emit(Event(rv, MODIFIED if old is not None else ADDED, res, obj, old))

    def remove(self, res: ResKey, namespace: str, name: str, final: Manifest | None = None) -> Event | None:
        """Delete an object; the DELETED event carries its last state at the deletion's revision.

        `final` is that last state when it differs from the stored one (an update that removed the
        last finalizer deletes the object as updated, without storing it first).
        """
        bucket = self._objects.get(res)
        if not bucket or (namespace, name) not in bucket:
            return None
        old = bucket.pop((namespace, name))
        rv = self.next_rv()
        base = final if final is not None else old
        last = {**base, "metadata": {**base["metadata"], "resourceVersion": str(rv)}}
        self._index(res, (namespace, name), old, None)
        return self._emit(Event(rv, DELETED, res, last, old))

    def drop_resource(self, res: ResKey) -> list[Event]:
        """Delete every object of a resource (its CRD went away)."""
        return [ev for obj in self.items(res) if (ev := self.remove(res, *key_of(obj))) is not None]

    def _index(self, res: ResKey, key: ObjKey, old: Manifest | None, new: Manifest | None) -> None:
        if old is not None:
            uid = old["metadata"].get("uid")
            if uid and new is None:
                self.uids.pop(uid, None)
            for owner in owner_uids(old):
                deps = self.dependents.get(owner)
                if deps is not None:
                    deps.discard((res, key))
                    if not deps:
                        del self.dependents[owner]
        if new is not None:
            uid = new["metadata"].get("uid")
            if uid:
                self.uids[uid] = (res, key)
            for owner in owner_uids(new):
                self.dependents.setdefault(owner, set()).add((res, key))

    def _emit(self, event: Event) -> Event:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(event)
        for sub in tuple(self._subscribers.get(event.res, ())):
            sub.offer(event)
        for listener in self._listeners:
            listener(event)
        return event

    # ----- subscriptions ---------------------------------------------------------------------

    def subscribe(self, res: ResKey, sub: Subscriber) -> None:
        self._subscribers.setdefault(res, set()).add(sub)

    def unsubscribe(self, res: ResKey, sub: Subscriber) -> None:
        subs = self._subscribers.get(res)
        if subs is not None:
            subs.discard(sub)

    def subscribers(self, res: ResKey | None = None) -> Iterable[Subscriber]:
        if res is not None:
            return tuple(self._subscribers.get(res, ()))
        return tuple(s for subs in self._subscribers.values() for s in subs)

    def listen(self, listener: Callable[[Event], None]) -> None:
        """Register an in-process observer (garbage collector, controllers) of every event."""
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[Event], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
