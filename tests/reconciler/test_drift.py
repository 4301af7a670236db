"""Hand edits and deletions of children are reverted, for every kind, including the ones the
reference operator did not watch (DestinationRule, PodMonitor, ClusterRole, ClusterRoleBinding)."""

from __future__ import annotations

from typing import Any

import pytest

from localcluster.cluster import LocalCluster
from reconciler.kube import Client, Resource
from tests.reconciler.harness import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CONFIGMAPS,
    DEPLOYMENTS,
    DESTINATIONRULES,
    NAMESPACE,
    PODMONITORS,
    SERVICES,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)

POOL: dict[str, Any] = {"inferencePool": {"endpointPicker": {}}}


def _live(cluster: LocalCluster, resource: Resource, name: str) -> dict[str, Any] | None:
    return cluster.get(resource.api_version, resource.kind, name, NAMESPACE if resource.namespaced else "")


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        (DEPLOYMENTS, "qwen-decode"),
        (CONFIGMAPS, "qwen-epp-config"),
        (DESTINATIONRULES, "qwen-epp"),
        (PODMONITORS, "qwen-decode"),
        (CLUSTERROLES, "llm-qwen-epp"),
        (CLUSTERROLEBINDINGS, "llm-qwen-epp"),
    ],
    ids=["deployment", "configmap", "destinationrule", "podmonitor", "clusterrole", "clusterrolebinding"],
)
async def test_a_deleted_child_is_recreated(
    cluster: LocalCluster, kube: Client, resource: Resource, name: str
) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool=POOL["inferencePool"]))
        first = await wait_for(lambda: _live(cluster, resource, name))
        namespace = NAMESPACE if resource.namespaced else None
        await kube.delete(resource, name, namespace)
        again = await wait_for(
            lambda: (
                (obj := _live(cluster, resource, name)) and obj["metadata"]["uid"] != first["metadata"]["uid"]
            ),
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
        lambda o: len(o["spec"]["ports"]) == 2,
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
        "llm-qwen-epp",
        {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        lambda o: len(o["rules"]) == 3,
    ),
    (
        CLUSTERROLEBINDINGS,
        "llm-qwen-epp",
        {"subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": NAMESPACE}]},
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
    cluster: LocalCluster, kube: Client, resource: Resource, name: str, patch: dict[str, Any], restored: Any
) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool=POOL["inferencePool"]))
        await wait_for(
            lambda: condition(get(cluster, "ModelService", "qwen"), "Ready").get("status") == "True"
        )
        namespace = NAMESPACE if resource.namespaced else None
        edited = await kube.patch(resource, name, patch, namespace)
        assert not restored(edited), "the edit took effect"
        await wait_for(
            lambda: (obj := _live(cluster, resource, name)) is not None and restored(obj),
            message=f"{resource.kind} {name} restored",
        )


async def test_fields_and_labels_added_by_hand_are_kept(cluster: LocalCluster, kube: Client) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen"))
        await wait_for(
            lambda: condition(get(cluster, "ModelService", "qwen"), "Ready").get("status") == "True"
        )
        await r.idle()
        patch = {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "b"}}}
        await kube.patch(DEPLOYMENTS, "qwen-decode", patch, NAMESPACE)
        await r.idle()
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "extra labels and annotations are not drift"
        live = _live(cluster, DEPLOYMENTS, "qwen-decode")
        assert live is not None
        assert live["metadata"]["labels"]["team"] == "a"
