"""Serving pods as the status reads them: a slim copy of each, and the Deployment it belongs to.

The reconciler watches the pods of every ModelService (decode, prefill, EPP; selected by the
managed-by label their templates carry) to say why a model is not ready. A serving Pod as the API
server sends it is about 5 KB of JSON, mostly its spec; the status reads only its identity, its
conditions and its container states, so the informer stores just those (``slim_pod``, about
1.2 KB), with every text cut to ``MAX_TEXT``. Deflated like every cached object, what is left of a
pod is mostly Python's per-object overhead: 10,000 serving pods cost about 12 MB of RSS
(``bench/README.md``).

A Pod names its ReplicaSet, not its ModelService; the Deployment controller names a ReplicaSet
``<deployment>-<pod-template-hash>`` and puts the same hash on its pods, so the Deployment is known
from the pod alone (``deployment_key``), whatever order the informers deliver things in. The cache
files pods under that Deployment and enqueues the Deployment's owner when one changes
(``reconciler.watches``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.runtime.client import Manifest

POD = ("v1", "Pod")
DEPLOYMENT = ("apps/v1", "Deployment")
TEMPLATE_HASH = "pod-template-hash"
MAX_TEXT = 1024
"""Characters kept of any message; the status quotes far less (a kubelet termination message may be 4 KB)."""

_META = ("name", "namespace", "resourceVersion", "creationTimestamp", "deletionTimestamp")
_CONDITION = ("type", "status", "reason", "message", "lastTransitionTime")
_CONTAINER = ("name", "image", "ready", "started", "restartCount")
_STATES = {
    "waiting": ("reason", "message"),
    "running": ("startedAt",),
    "terminated": ("exitCode", "signal", "reason", "message", "startedAt", "finishedAt"),
}


def deployment_key(pod: Mapping[str, Any]) -> str | None:
    """namespace/name of the Deployment whose ReplicaSet controls ``pod``, if one does."""
    meta = pod.get("metadata") or {}
    template_hash = (meta.get("labels") or {}).get(TEMPLATE_HASH)
    if not template_hash:
        return None
    suffix = f"-{template_hash}"
    for ref in meta.get("ownerReferences") or ():
        name = str(ref.get("name") or "")
        if ref.get("controller") and ref.get("kind") == "ReplicaSet" and name.endswith(suffix):
            return f"{meta.get('namespace') or ''}/{name[: -len(suffix)]}"
    return None


def slim_pod(pod: Manifest) -> Manifest:
    """What the cache keeps of a Pod: identity, owner, template hash, conditions, container states."""
    meta = pod.get("metadata") or {}
    kept_meta: Manifest = {key: meta[key] for key in _META if meta.get(key)}
    template_hash = (meta.get("labels") or {}).get(TEMPLATE_HASH)
    if template_hash:
        kept_meta["labels"] = {TEMPLATE_HASH: template_hash}
    owners = [
        {"kind": ref.get("kind"), "name": ref.get("name"), "controller": True}
        for ref in meta.get("ownerReferences") or ()
        if ref.get("controller")
    ]
    if owners:
        kept_meta["ownerReferences"] = owners
    status = pod.get("status") or {}
    kept: Manifest = {key: _text(status[key]) for key in ("phase", "reason", "message") if status.get(key)}
    if status.get("startTime"):
        kept["startTime"] = status["startTime"]
    conditions = [_pick(c, _CONDITION) for c in status.get("conditions") or ()]
    if conditions:
        kept["conditions"] = conditions
    for key in ("initContainerStatuses", "containerStatuses"):
        containers = [_container(c) for c in status.get(key) or ()]
        if containers:
            kept[key] = containers
    return {"metadata": kept_meta, "status": kept}


def _container(status: Mapping[str, Any]) -> Manifest:
    kept = _pick(status, _CONTAINER)
    for key in ("state", "lastState"):
        state = _state(status.get(key) or {})
        if state:
            kept[key] = state
    return kept


def _state(state: Mapping[str, Any]) -> Manifest:
    return {name: _pick(state[name] or {}, fields) for name, fields in _STATES.items() if name in state}


def _pick(obj: Mapping[str, Any], fields: tuple[str, ...]) -> Manifest:
    return {key: _text(obj[key]) for key in fields if obj.get(key) is not None and obj.get(key) != ""}


def _text(value: Any) -> Any:
    return value[:MAX_TEXT] if isinstance(value, str) else value
