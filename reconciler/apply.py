"""Create, update or delete one child with server-side apply, touching only what this ModelService controls.

Every child is written the same way, whether it exists or not: an apply (``Client.apply``) of the
object as built, forced, under the one field manager ``modelservice-reconciler``. The API server
records exactly the fields we set as ours, so an autoscaler or a user can own others (their
``replicas``, an extra label), and a field we stop setting is released and, if nobody else owns
it, removed. An apply is sent only when ``FIELDS.differs`` says it would change something (a
field we set is missing, different or taken by another manager, or a field we own is no longer
set), judged from the cached object and its managedFields; a no-op reconcile makes no request.

Preconditions: an apply changes exactly the object ownership was judged on, so it carries that
object's uid (a different object of that name answers 422, a deleted one 409; either way the next
pass looks again). No resourceVersion: a status the Deployment controller wrote since the cache
saw the object is no reason to fail. An apply meant to create carries resourceVersion ``1``,
which no object has (etcd's first write is revision 2): a create ignores it, while an object the
cache cannot see (a foreign one, without our labels) answers 409 instead of being merged into,
which a forced apply would do.

Takeover: earlier versions wrote children with create and update requests; the API server
recorded those under the same manager name with operation ``Update``. Such an entry shares every
field we set, so a field we later stop setting would stay, and it owns the server defaults of
the create. The first pass over such a child applies it (our ``Apply`` entry appears; the object
is unchanged, so no pod restarts) and then removes the old entry and the old
``model.otterscale.io/desired-hash`` annotation with a merge patch of ``managedFields``. (An
adopted child of the reference operator keeps that operator's entry: other managers are not
ours to remove, so what it set like us stays shared.)

Replicas: a Deployment built without ``spec.replicas`` (an autoscaler owns it) must not lose the
field when we stop setting it, or the API server would reset it to 1 before the autoscaler acts.
The Kubernetes docs' handover: the current value is first applied under a second manager, which
keeps it until the autoscaler writes it; then our apply releases it.

Ownership: a namespaced child is ours when its controller ownerReference has our uid; a
cluster-scoped one when its OWNER_UID label has. An object without a controller that carries the
operator's managed-by label and (if any) our name label is adopted: it was made by this operator
or the reference operator and lost its owner (orphan deletion, restore from backup). Anything else
with the same name is foreign: it is never written or deleted, and the ModelService reports a
NameConflict naming it and its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from reconciler.controller import Deps, ReconcileState
from reconciler.runtime import managedfields
from reconciler.runtime.cache import GVK
from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.errors import AlreadyExists, ApiError, Conflict, Invalid, NotFound
from reconciler.runtime.informer import ObjKey
from shared import labels
from shared.builders import DesiredState
from shared.builders.meta import CLUSTER_SCOPED_KINDS
from shared.kube_types import parse_quantity

FIELD_MANAGER = "modelservice-reconciler"
"""The field manager of every server-side apply. Earlier versions wrote children with create and
update requests, which the API server records under the manager it derives from the User-Agent:
the same name, with operation ``Update``."""
USER_AGENT = FIELD_MANAGER
"""The User-Agent of the reconciler's requests: its other writes (status, finalizers) are filed
under the same manager name."""
HANDOVER_MANAGER = "modelservice-reconciler-handover"
"""Holds a Deployment's replicas between our release of them and the autoscaler's first write."""
LEGACY_HASH = "model.otterscale.io/desired-hash"
"""The annotation earlier versions compared; removed when a child is taken over."""
CREATE_ONLY = "1"
"""A resourceVersion no stored object has: an apply carrying it creates, or fails with 409."""
_DEPLOYMENT: GVK = ("apps/v1", "Deployment")


def _same_quantity(a: str, b: str) -> bool:
    """Quantities as the builders write them (``shared.kube_types``); the API server stores the
    canonical form, so ``1024Mi`` must equal the ``1Gi`` it returns."""
    try:
        return parse_quantity(a) == parse_quantity(b)
    except ValueError:
        return False


FIELDS = managedfields.FieldManager(FIELD_MANAGER, _same_quantity)
"""What our field manager owns of a child, and whether applying the child as built would change it."""


class ChildError(Exception):
    """Writing one child failed; ``retryable`` errors end the reconcile early (the next would fail too)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Ownership(Enum):
    OURS = "ours"
    ADOPTABLE = "adoptable"
    FOREIGN = "foreign"


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


async def ensure(desired: Manifest, deps: Deps, state: ReconcileState) -> None:
    """Make one desired child exist as built; record what happened in ``state``."""
    gvk = (desired["apiVersion"], desired["kind"])
    resource = deps.mapper.find(*gvk)
    if resource is None:
        state.missing_kinds.add(desired["kind"])
        return
    meta = desired["metadata"]
    key = (meta.get("namespace") or "", meta["name"])
    remembered = deps.conflicts.get(gvk, key)
    if remembered is not None:
        state.conflicts.append(remembered)
        return
    live = deps.cache.get(gvk, meta.get("namespace"), meta["name"])
    if live is None:
        await _create(resource, gvk, desired, deps, state)
        return
    verdict = ownership(live, state.name, state.namespace, state.uid)
    if verdict is Ownership.FOREIGN:
        state.conflicts.append(f"{describe(live)} is controlled by {describe_owner(live)}")
        return
    if live["metadata"].get("deletionTimestamp"):
        state.requeue = True  # being deleted (finalizers pending): create it again once it is gone
        return
    if verdict is Ownership.OURS and not FIELDS.differs(desired, live) and not FIELDS.has_update_entry(live):
        state.seen(gvk, live)
        return
    await _update(resource, gvk, live, desired, deps, state)


