"""The serving-pod informer: what it keeps of a Pod, how a pod finds its Deployment, and that a
pod's change (and only that) makes the reconciler look at its ModelService again."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
import pytest

from reconciler.manager import Manager
from reconciler.pods import POD, deployment_key, slim_pod
from reconciler.runtime.client import Client
from reconciler.runtime.informer import Codec
from shared.settings import OperatorSettings
from tests.reconciler.harness import FAST, model_service, running_reconciler, wait_for
from tests.reconciler.kubelet import CUSTOM, Kubelet, pod_status, waiting
from tests.support.cluster import Cluster


def _pod(labels: dict[str, str], owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "llm", "labels": labels, "ownerReferences": owners}}


RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "qwen-decode-5d8f9c7b6", "controller": True}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod({"pod-template-hash": "5d8f9c7b6"}, [RS]), "llm/qwen-decode"),
        (_pod({"pod-template-hash": "5d8f9c7b6"}, [RS | {"name": "a-b-c-5d8f9c7b6"}]), "llm/a-b-c"),
        (_pod({}, [RS]), None),
        (_pod({"pod-template-hash": "other"}, [RS]), None),
        (_pod({"pod-template-hash": "5d8f9c7b6"}, [RS | {"controller": False}]), None),
        (_pod({"pod-template-hash": "5d8f9c7b6"}, [RS | {"kind": "StatefulSet"}]), None),
    ],
    ids=[
        "replicaset-of-a-deployment",
        "dashes-in-the-name",
        "no-hash",
        "hash-mismatch",
        "not-controller",
        "not-rs",
    ],
)
def test_a_pod_names_its_deployment_through_its_replica_set(
    pod: dict[str, Any], expected: str | None
) -> None:
    assert deployment_key(pod) == expected


FULL_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "qwen-decode-5d8f9c7b6-x2k4q",
        "generateName": "qwen-decode-5d8f9c7b6-",
        "namespace": "llm",
        "uid": "0b6c",
        "resourceVersion": "4711",
        "creationTimestamp": "2026-03-01T12:00:00Z",
        "labels": {"app.kubernetes.io/name": "qwen", "pod-template-hash": "5d8f9c7b6"},
        "annotations": {"note": "x" * 500},
        "ownerReferences": [RS | {"uid": "9f1", "blockOwnerDeletion": True}],
        "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {"containers": [{"name": "vllm", "image": "vllm:1", "args": ["--model", "/models"]}]},
    "status": {
        "phase": "Running",
        "hostIP": "10.240.0.1",
        "podIP": "10.244.0.7",
        "startTime": "2026-03-01T12:00:01Z",
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": "t0"},
            {
                "type": "Ready",
                "status": "False",
                "reason": "ContainersNotReady",
                "message": "containers with unready status: [vllm]",
                "lastTransitionTime": "t1",
            },
        ],
        "initContainerStatuses": [
            {
                "name": "model-unpack",
                "image": "kitops:1",
                "imageID": "sha256:1",
                "ready": True,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "containerID": "c1"}},
                "lastState": {},
            }
        ],
        "containerStatuses": [
            {
                "name": "vllm",
                "image": "vllm:1",
                "imageID": "sha256:2",
                "containerID": "c2",
                "ready": False,
                "started": False,
                "restartCount": 2,
                "state": {"running": {"startedAt": "t2"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "m" * 5000}},
                "volumeMounts": [{"name": "model", "mountPath": "/models"}],
            }
        ],
    },
}


def test_the_cache_keeps_only_what_the_status_reads() -> None:
    assert slim_pod(FULL_POD) == {
        "metadata": {
            "name": "qwen-decode-5d8f9c7b6-x2k4q",
            "namespace": "llm",
            "resourceVersion": "4711",
            "creationTimestamp": "2026-03-01T12:00:00Z",
            "labels": {"pod-template-hash": "5d8f9c7b6"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "qwen-decode-5d8f9c7b6", "controller": True}],
        },
        "status": {
            "phase": "Running",
            "startTime": "2026-03-01T12:00:01Z",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"},
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "message": "containers with unready status: [vllm]",
                    "lastTransitionTime": "t1",
                },
            ],
            "initContainerStatuses": [
                {
                    "name": "model-unpack",
                    "image": "kitops:1",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
            "containerStatuses": [
                {
                    "name": "vllm",
                    "image": "vllm:1",
                    "ready": False,
                    "started": False,
                    "restartCount": 2,
                    "state": {"running": {"startedAt": "t2"}},
                    "lastState": {
                        "terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "m" * 1024}
                    },
                }
            ],
        },
    }


async def test_serving_pods_are_cached_slim_and_a_pod_change_requeues_its_model_service(
    cluster: Cluster, kubelet: Kubelet
) -> None:
    namespace, key = cluster.namespace, f"{cluster.namespace}/qwen"
    async with running_reconciler(cluster) as r:
        cache = r.manager.cache
        await cluster.create(model_service("qwen", decode={"replicas": 1, "annotations": CUSTOM}))
        pod = await kubelet.scheduled_pod("qwen-decode")

        def cached_as_live() -> bool:
            live = cluster.get("v1", "Pod", pod["metadata"]["name"])
            return live is not None and cache.dependents(POD, namespace, "qwen-decode") == [slim_pod(live)]

        await wait_for(cached_as_live, message="the decode pod cached, slim")
        await wait_for(lambda: cache.dependents(POD, namespace, "qwen-epp"), message="the EPP pod cached")
        full, kept = len(orjson.dumps(pod)), len(Codec().encode(slim_pod(pod)))
        assert kept < full / 4, f"a cached pod takes {kept} of {full} bytes"

        await r.idle()
        before, fingerprint = r.manager.controller.reconciles, cache.fingerprint(key)
        image = pod["spec"]["containers"][0]["image"]
        written = await kubelet.write(
            pod, pod_status(pod, containers=[waiting("vllm", image, "ContainerCreating")])
        )
        rv = written["metadata"]["resourceVersion"]
        await wait_for(
            lambda: (
                [p["metadata"]["resourceVersion"] for p in cache.dependents(POD, namespace, "qwen-decode")]
                == [rv]
            )
        )
        await wait_for(lambda: r.manager.controller.reconciles > before, message="the ModelService requeued")
        assert cache.fingerprint(key) != fingerprint

        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "a resync over unchanged pods makes no request"


async def test_a_reconciler_refused_the_pods_never_syncs_and_still_stops_gracefully(cluster: Cluster) -> None:
    cluster.faults.fail_next("list", "pods", code=403, times=10_000)
    async with Client(cluster.client_config()) as client:
        manager = Manager(client, OperatorSettings(), replace(FAST, namespaces=(cluster.namespace,)))
        task = asyncio.create_task(manager.run(), name="reconciler under test")
        try:
            await wait_for(
                lambda: any(r.status == 403 and r.path.endswith("/pods") for r in cluster.requests),
                message="the pod list refused",
            )
            assert not manager.synced
            manager.stop()
            async with asyncio.timeout(5):
                await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
