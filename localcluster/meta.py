"""System-owned metadata: what the server sets on create and preserves or bumps on update.

These helpers mirror `rest.BeforeCreate` / `rest.BeforeUpdate` and the strategies' generation
rules: uid, creationTimestamp, generation 1 on create; immutable fields carried over on update;
generation bumped when anything outside metadata (and outside status, for kinds with a status
subresource) changes; status writes that may only touch `status`.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from localcluster import codec, errors
from localcluster.registry import ResourceType

Manifest = dict[str, Any]

# Fields a client may not change through an update; the stored values win.
_IMMUTABLE = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
# Fields a client may not set through a create.
_SYSTEM = (*_IMMUTABLE, "resourceVersion", "selfLink", "managedFields")
OMIT_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "generateName", "managedFields")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


clone = codec.clone


def generate_name(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice(_NAME_ALPHABET) for _ in range(5))


def before_create(rt: ResourceType, obj: Manifest, now: str, rng: random.Random) -> None:
    meta = obj["metadata"]
    for key in _SYSTEM:
        meta.pop(key, None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(str(meta["generateName"]), rng)
    meta["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    meta["creationTimestamp"] = now
    meta["generation"] = 1
    if rt.status_subresource:
        if rt.custom:
            obj.pop("status", None)
        elif rt.key == ("apps", "deployments"):
            obj["status"] = {}


def spec_part(rt: ResourceType, obj: Manifest) -> Manifest:
    """Everything whose change bumps `metadata.generation`."""
    skip = ("metadata", "status") if rt.status_subresource else ("metadata",)
    return {k: v for k, v in obj.items() if k not in skip and k not in ("apiVersion", "kind")}


def only_status(existing: Manifest, submitted: Manifest) -> Manifest:
    """A /status write: the stored object with just the submitted status swapped in."""
    out: Manifest = clone(existing)
    out["metadata"]["resourceVersion"] = submitted["metadata"].get("resourceVersion", "")
    if "status" in submitted:
        out["status"] = submitted["status"]
    else:
        out.pop("status", None)
    return out


def keep_status(existing: Manifest, obj: Manifest) -> None:
    """A main-resource write on a kind with /status: the stored status wins."""
    if "status" in existing:
        obj["status"] = clone(existing["status"])
    else:
        obj.pop("status", None)


def before_update(rt: ResourceType, obj: Manifest, existing: Manifest) -> None:
    """Carry immutable metadata over and bump generation on spec changes."""
    meta, old_meta = obj["metadata"], existing["metadata"]
    if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
        raise errors.conflict(
            rt.group,
            rt.plural,
            old_meta["name"],
            f"Precondition failed: UID in precondition: {meta['uid']}, "
            f"UID in object meta: {old_meta.get('uid')}",
        )
    for key in _IMMUTABLE:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    meta.pop("selfLink", None)
    meta.pop("managedFields", None)
    if spec_part(rt, obj) != spec_part(rt, existing):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1


def new_finalizers(obj: Manifest, existing: Manifest) -> list[str]:
    """Finalizers an update adds to an object that is already being deleted (forbidden)."""
    if not existing["metadata"].get("deletionTimestamp"):
        return []
    old = set(existing["metadata"].get("finalizers") or ())
    return [f for f in obj["metadata"].get("finalizers") or () if f not in old]


def pending_finalizers(obj: Manifest) -> bool:
    if obj["metadata"].get("finalizers"):
        return True
    return obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))
