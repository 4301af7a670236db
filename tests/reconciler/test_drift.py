"""Hand edits and deletions of children are reverted, for every kind, including the ones the
reference operator did not watch (DestinationRule, PodMonitor, ClusterRole, ClusterRoleBinding)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.runtime.client import Client, Resource
from tests.reconciler.harness import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CONFIGMAPS,
    DEPLOYMENTS,
    DESTINATIONRULES,
    PODMONITORS,
    SERVICES,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster

POOL: dict[str, Any] = {"inferencePool": {"endpointPicker": {}}}
READY_TIMEOUT = 30.0
"""Ready needs real pods: scheduled, then started and made ready by the fake kubelets."""


def _fill(value: Any, namespace: str) -> Any:
    """``value`` with ``{namespace}`` in its strings replaced: cluster-scoped children embed the
    ModelService's namespace in their names, and each test has a namespace of its own."""
    if isinstance(value, str):
        return value.format(namespace=namespace)
    if isinstance(value, dict):
        return {k: _fill(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, namespace) for v in value]
    return value


def _live(cluster: Cluster, resource: Resource, name: str) -> dict[str, Any] | None:
    return cluster.get(resource.api_version, resource.kind, name)


def _ready(cluster: Cluster) -> bool:
    return condition(get(cluster, "ModelService", "qwen"), "Ready").get("status") == "True"


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        (DEPLOYMENTS, "qwen-decode"),
        (CONFIGMAPS, "qwen-epp-config"),
        (DESTINATIONRULES, "qwen-epp"),
        (PODMONITORS, "qwen-decode"),
        (CLUSTERROLES, "{namespace}-qwen-epp"),
        (CLUSTERROLEBINDINGS, "{namespace}-qwen-epp"),
    ],
    ids=["deployment", "configmap", "destinationrule", "podmonitor", "clusterrole", "clusterrolebinding"],
)
async def test_a_deleted_child_is_recreated(
    cluster: Cluster, kube: Client, resource: Resource, name: str
) -> None:
    name = _fill(name, cluster.namespace)
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool=POOL["inferencePool"]))
        first = await wait_for(lambda: _live(cluster, resource, name), 15)
        namespace = cluster.namespace if resource.namespaced else None
        await kube.delete(resource, name, namespace)
        again = await wait_for(
            lambda: (
                (obj := _live(cluster, resource, name)) and obj["metadata"]["uid"] != first["metadata"]["uid"]
            ),
            15,
            message=f"{resource.kind} {name} recreated",
        )
        assert again


EDITS = [
    (DEPLOYMENTS, "qwen-decode", {"spec": {"replicas": 5}}, lambda o: o["spec"]["replicas"] == 1),
    (
        DEPLOYMENTS,
        "qwen-epp",
        {"spec": {"template": {"spec": {"containers": [{"name": "epp", "image": "evil:latest"}]}}}},
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["image"].startswith("ghcr.io/llm-d/"),
    ),
    (
        SERVICES,
        "qwen-epp",
        {"spec": {"ports": [{"name": "x", "port": 1, "targetPort": 1}]}},
        # Our two ports come back; the hand-added one is its editor's, and stays.
        lambda o: (
            {(p["name"], p["port"]) for p in o["spec"]["ports"]}
            >= {("grpc-ext-proc", 9002), ("http-metrics", 9090)}
        ),
    ),
    (
        CONFIGMAPS,
        "qwen-epp-config",
        {"data": {"default-plugins.yaml": "edited"}},
        lambda o: o["data"]["default-plugins.yaml"] != "edited",
    ),
    (
        DESTINATIONRULES,
        "qwen-epp",
        {"spec": {"host": "elsewhere"}},
        lambda o: o["spec"]["host"].startswith("qwen-epp."),
    ),
    (
        PODMONITORS,
        "qwen-decode",
        {"spec": {"podMetricsEndpoints": []}},
        lambda o: len(o["spec"]["podMetricsEndpoints"]) == 1,
    ),
    (
        CLUSTERROLES,
        "{namespace}-qwen-epp",
        {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        lambda o: len(o["rules"]) == 3,
    ),
    (
        CLUSTERROLEBINDINGS,
        "{namespace}-qwen-epp",
        {"subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": "{namespace}"}]},
        lambda o: o["subjects"][0]["name"] == "qwen-epp",
    ),
]


@pytest.mark.parametrize(
    ("resource", "name", "patch", "restored"),
    EDITS,
    ids=[
        "replicas",
        "epp-image",
        "service-ports",
        "configmap-data",
        "destinationrule",
        "podmonitor",
        "clusterrole",
        "binding",
    ],
)
async def test_a_hand_edit_of_a_field_we_set_is_reverted(
    cluster: Cluster, kube: Client, resource: Resource, name: str, patch: dict[str, Any], restored: Any
) -> None:
    name, patch = _fill(name, cluster.namespace), _fill(patch, cluster.namespace)
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool=POOL["inferencePool"]))
        await wait_for(lambda: _ready(cluster), READY_TIMEOUT, "Ready")
        namespace = cluster.namespace if resource.namespaced else None
        edited = await kube.patch(resource, name, patch, namespace)
        assert not restored(edited), "the edit took effect"
        await wait_for(
            lambda: (obj := _live(cluster, resource, name)) is not None and restored(obj),
            15,
            message=f"{resource.kind} {name} restored",
        )


async def test_fields_and_labels_added_by_hand_are_kept(cluster: Cluster, kube: Client) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _ready(cluster), READY_TIMEOUT, "Ready")
        await r.idle()
        patch = {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "b"}}}
        await kube.patch(DEPLOYMENTS, "qwen-decode", patch, cluster.namespace)
        await r.idle()
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "extra labels and annotations are not drift"
        live = _live(cluster, DEPLOYMENTS, "qwen-decode")
        assert live is not None
        assert live["metadata"]["labels"]["team"] == "a"