async def _create(resource: Resource, gvk: GVK, desired: Manifest, deps: Deps, state: ReconcileState) -> None:
    what = describe(desired)
    try:
        created = await deps.client.apply(
            resource, _with_meta(desired, resourceVersion=CREATE_ONLY), field_manager=FIELD_MANAGER
        )
    except (AlreadyExists, Conflict):
        await _explain_existing(resource, gvk, desired, deps, state)
        return
    except ApiError as e:
        raise ChildError(
            f"creating {what}: {e.message}", retryable=e.retryable, retry_after=e.retry_after
        ) from e
    deps.cache.record_write(gvk, created)
    state.seen(gvk, created)
    state.created.append(what)


async def _explain_existing(
    resource: Resource, gvk: GVK, desired: Manifest, deps: Deps, state: ReconcileState
) -> None:
    """A create met an existing object the cache does not show: ours but not seen yet, or foreign."""
    meta = desired["metadata"]
    try:
        existing = await deps.client.get(resource, meta["name"], meta.get("namespace"))
    except NotFound:
        state.requeue = True  # deleted in between: try again
        return
    except ApiError as e:
        raise ChildError(f"reading {describe(desired)}: {e.message}", retryable=e.retryable) from e
    if ownership(existing, state.name, state.namespace, state.uid) is Ownership.FOREIGN or not _labelled(
        existing
    ):
        message = f"{describe(existing)} is controlled by {describe_owner(existing)}"
        deps.conflicts.remember(gvk, (meta.get("namespace") or "", meta["name"]), message)
        state.conflicts.append(message)
    else:
        state.requeue = True  # ours: the informer will deliver it


def _labelled(obj: Mapping[str, Any]) -> bool:
    return (obj["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE


async def _update(
    resource: Resource, gvk: GVK, live: Manifest, desired: Manifest, deps: Deps, state: ReconcileState
) -> None:
    """Apply onto ``live`` (handing replicas over first, taking an earlier version's child over after)."""
    what = describe(desired)
    uid = live["metadata"].get("uid")
    try:
        handover = replicas_handover(desired, live)
        if handover is not None:
            await deps.client.apply(resource, handover, field_manager=HANDOVER_MANAGER, force=False)
        updated = await deps.client.apply(resource, _with_meta(desired, uid=uid), field_manager=FIELD_MANAGER)
        if FIELDS.has_update_entry(updated):
            meta = updated["metadata"]
            patch = takeover_patch(updated)
            updated = await deps.client.patch(resource, meta["name"], patch, meta.get("namespace"))
    except (Conflict, NotFound):
        state.requeue = True  # the cache was stale; the next pass sees the newer object
        return
    except Invalid as e:
        if "metadata.uid" not in e.message:
            raise ChildError(f"updating {what}: {e.message}", retryable=False) from e
        state.requeue = True  # another object under the name now: the next pass judges it
        return
    except ApiError as e:
        raise ChildError(
            f"updating {what}: {e.message}", retryable=e.retryable, retry_after=e.retry_after
        ) from e
    deps.cache.record_write(gvk, updated)
    state.seen(gvk, updated)
    state.updated.append(what)


def _with_meta(obj: Manifest, **preconditions: Any) -> Manifest:
    return {**obj, "metadata": {**obj["metadata"], **preconditions}}


def replicas_handover(desired: Manifest, live: Manifest) -> Manifest | None:
    """The apply that keeps a Deployment's replicas while we release them, if we are about to.

    Needed when the desired Deployment leaves replicas to an autoscaler and our manager still
    owns them; the docs' "Transferring ownership" (the second manager's entry disappears once the
    autoscaler sets another value).
    """
    if (desired["apiVersion"], desired["kind"]) != _DEPLOYMENT or "replicas" in desired.get("spec", {}):
        return None
    replicas = (live.get("spec") or {}).get("replicas")
    if replicas is None or not managedfields.owns(FIELDS.owned(live), "spec", "replicas"):
        return None
    meta = live["metadata"]
    return {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta},
        "spec": {"replicas": replicas},
    }


def takeover_patch(applied: Manifest) -> Manifest:
    """A merge patch of ``applied`` (just applied by us) that drops what earlier versions left:
    their create/update managedFields entries and the hash annotation. Changing only those, it
    adds no managedFields entry of its own; the resourceVersion keeps it from replacing entries
    someone added since."""
    meta = applied["metadata"]
    patch: Manifest = {
        "resourceVersion": meta["resourceVersion"],
        "managedFields": FIELDS.without_update_entries(applied),
    }
    if LEGACY_HASH in (meta.get("annotations") or {}):
        patch["annotations"] = {LEGACY_HASH: None}
    return {"metadata": patch}


async def prune(
    desired: DesiredState, deps: Deps, state: ReconcileState, *, only_kinds: frozenset[str] | None = None
) -> None:
    """Delete children this ModelService controls that are not desired (``.absent`` or left over)."""
    wanted = {((o["apiVersion"], o["kind"]), _obj_key(o)) for o in desired.objects}
    candidates = set(deps.cache.owned_keys(state.owner_key))
    candidates.update(((r.api_version, r.kind), (r.namespace or "", r.name)) for r in desired.absent)
    for gvk, key in sorted(candidates - wanted):
        if only_kinds is not None and gvk[1] not in only_kinds:
            continue
        obj = deps.cache.get(gvk, key[0] or None, key[1])
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            continue
        if ownership(obj, state.name, state.namespace, state.uid) is not Ownership.OURS:
            continue
        await delete(gvk, obj, deps, state)


async def delete(gvk: GVK, obj: Manifest, deps: Deps, state: ReconcileState) -> None:
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
    state.deleted.append(describe(obj))


def _obj_key(obj: Mapping[str, Any]) -> ObjKey:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]
