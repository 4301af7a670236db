"""The EPP ClusterRole and ClusterRoleBinding: metrics endpoint authentication.

With metrics auth on, the EPP checks each scrape's bearer token with TokenReview and
SubjectAccessReview, which are cluster-scoped APIs. Cluster-scoped objects cannot be owned by a
namespaced ModelService, so they carry ownership labels (name, namespace, uid) instead of an owner
reference and the finalizer removes them.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.epp_rbac import RBAC_API_VERSION, RBAC_GROUP, service_account_subject
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings


def cluster_role_rules() -> list[Manifest]:
    """Token and access reviews for checking scrapers, and reading /metrics itself."""
    return [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    ]


def wants_epp_cluster_rbac(ms: ModelService, settings: OperatorSettings) -> bool:
    """An explicit inferencePool and metrics auth on (the provider does not matter)."""
    return ms.spec.inference_pool is not None and settings.metrics_endpoint_auth


def _metadata(ms: ModelService, settings: OperatorSettings) -> Manifest:
    cluster_labels = labels.epp_meta_labels(ms, settings.version, cluster_scoped=True)
    return meta.object_meta(ms, names.epp_cluster_rbac_name(ms), cluster_labels, cluster_scoped=True)


def build_epp_cluster_role(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The ClusterRole, or None when metrics auth does not need it (then it is removed)."""
    if not wants_epp_cluster_rbac(ms, settings):
        return None
    return meta.manifest(RBAC_API_VERSION, "ClusterRole", _metadata(ms, settings), rules=cluster_role_rules())


def build_epp_cluster_role_binding(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The ClusterRoleBinding to the EPP ServiceAccount, or None like the ClusterRole."""
    if not wants_epp_cluster_rbac(ms, settings):
        return None
    return meta.manifest(
        RBAC_API_VERSION,
        "ClusterRoleBinding",
        _metadata(ms, settings),
        subjects=[service_account_subject(ms)],
        roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": names.epp_cluster_rbac_name(ms)},
    )
