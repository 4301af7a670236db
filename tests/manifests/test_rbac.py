"""The operator's RBAC: the reconciler holds what it uses and what it grants, nothing more; the
webhook holds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api import ModelService
from shared.builders import OWNED_KINDS, build_all
from shared.settings import OperatorSettings
from tests.manifests import layout, rbac_rules
from tests.manifests.layout import Manifest
from tests.manifests.rbac_rules import Request

FORBIDDEN_VERBS = frozenset({"escalate", "bind", "impersonate", "*"})

RECONCILER = rbac_rules.load_rules("ClusterRole", layout.RECONCILER_CLUSTER_ROLE)
LEADER_ELECTION = rbac_rules.load_rules("Role", layout.LEADER_ELECTION_ROLE)

# Where each child kind lives in the API; a builder emitting a kind missing here fails the test
# that the reconciler can manage every child, which is the reminder to extend the ClusterRole.
CHILD_RESOURCES = {
    "Deployment": ("apps", "deployments"),
    "Service": ("", "services"),
    "ServiceAccount": ("", "serviceaccounts"),
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
    "ClusterRole": ("rbac.authorization.k8s.io", "clusterroles"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "clusterrolebindings"),
    "InferencePool": ("inference.networking.k8s.io", "inferencepools"),
    "HTTPRoute": ("gateway.networking.k8s.io", "httproutes"),
    "DestinationRule": ("networking.istio.io", "destinationrules"),
    "PodMonitor": ("monitoring.coreos.com", "podmonitors"),
    "ServiceMonitor": ("monitoring.coreos.com", "servicemonitors"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "ScaledObject": ("keda.sh", "scaledobjects"),
}
CHILD_VERBS = ("get", "list", "watch", "create", "patch", "delete")


def model_service(spec: dict[str, Any]) -> ModelService:
    base: dict[str, Any] = {
        "model": {"name": "Qwen/Qwen3-0.6B", "image": "registry.local/models/qwen3:0.6b"},
        "engine": {},
        "accelerator": {"type": "nvidia"},
        "decode": {"replicas": 1},
    }
    return ModelService.from_manifest(
        {"metadata": {"name": "qwen", "namespace": "llm", "uid": "uid-1"}, "spec": base | spec}
    )


VARIANTS = {
    "defaults": (model_service({}), OperatorSettings()),
    "replicated-epp": (
        model_service(
            {
                "inferencePool": {"endpointPicker": {"replicas": 3}},
                "prefill": {"replicas": 1},
                "routingProxy": {},
                "monitoring": {"podMonitor": {"enabled": True}},
            }
        ),
        OperatorSettings(),
    ),
    "no-metrics-auth-gke": (model_service({}), OperatorSettings(metrics_endpoint_auth=False, provider="gke")),
    "llm-d-router-epp": (model_service({}), OperatorSettings(epp_generation="llm-d-router")),
}


def all_shipped_roles(objects: list[Manifest]) -> list[Manifest]:
    return [o for o in objects if o["kind"] in ("Role", "ClusterRole")]


def test_no_shipped_role_can_escalate_bind_impersonate_or_use_wildcards(
    default_install: list[Manifest],
) -> None:
    roles = all_shipped_roles(default_install)
    assert {r["metadata"]["name"] for r in roles} >= {
        layout.RECONCILER_CLUSTER_ROLE,
        layout.LEADER_ELECTION_ROLE,
    }
    offending = [
        f"{role['kind']}/{role['metadata']['name']} rule {i}: {rule}"
        for role in roles
        for i, rule in enumerate(role.get("rules") or [])
        if FORBIDDEN_VERBS & set(rule.get("verbs") or [])
        or any(
            "*" in value
            for key in ("apiGroups", "resources", "nonResourceURLs")
            for value in rule.get(key) or []
        )
    ]
    assert offending == []


@pytest.mark.parametrize("variant", sorted(VARIANTS), ids=sorted(VARIANTS))
def test_reconciler_holds_every_permission_it_grants_to_the_epp(variant: str) -> None:
    ms, settings = VARIANTS[variant]
    granted = [
        rule
        for obj in build_all(ms, settings).objects
        if obj["kind"] in ("Role", "ClusterRole")
        for rule in obj.get("rules") or []
    ]
    assert granted, "the builders grant nothing: the variant no longer exercises the EPP roles"
    assert rbac_rules.not_covered(RECONCILER, granted) == []


def test_replicated_epp_variant_grants_leader_election_rights() -> None:
    # Guards the table above: without this grant the superset test would not cover leases.
    ms, settings = VARIANTS["replicated-epp"]
    role = next(o for o in build_all(ms, settings).objects if o["kind"] == "Role")
    assert rbac_rules.allows(role["rules"], Request("update", "coordination.k8s.io", "leases"))


def test_reconciler_can_manage_every_child_kind_the_builders_know() -> None:
    kinds = {kind for _, kind in OWNED_KINDS}
    assert kinds <= set(CHILD_RESOURCES), f"kinds without an RBAC mapping: {kinds - set(CHILD_RESOURCES)}"
    missing = [
        str(request)
        for kind in sorted(kinds)
        for verb in CHILD_VERBS
        if not rbac_rules.allows(RECONCILER, request := Request(verb, *CHILD_RESOURCES[kind]))
    ]
    assert missing == []


MS = "model.otterscale.io"
ALLOWED = [
    Request("list", MS, "modelservices"),
    Request("watch", MS, "modelservices"),
    Request("update", MS, "modelservices"),
    Request("update", MS, "modelservices/finalizers"),
    Request("patch", MS, "modelservices/status"),
    Request("patch", "apps", "deployments"),
    Request("delete", "rbac.authorization.k8s.io", "clusterrolebindings"),
    Request("create", "events.k8s.io", "events"),
    Request("patch", "", "events"),
    Request("get", "", "pods"),
    Request("list", "inference.networking.x-k8s.io", "inferenceobjectives"),
    Request("create", "authentication.k8s.io", "tokenreviews"),
    Request("create", "authorization.k8s.io", "subjectaccessreviews"),
    Request("get", path="/metrics"),
]
DENIED = [
    Request("create", MS, "modelservices"),
    Request("delete", MS, "modelservices"),
    Request("patch", MS, "modelservices"),
    Request("update", MS, "modelservices/status"),
    Request("create", "", "pods"),
    Request("create", "", "pods/exec"),
    Request("deletecollection", "", "secrets"),
    Request("get", "", "nodes"),
    Request("create", "", "namespaces"),
    Request("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    Request("bind", "rbac.authorization.k8s.io", "clusterroles"),
    Request("impersonate", "", "serviceaccounts"),
    Request("create", "", "serviceaccounts/token"),
    Request("update", "apiextensions.k8s.io", "customresourcedefinitions"),
    Request("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    Request("get", path="/debug/pprof"),
]


@pytest.mark.parametrize("request_", ALLOWED, ids=[str(r) for r in ALLOWED])
def test_reconciler_cluster_role_allows(request_: Request) -> None:
    assert rbac_rules.allows(RECONCILER, request_)


@pytest.mark.parametrize("request_", DENIED, ids=[str(r) for r in DENIED])
def test_reconciler_cluster_role_denies(request_: Request) -> None:
    assert not rbac_rules.allows(RECONCILER, request_)


@pytest.mark.parametrize(
    "request_",
    [
        Request("get", "coordination.k8s.io", "leases", "model-operator-leader-election"),
        Request("create", "coordination.k8s.io", "leases"),
        Request("update", "coordination.k8s.io", "leases", "model-operator-leader-election"),
    ],
    ids=["get-lease", "create-lease", "renew-lease"],
)
def test_leader_election_role_allows(request_: Request) -> None:
    assert rbac_rules.allows(LEADER_ELECTION, request_)


@pytest.mark.parametrize(
    "request_",
    [
        Request("delete", "coordination.k8s.io", "leases", "model-operator-leader-election"),
        Request("create", "", "events"),
        Request("create", "events.k8s.io", "events"),
    ],
    ids=["delete-lease", "core-event", "event"],
)
def test_leader_election_role_grants_nothing_leader_election_does_not_use(request_: Request) -> None:
    assert not rbac_rules.allows(LEADER_ELECTION, request_)


def test_leader_election_role_is_namespaced_and_bound_to_the_reconciler(
    default_install: list[Manifest],
) -> None:
    role = layout.find(default_install, "Role", layout.LEADER_ELECTION_ROLE)
    binding = layout.find(default_install, "RoleBinding", layout.LEADER_ELECTION_ROLE)
    assert role["metadata"]["namespace"] == layout.NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": layout.LEADER_ELECTION_ROLE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "modelservice-reconciler", "namespace": layout.NAMESPACE}
    ]


def test_reconciler_cluster_role_is_bound_to_the_reconciler_only(default_install: list[Manifest]) -> None:
    binding = layout.find(default_install, "ClusterRoleBinding", layout.RECONCILER_CLUSTER_ROLE)
    assert binding["roleRef"]["name"] == layout.RECONCILER_CLUSTER_ROLE
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "modelservice-reconciler", "namespace": layout.NAMESPACE}
    ]


def test_webhook_has_no_rbac_and_no_token(default_install: list[Manifest]) -> None:
    bound = [
        f"{b['kind']}/{b['metadata']['name']}"
        for b in default_install
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
        for s in b.get("subjects") or []
        if s.get("kind") == "ServiceAccount" and s.get("name") == "modelservice-webhook"
    ]
    assert bound == []
    account = layout.find(default_install, "ServiceAccount", "modelservice-webhook")
    pod = layout.pod_spec(layout.find(default_install, "Deployment", layout.WEBHOOK_DEPLOYMENT))
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "modelservice-webhook"
    assert pod["automountServiceAccountToken"] is False
