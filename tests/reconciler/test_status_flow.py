"""Status over a ModelService's life: phases, failure, invalid specs, missing CRDs, Events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from reconciler.runtime.client import Client
from tests.reconciler.harness import (
    DEPLOYMENTS,
    MODELSERVICES,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster, upstream_crds

READY_TIMEOUT = 30.0
"""Ready needs real pods: scheduled, then started and made ready by the fake kubelets."""
CONTROLLER_TIMEOUT = 60.0
"""The ReplicaSet controller retries a failed pod creation with exponential backoff."""


def _phase(cluster: Cluster, name: str = "qwen") -> str | None:
    return ((get(cluster, "ModelService", name) or {}).get("status") or {}).get("phase")


def _events(cluster: Cluster) -> list[dict[str, Any]]:
    """Events about ModelServices: the real controllers also report on Deployments, ReplicaSets
    and Pods in the namespace (scaling, pod creation, scheduling)."""
    events = cluster.list("events.k8s.io/v1", "Event")
    return [e for e in events if (e.get("regarding") or {}).get("kind") == "ModelService"]


async def _phases_until_ready(kube: Client, namespace: str, start: str, sink: list[str]) -> None:
    async with aclosing(kube.watch(MODELSERVICES, namespace, resource_version=start)) as events:
        async for _, obj in events:
            phase = (obj.get("status") or {}).get("phase")
            if phase and (not sink or sink[-1] != phase):
                sink.append(phase)
            if phase == "Ready":
                return


async def test_status_goes_pending_then_running_then_ready(cluster: Cluster, kube: Client) -> None:
    cluster.faults.fail_next("patch", "deployments", code=500)
    phases: list[str] = []
    # From a list made before anything is created, not from "0" (whatever state the object has when
    # the watch request arrives): a reconciler quicker than that request would hide the first phase.
    start = (await kube.list(MODELSERVICES, cluster.namespace))["metadata"]["resourceVersion"]
    watcher = asyncio.create_task(_phases_until_ready(kube, cluster.namespace, start, phases))
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", decode={"replicas": 2}))
        async with asyncio.timeout(READY_TIMEOUT):
            await watcher
        await wait_for(lambda: any(e["reason"] == "Ready" for e in _events(cluster)), message="Ready event")
    assert phases == ["Pending", "Running", "Ready"]
    reasons = [(e["type"], e["reason"]) for e in _events(cluster)]
    assert ("Warning", "ReconcileError") in reasons
    assert ("Normal", "Created") in reasons
    assert reasons.count(("Normal", "Ready")) == 1
    created = next(e for e in _events(cluster) if e["reason"] == "Created")
    assert f"Deployment {cluster.namespace}/qwen-decode" in created["note"]
    assert created["reportingController"] == "modelservice-controller"
    assert created["regarding"]["name"] == "qwen"


def _pods(cluster: Cluster, prefix: str) -> list[str]:
    return [
        p["metadata"]["name"] for p in cluster.list("v1", "Pod") if p["metadata"]["name"].startswith(prefix)
    ]


async def _stall_the_rollout(cluster: Cluster, kube: Client) -> Callable[[], Awaitable[None]]:
    """A spec change whose new pods no node can take (16 GPUs; nodes have 8), and a progress
    deadline of one second instead of ten minutes. The deadline is set by hand once the Deployment
    controller has started the new rollout: it is not a field the operator sets, so it stays until
    the operator's next update; set any earlier, it could race the controller's status write that
    marks the rollout as started, and a Deployment whose Progressing condition still reports the
    previous, finished rollout never times out. The rollout starts a new pod before it stops an
    old one (pods with accelerators default to the reverse), so the old pod keeps serving."""
    surge_first = {"maxSurge": 1, "maxUnavailable": 0}
    change = {"parallelism": {"tensor": 16}, "rolloutStrategy": surge_first}
    await kube.patch(MODELSERVICES, "qwen", {"spec": {"decode": change}}, cluster.namespace)

    def rolling_out() -> bool:
        live = cluster.get("apps/v1", "Deployment", "qwen-decode")
        if live is None:
            return False
        container = live["spec"]["template"]["spec"]["containers"][0]
        gpus = (container.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu")
        status = live.get("status") or {}
        progressing = condition(live, "Progressing")
        return (
            gpus == "16"
            and status.get("observedGeneration") == live["metadata"]["generation"]
            and progressing.get("reason") not in (None, "NewReplicaSetAvailable")
        )

    await wait_for(rolling_out, 15, "the rollout of the 16-GPU template")
    await kube.patch(DEPLOYMENTS, "qwen-decode", {"spec": {"progressDeadlineSeconds": 1}}, cluster.namespace)

    async def undo() -> None:
        back = {"parallelism": None, "rolloutStrategy": None}
        await kube.patch(MODELSERVICES, "qwen", {"spec": {"decode": back}}, cluster.namespace)

    return undo


async def _exhaust_the_gpu_quota(cluster: Cluster, kube: Client) -> Callable[[], Awaitable[None]]:
    """A GPU quota of zero in the namespace, then the serving pod deleted: the ReplicaSet's new pod
    is forbidden at admission. The control plane runs no quota controller, so the test writes the
    status it would."""
    base = f"/api/v1/namespaces/{cluster.namespace}/resourcequotas"
    hard = {"requests.nvidia.com/gpu": "0"}
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "gpus"},
        "spec": {"hard": hard},
    }
    created = await cluster.create(quota)
    created["status"] = {"hard": hard, "used": {"requests.nvidia.com/gpu": "0"}}
    await cluster.request("PUT", f"{base}/gpus/status", created)
    for pod in _pods(cluster, "qwen-decode-"):
        await cluster.request("DELETE", f"/api/v1/namespaces/{cluster.namespace}/pods/{pod}")

    async def undo() -> None:
        await cluster.request("DELETE", f"{base}/gpus")

    return undo


@pytest.mark.parametrize(
    ("stick", "reason", "words"),
    [
        # The new pod asks for 16 GPUs; the old one keeps serving until the deadline passes.
        (
            _stall_the_rollout,
            "RolloutStuck",
            ["1 old and 1 new pods", "(asks for 16 nvidia.com/gpu) cannot be"],
        ),
        (_exhaust_the_gpu_quota, "ReplicaFailure", ["exceeded quota: gpus"]),
    ],
    ids=["progress-deadline", "replica-failure"],
)
async def test_a_stuck_deployment_fails_the_model_service_until_it_recovers(
    cluster: Cluster,
    kube: Client,
    stick: Callable[[Cluster, Client], Awaitable[Callable[[], Awaitable[None]]]],
    reason: str,
    words: list[str],
) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _phase(cluster) == "Ready", READY_TIMEOUT, "Ready")
        unstick = await stick(cluster, kube)
        await wait_for(lambda: _phase(cluster) == "Failed", CONTROLLER_TIMEOUT, "Failed")
        # The deadline may pass before the scheduler has judged the new pod: its words then join
        # the message a moment later (the reason, and so the Event, stay the same).
        await wait_for(
            lambda: all(
                t in condition(get(cluster, "ModelService", "qwen"), "Ready")["message"] for t in words
            ),
            CONTROLLER_TIMEOUT,
            f"the message to say {words}",
        )
        found = get(cluster, "ModelService", "qwen")
        ready = condition(found, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", reason)
        assert ready["message"].startswith("Deployment qwen-decode: ")
        assert (found or {})["status"]["lastFailure"]["decode"]["reason"] == reason
        failed = await wait_for(lambda: [e for e in _events(cluster) if e["reason"] == reason])
        assert [e["type"] for e in failed] == ["Warning"], "one Event for the transition"
        assert ready["message"].startswith(failed[0]["note"])
        await unstick()
        await wait_for(lambda: _phase(cluster) == "Ready", CONTROLLER_TIMEOUT, "recovered")
        recovered = get(cluster, "ModelService", "qwen")
        # Kept after recovery (the 16-GPU pod may be seen once more, unschedulable, before it goes).
        assert (recovered or {})["status"]["lastFailure"]["decode"]["reason"] in (reason, "Unschedulable")


async def test_an_invalid_spec_is_reported_once_and_not_retried(cluster: Cluster, kube: Client) -> None:
    async with running_reconciler(cluster) as r:
        # Cluster-scoped children are watched in every namespace: at start-up each one enqueues its
        # ModelService, here those of other namespaces (each pass a no-op: it is not in the cache).
        await r.idle()
        started = r.manager.controller.reconciles
        await cluster.create(model_service("qwen", engine={"args": ["--port", "9000"]}))
        ready = await wait_for(lambda: condition(get(cluster, "ModelService", "qwen"), "Ready"))
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
        assert ready["message"].startswith("spec.engine.args[0]: Forbidden: --port is set by the operator")
        assert _phase(cluster) == "Failed"
        await r.idle()
        assert cluster.list("apps/v1", "Deployment") == [], "no child of an invalid spec"
        reconciles = r.manager.controller.reconciles - started
        assert reconciles <= 3, "no retry storm"
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "a resync of an invalid spec writes nothing"
        await kube.patch(MODELSERVICES, "qwen", {"spec": {"engine": {"args": None}}}, cluster.namespace)
        await wait_for(lambda: _phase(cluster) == "Ready", READY_TIMEOUT, "fixed spec reconciled")


async def test_missing_optional_crds_are_reported_and_picked_up_once_installed(
    bare_cluster: Cluster, team_data_dir: Path
) -> None:
    cluster = bare_cluster
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        integrations = await wait_for(
            lambda: (
                condition(get(cluster, "ModelService", "qwen"), "IntegrationsReady").get("status") == "False"
                and condition(get(cluster, "ModelService", "qwen"), "IntegrationsReady")
            )
        )
        assert integrations["reason"] == "CRDNotInstalled"
        assert integrations["message"] == (
            "CRDs not installed, children skipped: DestinationRule, HTTPRoute, InferencePool, PodMonitor"
        )
        routing = condition(get(cluster, "ModelService", "qwen"), "RoutingReady")
        assert (routing["status"], routing["reason"]) == ("False", "CRDNotInstalled")
        await wait_for(
            lambda: _phase(cluster) == "Ready", READY_TIMEOUT, "serving reconciled without the CRDs"
        )
        for crd in upstream_crds(team_data_dir):
            await cluster.install_crd(crd)
        await wait_for(
            lambda: (
                cluster.get("monitoring.coreos.com/v1", "PodMonitor", "qwen-decode") is not None
                and cluster.get("inference.networking.k8s.io/v1", "InferencePool", "qwen") is not None
            ),
            15,
            message="children of the new kinds",
        )
        await wait_for(
            lambda: (
                condition(get(cluster, "ModelService", "qwen"), "IntegrationsReady").get("status") == "True"
            )
        )
        assert condition(get(cluster, "ModelService", "qwen"), "RoutingReady")["status"] == "True"
