"""Create, update or delete one child, touching only what this ModelService controls.

``needs_update(live, desired)`` is pure: the desired object must be a subset of the live one,
compared recursively with lists item by item, so fields the API server defaults never trigger an
update (controller-runtime's CreateOrUpdate warns about exactly that trap). A subset check cannot
see a field we *stopped* setting, so every desired object carries a hash of itself in the
``model.otterscale.io/desired-hash`` annotation: a changed spec changes the hash and forces one
update, while hand edits of our fields fail the subset check and are reverted.

Ownership: a namespaced child is ours when its controller ownerReference has our uid; a
cluster-scoped one when its OWNER_UID label has. An object without a controller that carries the
operator's managed-by label and (if any) our name label is adopted: it was made by this operator
or the reference operator and lost its owner (orphan deletion, restore from backup). Anything else
with the same name is foreign: it is never written or deleted, and the ModelService reports a
NameConflict naming it and its owner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import Enum
from typing import Any

import orjson

from reconciler.cache import GVK
from reconciler.context import ChildError, Deps, Pass
from reconciler.errors import AlreadyExists, ApiError, Conflict, NotFound
from reconciler.informer import ObjKey
from reconciler.kube import Manifest, Resource
from shared import labels
from shared.builders import DesiredState
from shared.builders.meta import CLUSTER_SCOPED_KINDS
from shared.kube_types import parse_quantity

DESIRED_HASH = "model.otterscale.io/desired-hash"
_QUANTITY_MAPS = frozenset({"limits", "requests"})
_IDENTITY_KEYS = frozenset({"apiVersion", "kind", "metadata", "status"})


class Ownership(Enum):
    OURS = "ours"
    ADOPTABLE = "adoptable"
    FOREIGN = "foreign"


def is_subset(desired: Any, live: Any, *, quantities: bool = False) -> bool:
    """Every field of ``desired`` is in ``live`` with the same value; lists match item by item.

    An empty map or list in ``desired`` also matches a missing field (the API server drops some).
    Under ``limits`` and ``requests`` values compare as quantities, because the API server stores
    them in canonical form (``1024Mi`` comes back as ``1Gi``) and a textual difference there would
    update the object on every pass.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return not desired and live is None
        for key, value in desired.items():
            if key not in live:
                if value in ({}, [], None):
                    continue
                return False
            if not is_subset(value, live[key], quantities=quantities or key in _QUANTITY_MAPS):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(live, list):
            return not desired and live is None
        return len(desired) == len(live) and all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if desired == live:
        return True
    return quantities and _same_quantity(desired, live)


def _same_quantity(desired: Any, live: Any) -> bool:
    try:
        return parse_quantity(str(desired)) == parse_quantity(str(live))
    except ValueError:
        return False


def needs_update(live: Manifest, desired: Manifest) -> bool:
    """True when an update is needed: some field we set differs from the live object.

    Owner references are a set keyed by uid (others may add theirs), everything else is compared
    as a subset.
    """
    meta = desired.get("metadata") or {}
    refs = meta.get("ownerReferences") or []
    comparable = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata")}
    comparable["metadata"] = {k: v for k, v in meta.items() if k != "ownerReferences"}
    if not is_subset(comparable, live):
        return True
    live_refs = {r.get("uid"): r for r in (live.get("metadata") or {}).get("ownerReferences") or ()}
    return not all(is_subset(ref, live_refs.get(ref.get("uid"))) for ref in refs)


