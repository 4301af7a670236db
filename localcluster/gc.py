"""Garbage collection, cascading deletion and namespace termination.

The real kube-controller-manager does this; a test cluster without it would let children of a
deleted owner live forever. Behaviour follows the garbage collector's rules:

* a dependent whose ownerReferences all point at absent owners (by uid; name and namespace must
  agree) is deleted; references to absent owners are dropped while a live owner remains;
* an owner deleted with `propagationPolicy: Foreground` carries the `foregroundDeletion`
  finalizer: its dependents are deleted (in the foreground too) and the finalizer is removed once
  no dependent with `blockOwnerDeletion: true` remains;
* `Orphan` adds the `orphan` finalizer: dependents lose their references to the owner, then the
  finalizer is removed;
* a namespace being deleted has its content deleted, then its `kubernetes` finalizer removed.

Writes go through the normal operations (and therefore admission), as the real GC's API calls do.
"""

from __future__ import annotations

from typing import Any

from localcluster import errors, meta
from localcluster.operations import Operations, Options, Target
from localcluster.registry import NAMESPACES_KEY, ResKey, ResourceType
from localcluster.store import DELETED, Event, ObjKey, key_of, owner_uids
from localcluster.workers import KeyedWorker

Manifest = dict[str, Any]
GC_USER: Manifest = {
    "username": "system:serviceaccount:kube-system:generic-garbage-collector",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
}
FOREGROUND, ORPHAN = "foregroundDeletion", "orphan"


