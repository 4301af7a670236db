"""Simulated controllers: Deployment rollout status (and simulated failures), token Secrets."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from kubernetes.aio.client import AppsV1Api

from localcluster import LocalCluster
from localcluster.controllers import READY_REPLICAS, SIMULATE
from localcluster.testing import async_api_client, raw_watch
from tests.localcluster.conftest import deployment

Manifest = dict[str, Any]


async def settled(cluster: LocalCluster, name: str = "web") -> Manifest:
    async with asyncio.timeout(5):
        await cluster.wait_idle()
    obj = cluster.get("apps/v1", "Deployment", name, "default")
    assert obj is not None
    return obj


def conditions(obj: Manifest) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"].get("conditions", ())}


async def test_controllers_are_off_by_default(local_cluster: LocalCluster) -> None:
    await local_cluster.create(deployment())
    assert (await settled(local_cluster))["status"] == {}


async def test_deployment_reports_a_finished_rollout(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True)
    await cluster.create(deployment(replicas=3))
    status = (await settled(cluster))["status"]
    assert {
        k: status[k]
        for k in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration")
    } == {
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "updatedReplicas": 3,
        "observedGeneration": 1,
    }
    assert conditions({"status": status}) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


async def test_a_rollout_first_reports_pods_that_are_not_ready_yet(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True, deployment_delay=0.05)
    path = "/apis/apps/v1/namespaces/default/deployments?watch=1"
    async with raw_watch(cluster, path) as stream:
        await cluster.create(deployment(replicas=2))
        first = await stream.until(lambda e: e["object"].get("status"))
        final = await stream.until(lambda e: e["object"]["status"].get("readyReplicas"))
    starting = first["object"]["status"]
    assert (starting["replicas"], starting.get("readyReplicas"), starting["unavailableReplicas"]) == (
        2,
        None,
        2,
    )
    assert conditions(first["object"]) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "ReplicaSetUpdated"),
    }
    assert final["object"]["status"]["readyReplicas"] == 2


async def test_status_follows_spec_changes(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True)
    await cluster.create(deployment(replicas=1))
    await settled(cluster)
    async with async_api_client(cluster) as client:
        api: Any = AppsV1Api(client)
        await api.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 4}})
    status = (await settled(cluster))["status"]
    assert (status["observedGeneration"], status["readyReplicas"]) == (2, 4)


async def test_status_arrives_only_after_the_configured_delay(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True, deployment_delay=0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await cluster.create(deployment())
    assert cluster.get("apps/v1", "Deployment", "web", "default")["status"] == {}  # type: ignore[index]
    status = (await settled(cluster))["status"]
    assert status["readyReplicas"] == 1 and loop.time() - start >= 0.2


@pytest.mark.parametrize(
    ("annotations", "ready", "expected"),
    [
        (
            {SIMULATE: "progress-deadline-exceeded"},
            None,
            {
                "Available": ("False", "MinimumReplicasUnavailable"),
                "Progressing": ("False", "ProgressDeadlineExceeded"),
            },
        ),
        (
            {SIMULATE: "replica-failure"},
            None,
            {
                "Available": ("False", "MinimumReplicasUnavailable"),
                "Progressing": ("True", "NewReplicaSetAvailable"),
                "ReplicaFailure": ("True", "FailedCreate"),
            },
        ),
        (
            {READY_REPLICAS: "1"},
            1,
            {
                "Available": ("False", "MinimumReplicasUnavailable"),
                "Progressing": ("True", "NewReplicaSetAvailable"),
            },
        ),
    ],
    ids=["progress-deadline-exceeded", "replica-failure", "partially-ready"],
)
async def test_annotations_simulate_unhealthy_rollouts(
    local_cluster_factory: Any, annotations: dict[str, str], ready: int | None, expected: dict[str, Any]
) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True)
    dep = deployment(replicas=3)
    dep["metadata"]["annotations"] = annotations
    await cluster.create(dep)
    obj = await settled(cluster)
    assert conditions(obj) == expected
    assert obj["status"].get("readyReplicas") == ready
    assert obj["status"]["unavailableReplicas"] == 3 - (ready or 0)


async def test_service_account_token_secret_gets_a_token(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(controllers=True)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "tok", "annotations": {"kubernetes.io/service-account.name": "epp"}},
    }
    await cluster.create(secret)
    async with asyncio.timeout(5):
        await cluster.wait_idle()
    assert "token" not in (cluster.get("v1", "Secret", "tok", "default") or {}).get("data", {})
    await cluster.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "epp"}})
    async with asyncio.timeout(5):
        await cluster.wait_idle()
    data = (cluster.get("v1", "Secret", "tok", "default") or {})["data"]
    assert base64.b64decode(data["token"]) and base64.b64decode(data["namespace"]) == b"default"