def with_hash(desired: Manifest) -> Manifest:
    """``desired`` plus the annotation holding a hash of it (computed without that annotation)."""
    canonical = orjson.dumps(desired, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(canonical).hexdigest()[:32]
    meta = dict(desired["metadata"])
    meta["annotations"] = {**(meta.get("annotations") or {}), DESIRED_HASH: digest}
    return {**desired, "metadata": meta}


def merged(live: Manifest, desired: Manifest) -> Manifest:
    """The update to send: ``live`` with our fields copied over, keeping everything else.

    Top-level fields we set (spec, data, rules, subjects, roleRef ...) are replaced whole, so a
    field we stopped setting disappears; the API server re-applies its defaults. A Service keeps
    the fields the server allocated (clusterIP and friends) because we replace only our keys of
    its spec. Labels and annotations are merged; our controller reference is added if missing.
    """
    out = dict(live)
    meta = dict(live["metadata"])
    want = desired["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **(want.get("labels") or {})}
    meta["annotations"] = {**(meta.get("annotations") or {}), **(want.get("annotations") or {})}
    refs = _merged_owner_references(meta.get("ownerReferences") or [], want.get("ownerReferences") or [])
    if refs:
        meta["ownerReferences"] = refs
    out["metadata"] = meta
    for key, value in desired.items():
        if key in _IDENTITY_KEYS:
            continue
        if key == "spec" and desired.get("kind") == "Service":
            out[key] = {**(live.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def _merged_owner_references(live: list[Manifest], desired: list[Manifest]) -> list[Manifest]:
    wanted_uids = {ref.get("uid") for ref in desired}
    return [ref for ref in live if ref.get("uid") not in wanted_uids] + list(desired)


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((r for r in obj["metadata"].get("ownerReferences") or () if r.get("controller")), None)


def ownership(obj: Mapping[str, Any], ms_name: str, ms_namespace: str, ms_uid: str) -> Ownership:
    """Whether ``obj`` is controlled by the ModelService (ms_namespace/ms_name, ms_uid); see module doc."""
    found = obj["metadata"].get("labels") or {}
    if obj.get("kind") in CLUSTER_SCOPED_KINDS:
        uid = found.get(labels.OWNER_UID)
        if uid:
            return Ownership.OURS if uid == ms_uid else Ownership.FOREIGN
        same_namespace = found.get(labels.OWNER_NAMESPACE, ms_namespace) == ms_namespace
        return _adoptable(found, ms_name) if same_namespace else Ownership.FOREIGN
    controller = controller_of(obj)
    if controller is not None:
        return Ownership.OURS if controller.get("uid") == ms_uid else Ownership.FOREIGN
    return _adoptable(found, ms_name)


def _adoptable(found: Mapping[str, str], ms_name: str) -> Ownership:
    managed = found.get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE
    named_us = found.get(labels.OWNER_NAME, ms_name) == ms_name
    return Ownership.ADOPTABLE if managed and named_us else Ownership.FOREIGN


def describe_owner(obj: Mapping[str, Any]) -> str:
    """Who controls ``obj``, for a NameConflict message."""
    found = obj["metadata"].get("labels") or {}
    if obj.get("kind") in CLUSTER_SCOPED_KINDS and found.get(labels.OWNER_UID):
        namespace, name = found.get(labels.OWNER_NAMESPACE, "?"), found.get(labels.OWNER_NAME, "?")
        return f"ModelService {namespace}/{name} (uid {found[labels.OWNER_UID]})"
    controller = controller_of(obj)
    if controller is not None:
        return (
            f"{controller.get('kind', '?')} {controller.get('name', '?')} (uid {controller.get('uid', '?')})"
        )
    return "no controller (not managed by this operator)"


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (or ``Kind name`` when cluster-scoped)."""
    meta = obj["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    return f"{obj.get('kind', '?')} {where}"


# --- writes ---------------------------------------------------------------------------------------


async def ensure(desired: Manifest, deps: Deps, p: Pass) -> None:
    """Make one desired child exist as built; record what happened in ``p``."""
    gvk = (desired["apiVersion"], desired["kind"])
    resource = deps.mapper.find(*gvk)
    if resource is None:
        p.missing_kinds.add(desired["kind"])
        return
    meta = desired["metadata"]
    key = (meta.get("namespace") or "", meta["name"])
    remembered = deps.conflicts.get(gvk, key)
    if remembered is not None:
        p.conflicts.append(remembered)
        return
    desired = with_hash(desired)
    live = deps.cache.get(gvk, meta.get("namespace"), meta["name"])
    if live is None:
        await _create(resource, gvk, desired, deps, p)
        return
    verdict = ownership(live, p.name, p.namespace, p.uid)
    if verdict is Ownership.FOREIGN:
        p.conflicts.append(f"{describe(live)} is controlled by {describe_owner(live)}")
        return
    if live["metadata"].get("deletionTimestamp"):
        p.requeue = True  # being deleted (finalizers pending): create it again once it is gone
        return
    if verdict is Ownership.OURS and not needs_update(live, desired):
        p.seen(gvk, live)
        return
    await _update(resource, gvk, live, desired, deps, p)


async def _create(resource: Resource, gvk: GVK, desired: Manifest, deps: Deps, p: Pass) -> None:
    what = describe(desired)
    try:
        created = await deps.client.create(resource, desired)
    except AlreadyExists:
        await _explain_existing(resource, gvk, desired, deps, p)
        return
    except ApiError as e:
        raise ChildError(
            f"creating {what}: {e.message}", retryable=e.retryable, retry_after=e.retry_after
        ) from e
    deps.cache.record_write(gvk, created)
    p.seen(gvk, created)
    p.created.append(what)


async def _explain_existing(resource: Resource, gvk: GVK, desired: Manifest, deps: Deps, p: Pass) -> None:
    """A create hit an existing object the cache does not show: ours but not seen yet, or foreign."""
    meta = desired["metadata"]
    try:
        existing = await deps.client.get(resource, meta["name"], meta.get("namespace"))
    except NotFound:
        p.requeue = True  # deleted in between: try again
        return
    except ApiError as e:
        raise ChildError(f"reading {describe(desired)}: {e.message}", retryable=e.retryable) from e
    if ownership(existing, p.name, p.namespace, p.uid) is Ownership.FOREIGN or not _labelled(existing):
        message = f"{describe(existing)} is controlled by {describe_owner(existing)}"
        deps.conflicts.remember(gvk, (meta.get("namespace") or "", meta["name"]), message)
        p.conflicts.append(message)
    else:
        p.requeue = True  # ours: the informer will deliver it


def _labelled(obj: Mapping[str, Any]) -> bool:
    return (obj["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE


async def _update(
    resource: Resource, gvk: GVK, live: Manifest, desired: Manifest, deps: Deps, p: Pass
) -> None:
    what = describe(desired)
    try:
        updated = await deps.client.replace(resource, merged(live, desired))
    except (Conflict, NotFound):
        p.requeue = True  # the cache was stale; the next pass sees the newer object
        return
    except ApiError as e:
        raise ChildError(
            f"updating {what}: {e.message}", retryable=e.retryable, retry_after=e.retry_after
        ) from e
    deps.cache.record_write(gvk, updated)
    p.seen(gvk, updated)
    p.updated.append(what)


async def prune(
    desired: DesiredState, deps: Deps, p: Pass, *, only_kinds: frozenset[str] | None = None
) -> None:
    """Delete children this ModelService controls that are not desired (``.absent`` or left over)."""
    wanted = {((o["apiVersion"], o["kind"]), _obj_key(o)) for o in desired.objects}
    candidates = set(deps.cache.owned_keys(p.owner_key))
    candidates.update(((r.api_version, r.kind), (r.namespace or "", r.name)) for r in desired.absent)
    for gvk, key in sorted(candidates - wanted):
        if only_kinds is not None and gvk[1] not in only_kinds:
            continue
        obj = deps.cache.get(gvk, key[0] or None, key[1])
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            continue
        if ownership(obj, p.name, p.namespace, p.uid) is not Ownership.OURS:
            continue
        await delete(gvk, obj, deps, p)


async def delete(gvk: GVK, obj: Manifest, deps: Deps, p: Pass) -> None:
    """Delete one child (only this incarnation of it: uid precondition)."""
    resource = deps.mapper.find(*gvk)
    if resource is None:
        return
    meta = obj["metadata"]
    try:
        await deps.client.delete(resource, meta["name"], meta.get("namespace"), uid=meta.get("uid"))
    except (NotFound, Conflict):
        pass  # already gone, or a different object by now: not ours to delete
    except ApiError as e:
        message = f"deleting {describe(obj)}: {e.message}"
        raise ChildError(message, retryable=e.retryable, retry_after=e.retry_after) from e
    deps.cache.record_delete(gvk, obj)
    p.deleted.append(describe(obj))


def _obj_key(obj: Mapping[str, Any]) -> ObjKey:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]
