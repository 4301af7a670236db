"""Status over a ModelService's life: phases, failure, invalid specs, missing CRDs, Events."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

import pytest

from localcluster.cluster import LocalCluster
from localcluster.crds import third_party_crds
from reconciler.kube import Client
from tests.reconciler.harness import (
    DEPLOYMENTS,
    MODELSERVICES,
    NAMESPACE,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)

SIMULATE = "localcluster.otterscale.io/simulate"


def _phase(cluster: LocalCluster, name: str = "qwen") -> str | None:
    return ((get(cluster, "ModelService", name) or {}).get("status") or {}).get("phase")


def _events(cluster: LocalCluster) -> list[dict[str, Any]]:
    return cluster.list("events.k8s.io/v1", "Event", NAMESPACE)


async def _phases_until_ready(kube: Client, sink: list[str]) -> None:
    async with aclosing(kube.watch(MODELSERVICES, NAMESPACE, resource_version="0")) as events:
        async for _, obj in events:
            phase = (obj.get("status") or {}).get("phase")
            if phase and (not sink or sink[-1] != phase):
                sink.append(phase)
            if phase == "Ready":
                return


async def test_status_goes_pending_then_running_then_ready(cluster: LocalCluster, kube: Client) -> None:
    cluster.faults.fail_next("create", "deployments", code=500)
    phases: list[str] = []
    watcher = asyncio.create_task(_phases_until_ready(kube, phases))
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", decode={"replicas": 2}))
        async with asyncio.timeout(10):
            await watcher
        await wait_for(lambda: any(e["reason"] == "Ready" for e in _events(cluster)), message="Ready event")
    assert phases == ["Pending", "Running", "Ready"]
    reasons = [(e["type"], e["reason"]) for e in _events(cluster)]
    assert ("Warning", "ReconcileError") in reasons
    assert ("Normal", "Created") in reasons
    assert reasons.count(("Normal", "Ready")) == 1
    created = next(e for e in _events(cluster) if e["reason"] == "Created")
    assert "Deployment llm/qwen-decode" in created["note"]
    assert created["reportingController"] == "modelservice-controller"
    assert created["regarding"]["name"] == "qwen"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("progress-deadline-exceeded", "ProgressDeadlineExceeded"), ("replica-failure", "ReplicaFailure")],
    ids=["progress-deadline", "replica-failure"],
)
async def test_a_stuck_deployment_fails_the_model_service_until_it_recovers(
    cluster: LocalCluster, kube: Client, mode: str, reason: str
) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _phase(cluster) == "Ready")
        await kube.patch(
            DEPLOYMENTS, "qwen-decode", {"metadata": {"annotations": {SIMULATE: mode}}}, NAMESPACE
        )
        await wait_for(lambda: _phase(cluster) == "Failed", message="Failed")
        ready = condition(get(cluster, "ModelService", "qwen"), "Ready")
        assert (ready["status"], ready["reason"]) == ("False", reason)
        assert ready["message"].startswith("Deployment qwen-decode: ")
        failed = await wait_for(lambda: [e for e in _events(cluster) if e["reason"] == "Failed"])
        assert [(e["type"], e["note"]) for e in failed] == [("Warning", ready["message"])]
        await kube.patch(
            DEPLOYMENTS, "qwen-decode", {"metadata": {"annotations": {SIMULATE: None}}}, NAMESPACE
        )
        await wait_for(lambda: _phase(cluster) == "Ready", message="recovered")


async def test_an_invalid_spec_is_reported_once_and_not_retried(cluster: LocalCluster, kube: Client) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen", engine={"args": ["--port", "9000"]}))
        ready = await wait_for(lambda: condition(get(cluster, "ModelService", "qwen"), "Ready"))
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
        assert ready["message"].startswith("spec.engine.args[0]: Forbidden: --port is set by the operator")
        assert _phase(cluster) == "Failed"
        await r.idle()
        assert cluster.list("apps/v1", "Deployment", NAMESPACE) == [], "no child of an invalid spec"
        reconciles = r.manager.controller.reconciles
        assert reconciles <= 3, "no retry storm"
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "a resync of an invalid spec writes nothing"
        await kube.patch(MODELSERVICES, "qwen", {"spec": {"engine": {"args": None}}}, NAMESPACE)
        await wait_for(lambda: _phase(cluster) == "Ready", message="fixed spec reconciled")


async def test_missing_optional_crds_are_reported_and_picked_up_once_installed(
    bare_cluster: LocalCluster,
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
        await wait_for(lambda: _phase(cluster) == "Ready", message="serving reconciled without the CRDs")
        for crd in third_party_crds():
            await cluster.install_crd(crd)
        await wait_for(
            lambda: (
                cluster.get("monitoring.coreos.com/v1", "PodMonitor", "qwen-decode", NAMESPACE) is not None
                and cluster.get("inference.networking.k8s.io/v1", "InferencePool", "qwen", NAMESPACE)
                is not None
            ),
            message="children of the new kinds",
        )
        await wait_for(
            lambda: (
                condition(get(cluster, "ModelService", "qwen"), "IntegrationsReady").get("status") == "True"
            )
        )
        assert condition(get(cluster, "ModelService", "qwen"), "RoutingReady")["status"] == "True"
