"""The EPP ClusterRole and ClusterRoleBinding for metrics authentication."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import epp_cluster_rbac
from tests.builders.factories import EPP_SELECTOR, make_ms, settings

POOL: dict[str, Any] = {"inferencePool": {"endpointPicker": {}}}
CLUSTER_META = {
    "name": "llm-qwen3-0-6b-epp",
    "labels": EPP_SELECTOR
    | {
        "app.kubernetes.io/version": "v1.0.1",
        "model.otterscale.io/modelservice": "qwen3-0.6b",
        "model.otterscale.io/modelservice-namespace": "llm",
        "model.otterscale.io/modelservice-uid": "U",
    },
}


def test_cluster_role_allows_token_and_access_reviews_and_metrics() -> None:
    assert epp_cluster_rbac.build_epp_cluster_role(make_ms(POOL), settings()) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": CLUSTER_META,
        "rules": [
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["subjectaccessreviews"],
                "verbs": ["create"],
            },
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    }


def test_cluster_role_binding_binds_the_namespaced_service_account() -> None:
    assert epp_cluster_rbac.build_epp_cluster_role_binding(make_ms(POOL), settings()) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": CLUSTER_META,
        "subjects": [{"kind": "ServiceAccount", "name": "qwen3-0-6b-epp", "namespace": "llm"}],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "llm-qwen3-0-6b-epp",
        },
    }


@pytest.mark.parametrize(
    ("spec", "changes", "wanted"),
    [
        (POOL, {}, True),
        (POOL, {"provider": "gke"}, True),
        (POOL, {"provider": "none"}, True),
        ({}, {}, False),
        (POOL, {"metrics_endpoint_auth": False}, False),
    ],
    ids=[
        "pool and auth",
        "provider does not matter (gke)",
        "provider does not matter (none)",
        "no pool",
        "auth off",
    ],
)
def test_cluster_rbac_presence(spec: dict[str, Any], changes: dict[str, Any], wanted: bool) -> None:
    ms, config = make_ms(spec), settings(**changes)
    assert (epp_cluster_rbac.build_epp_cluster_role(ms, config) is not None) is wanted
    assert (epp_cluster_rbac.build_epp_cluster_role_binding(ms, config) is not None) is wanted


def test_offline_render_without_uid_omits_the_uid_label() -> None:
    built = epp_cluster_rbac.build_epp_cluster_role(make_ms(POOL, uid=""), settings())
    assert built is not None
    assert "model.otterscale.io/modelservice-uid" not in built["metadata"]["labels"]
    assert "ownerReferences" not in built["metadata"]
