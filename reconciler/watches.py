"""What the ModelService controller caches, and which ModelService each cached object concerns.

The runtime's cache asks ``relation`` about every kind it starts watching. A ModelService is the
primary kind and enqueues itself. A child enqueues the ModelService that controls it: its
controller ownerReference, or the ownership labels a cluster-scoped child carries (``owner_key``),
as controller-runtime's ``EnqueueRequestForOwner`` does. A serving pod belongs to the Deployment
that made it (``pods.deployment_key``) and enqueues that Deployment's ModelService. Of a
ModelService the cache keeps all but managedFields, of a child also our field manager's entries
(what we own decides whether an apply would change anything), of a pod what the status reads.
"""

from __future__ import annotations

from reconciler import apply, pods
from reconciler.runtime.cache import GVK, Relation
from reconciler.runtime.client import Manifest
from shared import api, labels

MODELSERVICE: GVK = (api.API_VERSION, api.KIND)

_MODELSERVICES = Relation()


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


_CHILDREN = Relation(owner_of=owner_key, transform=apply.FIELDS.slim)
_PODS = Relation(owner_of=pods.deployment_key, through=pods.DEPLOYMENT, transform=pods.slim_pod)


def relation(gvk: GVK) -> Relation:
    """How the cache treats the objects of ``gvk``: a ModelService, a serving pod, or a child."""
    if gvk == MODELSERVICE:
        return _MODELSERVICES
    return _PODS if gvk == pods.POD else _CHILDREN
