"""Object metadata shared by every builder: name, namespace, labels and the owner reference.

Namespaced children carry a controller reference to their ModelService, so Kubernetes garbage
collection deletes them with it and the reconciler's watches map their events back to the owner.
Cluster-scoped children cannot point at a namespaced owner; they carry ownership labels instead and
are removed by the finalizer path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import api
from shared.api import ModelService

Manifest = dict[str, Any]
"""A Kubernetes object in wire form (camelCase keys), ready to serialize."""

CLUSTER_SCOPED_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding"})
"""Kinds among the children that live outside any namespace."""


def owner_reference(ms: ModelService) -> Manifest:
    """The controller reference to ``ms``; blockOwnerDeletion keeps foreground deletion ordered."""
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "name": ms.metadata.name,
        "uid": ms.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(
    ms: ModelService,
    name: str,
    labels: Mapping[str, str],
    *,
    annotations: Mapping[str, str] | None = None,
    cluster_scoped: bool = False,
) -> Manifest:
    """metadata of one child.

    The namespace is omitted when the ModelService has none (an offline render), and the owner
    reference when it has no uid yet: a reference with an empty uid would be rejected by the API
    server, and a made-up uid would point at nothing.
    """
    meta: Manifest = {"name": name}
    if not cluster_scoped and ms.metadata.namespace:
        meta["namespace"] = ms.metadata.namespace
    meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if not cluster_scoped and ms.metadata.uid:
        meta["ownerReferences"] = [owner_reference(ms)]
    return meta


def manifest(api_version: str, kind: str, metadata: Manifest, **body: Any) -> Manifest:
    """A whole object: apiVersion, kind, metadata, then the kind's own top-level fields in order."""
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