class GarbageCollector(KeyedWorker):
    name = "garbage-collector"

    def __init__(self, ops: Operations) -> None:
        super().__init__()
        self.ops = ops
        self.store = ops.store

    def start(self) -> None:
        super().start()
        self.store.listen(self.on_event)

    async def stop(self) -> None:
        self.store.unlisten(self.on_event)
        await super().stop()

    # ----- event intake (synchronous, during writes) ---------------------------------------------

    def on_event(self, event: Event) -> None:
        obj, obj_meta = event.obj, event.obj["metadata"]
        key = (event.res, key_of(obj))
        if event.type == DELETED:
            for dependent in tuple(self.store.dependents.get(obj_meta.get("uid", ""), ())):
                self.enqueue(dependent)
            namespace = obj_meta.get("namespace")
            if namespace:
                ns = self.store.get(NAMESPACES_KEY, "", namespace)
                if ns is not None and ns["metadata"].get("deletionTimestamp"):
                    self.enqueue((NAMESPACES_KEY, ("", namespace)))
        else:
            if owner_uids(obj):
                self.enqueue(key)
            if obj_meta.get("deletionTimestamp") and (
                event.res == NAMESPACES_KEY or {FOREGROUND, ORPHAN} & set(obj_meta.get("finalizers") or ())
            ):
                self.enqueue(key)
        # An owner waiting for its dependents re-checks whenever one of them changes or goes.
        for uid in owner_uids(event.old or {"metadata": {}}) + owner_uids(obj):
            hit = self.store.by_uid(uid)
            if hit is not None and FOREGROUND in (hit[1]["metadata"].get("finalizers") or ()):
                self.enqueue((hit[0], key_of(hit[1])))

    # ----- processing ----------------------------------------------------------------------------

    def _target(self, res: ResKey, obj: Manifest) -> Target | None:
        rt = self.ops.registry.get(res)
        if rt is None:
            return None
        return Target(rt, rt.storage_version, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])

    async def process(self, key: tuple[ResKey, ObjKey]) -> None:
        res, (namespace, name) = key
        obj = self.store.get(res, namespace, name)
        t = self._target(res, obj) if obj is not None else None
        if obj is None or t is None:
            return
        obj_meta = obj["metadata"]
        if obj_meta.get("deletionTimestamp"):
            if res == NAMESPACES_KEY:
                await self._terminate_namespace(t, obj)
                return
            finalizers = obj_meta.get("finalizers") or ()
            if ORPHAN in finalizers:
                await self._orphan(t, obj)
                return
            if FOREGROUND in finalizers:
                await self._foreground(t, obj)
                return
        if obj_meta.get("ownerReferences"):
            await self._check_owners(t, obj)

    def _owner(self, ref: Manifest, dependent: Manifest) -> tuple[ResourceType, Manifest] | None:
        hit = self.store.by_uid(ref.get("uid", ""))
        if hit is None:
            return None
        res, owner = hit
        rt = self.ops.registry.get(res)
        if rt is None or owner["metadata"]["name"] != ref.get("name"):
            return None
        if rt.namespaced and owner["metadata"].get("namespace") != dependent["metadata"].get("namespace"):
            return None  # a namespaced owner can only own objects in its own namespace
        return rt, owner

    async def _check_owners(self, t: Target, obj: Manifest) -> None:
        refs = obj["metadata"]["ownerReferences"]
        solid, waiting, dangling = [], [], []
        for ref in refs:
            found = self._owner(ref, obj)
            if found is None:
                dangling.append(ref)
            elif FOREGROUND in (found[1]["metadata"].get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling:
                updated = meta.clone(obj)
                updated["metadata"]["ownerReferences"] = [r for r in refs if r not in dangling]
                await self.ops.update(t, updated, Options(user=GC_USER))
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        await self.ops.delete(t, Options(user=GC_USER), "Foreground" if waiting else "Background")

    async def _foreground(self, t: Target, owner: Manifest) -> None:
        uid = owner["metadata"]["uid"]
        blocking = 0
        for res, (namespace, name) in tuple(self.store.dependents.get(uid, ())):
            dependent = self.store.get(res, namespace, name)
            dep_t = self._target(res, dependent) if dependent is not None else None
            if dependent is None or dep_t is None:
                continue
            ref: Manifest = next(
                (r for r in dependent["metadata"].get("ownerReferences") or () if r.get("uid") == uid), {}
            )
            blocking += bool(ref.get("blockOwnerDeletion"))
            if not dependent["metadata"].get("deletionTimestamp"):
                try:
                    await self.ops.delete(dep_t, Options(user=GC_USER), "Foreground")
                except errors.StatusError as err:
                    if err.code != 404:
                        raise
        if blocking == 0 or not self._still_blocked(uid):
            await self._drop_finalizer(t, FOREGROUND)

    def _still_blocked(self, uid: str) -> bool:
        for res, (namespace, name) in tuple(self.store.dependents.get(uid, ())):
            dependent = self.store.get(res, namespace, name)
            refs = (dependent or {}).get("metadata", {}).get("ownerReferences") or ()
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in refs):
                return True
        return False

    async def _orphan(self, t: Target, owner: Manifest) -> None:
        uid = owner["metadata"]["uid"]
        for res, (namespace, name) in tuple(self.store.dependents.get(uid, ())):
            dependent = self.store.get(res, namespace, name)
            dep_t = self._target(res, dependent) if dependent is not None else None
            if dependent is None or dep_t is None:
                continue
            updated = meta.clone(dependent)
            updated["metadata"]["ownerReferences"] = [
                r for r in updated["metadata"].get("ownerReferences") or () if r.get("uid") != uid
            ]
            if not updated["metadata"]["ownerReferences"]:
                del updated["metadata"]["ownerReferences"]
            await self.ops.update(dep_t, updated, Options(user=GC_USER))
        await self._drop_finalizer(t, ORPHAN)

    async def _drop_finalizer(self, t: Target, finalizer: str) -> None:
        current = self.store.get(t.rt.key, t.namespace, t.name)
        if current is None or finalizer not in (current["metadata"].get("finalizers") or ()):
            return
        updated = meta.clone(current)
        updated["metadata"]["finalizers"] = [f for f in updated["metadata"]["finalizers"] if f != finalizer]
        await self.ops.update(t, updated, Options(user=GC_USER))

    async def _terminate_namespace(self, t: Target, ns: Manifest) -> None:
        remaining = 0
        for rt in list(self.ops.registry):
            if not rt.namespaced:
                continue
            for obj in self.store.items(rt.key, t.name):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    one = Target(rt, rt.storage_version, t.name, obj["metadata"]["name"])
                    try:
                        await self.ops.delete(one, Options(user=GC_USER))
                    except errors.StatusError as err:
                        if err.code != 404:
                            raise
        if remaining and any(self.store.count(rt.key, t.name) for rt in self.ops.registry if rt.namespaced):
            return  # objects with finalizers are still on their way out
        current = self.store.get(NAMESPACES_KEY, "", t.name)
        if current is not None and (current.get("spec") or {}).get("finalizers"):
            updated = meta.clone(current)
            updated["spec"]["finalizers"] = []
            await self.ops.update(t, updated, Options(user=GC_USER))
