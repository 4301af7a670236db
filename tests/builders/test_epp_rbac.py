"""The EPP Role and RoleBinding."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import epp_rbac
from tests.builders.factories import EPP_META, SETTINGS, make_ms

BASE_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]},
    {
        "apiGroups": ["inference.networking.x-k8s.io"],
        "resources": ["inferenceobjectives", "inferencemodelrewrites"],
        "verbs": ["get", "watch", "list"],
    },
    {
        "apiGroups": ["inference.networking.k8s.io"],
        "resources": ["inferencepools"],
        "verbs": ["get", "watch", "list"],
    },
]
LEADER_RULES = [
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]


@pytest.mark.parametrize(
    ("spec", "expected_rules"),
    [
        ({}, BASE_RULES),
        ({"inferencePool": {"endpointPicker": {"replicas": 1}}}, BASE_RULES),
        ({"inferencePool": {"endpointPicker": {"replicas": 0}}}, BASE_RULES),
        ({"inferencePool": {"endpointPicker": {"replicas": 3}}}, BASE_RULES + LEADER_RULES),
    ],
    ids=["no pool", "one replica", "zero replicas", "several replicas add leader election rules"],
)
def test_role(spec: dict[str, Any], expected_rules: list[dict[str, Any]]) -> None:
    assert epp_rbac.build_epp_role(make_ms(spec), SETTINGS) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": EPP_META,
        "rules": expected_rules,
    }


def test_role_binding_binds_the_epp_service_account() -> None:
    assert epp_rbac.build_epp_role_binding(make_ms(), SETTINGS) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": EPP_META,
        "subjects": [{"kind": "ServiceAccount", "name": "qwen3-0-6b-epp", "namespace": "llm"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "qwen3-0-6b-epp"},
    }
