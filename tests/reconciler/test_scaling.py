"""Day-2 scaling on the real control plane: `kubectl scale`, autoscalers, and who owns the replicas.

The control plane runs the real HPA controller (syncing every 2 s) and no metrics adapter, so an
HPA here can enforce its bounds but never computes a count from metrics: exactly what shows
whether the reconciler leaves the replica count to the autoscaler. KEDA is a stand-in CRD with
KEDA's documented fields (no KEDA controller runs).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from reconciler.runtime.client import Client, Resource
from shared import labels
from shared.scaling_status import format_selector
from testbed.controlplane import ApiError
from tests.reconciler.harness import (
    DEPLOYMENTS,
    FAST,
    MODELSERVICES,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster, keda_crd

HPAS = Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True)
SCALED_OBJECTS = Resource("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects", True)
ONE_AT_A_TIME = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SCALING = {"minReplicas": 2, "maxReplicas": 5, "requestsWaiting": 5, "kvCacheUsage": "0.8"}
PODS = 30.0
"""Pods are created by the Deployment controller, scheduled, and started by the fake kubelets."""
HPA_SYNC = 20.0
"""The HPA controller syncs every 2 s; this leaves room on a busy machine."""


def _decode(cluster: Cluster) -> dict[str, Any] | None:
    return cluster.get("apps/v1", "Deployment", "qwen-decode")


def _replicas(cluster: Cluster) -> int | None:
    return ((_decode(cluster) or {}).get("spec") or {}).get("replicas")


def _status(cluster: Cluster) -> dict[str, Any]:
    return (get(cluster, "ModelService", "qwen") or {}).get("status") or {}


async def _kubectl(cluster: Cluster, *args: str) -> Any:
    return await asyncio.to_thread(cluster.cp.kubectl, *args, "-n", cluster.namespace, check=False)


def _writes_to_children(cluster: Cluster, since: int) -> list[str]:
    """The reconciler's writes after request number `since`, except its status patches and Events."""
    return [
        f"{r.method} {r.path}"
        for r in cluster.requests[since:]
        if r.method in WRITES and "/modelservices/" not in r.path and "/events" not in r.path
    ]


async def test_kubectl_scale_reaches_the_decode_deployment(cluster: Cluster) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _status(cluster).get("decode"), PODS, "the decode group's status")
        # Pods with accelerators replace one at a time: no rollout needs a spare GPU.
        assert (_decode(cluster) or {})["spec"]["strategy"] == ONE_AT_A_TIME

        scaled = await _kubectl(cluster, "scale", "modelservice/qwen", "--replicas=3")
        assert scaled.returncode == 0, scaled.stderr
        assert (get(cluster, "ModelService", "qwen") or {})["spec"]["decode"]["replicas"] == 3
        await wait_for(lambda: _replicas(cluster) == 3, 10, "the decode Deployment scaled to 3")
        await wait_for(lambda: _status(cluster)["decode"]["readyReplicas"] == 3, PODS, "three ready pods")

        status = _status(cluster)
        deployment = _decode(cluster) or {}
        selector = format_selector(deployment["spec"]["selector"]["matchLabels"])
        assert status["decode"] == {
            "replicas": 3,
            "readyReplicas": 3,
            "updatedReplicas": 3,
            "selector": selector,
        }
        assert (status["decodeReady"], status["decodeReplicas"]) == (3, 3), "the old counters stay"
        shown = await _kubectl(cluster, "get", "modelservice/qwen", "--subresource=scale", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        scale = json.loads(shown.stdout)
        assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (3, 3)
        assert scale["status"]["selector"] == selector
        assert f"{labels.MANAGED_BY}={labels.MANAGED_BY_VALUE}" in selector


async def test_an_autoscaler_owns_the_replica_count_and_the_reconciler_leaves_it_alone(
    cluster: Cluster, kube: Client
) -> None:
    resync = 1.0
    async with running_reconciler(cluster, options=replace(FAST, resync_period=resync)) as r:
        await cluster.create(model_service("qwen", decode={"autoscaling": SCALING}))
        hpa = await wait_for(
            lambda: cluster.get("autoscaling/v2", "HorizontalPodAutoscaler", "qwen-decode"), 10
        )
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "qwen-decode",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
        assert [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"]] == [
            "vllm_num_requests_waiting",
            "vllm_kv_cache_usage_perc",
        ]
        assert hpa["metadata"]["ownerReferences"][0]["kind"] == "ModelService"

        # The Deployment was created without replicas (the API server's default is 1); the real
        # HPA controller raises it to the minimum through the Deployment's scale subresource.
        await wait_for(lambda: _replicas(cluster) == 2, HPA_SYNC, "the HPA controller to apply its minimum")
        # Without a metrics adapter the HPA cannot compute a count, and the status says so.
        scaling = await wait_for(
            lambda: (
                condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady").get("reason")
                not in (None, "NotFound", "AwaitingAutoscaler")
                and condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady")
            ),
            HPA_SYNC,
            "the HPA's verdict in AutoscalingReady",
        )
        assert scaling["status"] == "False", scaling
        assert scaling["reason"] == "FailedGetPodsMetric", scaling
        assert scaling["message"].startswith(
            "decode: HorizontalPodAutoscaler qwen-decode ScalingActive=False"
        )

        # A replica change the way the HPA controller makes one: the Deployment's scale subresource.
        await r.idle()
        since = len(cluster.requests)
        await kube.patch(
            DEPLOYMENTS, "qwen-decode", {"spec": {"replicas": 4}}, cluster.namespace, subresource="scale"
        )
        started, reconciles = time.monotonic(), r.manager.controller.reconciles
        await wait_for(
            lambda: time.monotonic() - started > resync and r.manager.controller.reconciles >= reconciles + 2,
            10,
            "a full resync period and the passes it triggered",
        )
        await r.idle()
        assert _replicas(cluster) == 4, "the reconciler took the replica count back"
        assert _writes_to_children(cluster, since) == []
        await wait_for(lambda: _status(cluster)["decode"]["replicas"] == 4, PODS, "the status to follow")

        # Autoscaling off again: the HPA goes, the written count applies, the condition goes.
        patch = {"spec": {"decode": {"autoscaling": None, "replicas": 3}}}
        await kube.patch(MODELSERVICES, "qwen", patch, cluster.namespace)
        await wait_for(
            lambda: cluster.get("autoscaling/v2", "HorizontalPodAutoscaler", "qwen-decode") is None,
            10,
            "the HPA pruned",
        )
        await wait_for(lambda: _replicas(cluster) == 3, 10, "the written replica count")
        await wait_for(lambda: condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady") == {}, 10)


async def test_keda_gets_a_scaled_object_and_switching_engines_swaps_the_autoscaler(
    cluster: Cluster, kube: Client
) -> None:
    keda = {
        "engine": "keda",
        "minReplicas": 1,
        "maxReplicas": 3,
        "requestsWaiting": "2.5",
        "prometheusAddress": "http://prometheus.monitoring.svc:9090",
    }
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", decode={"autoscaling": keda}))
        scaled = await wait_for(lambda: cluster.get("keda.sh/v1alpha1", "ScaledObject", "qwen-decode"), 10)
        assert scaled["spec"] == {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen-decode"},
            "minReplicaCount": 1,
            "maxReplicaCount": 3,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "vllm_num_requests_waiting",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": "http://prometheus.monitoring.svc:9090",
                        "query": f'sum(vllm:num_requests_waiting{{namespace="{cluster.namespace}",'
                        f'job="{cluster.namespace}/qwen-decode"}})',
                        "threshold": "2.5",
                    },
                }
            ],
        }
        assert cluster.get("autoscaling/v2", "HorizontalPodAutoscaler", "qwen-decode") is None
        # No KEDA runs here to report on it.
        waiting = await wait_for(lambda: condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady"))
        assert (waiting["status"], waiting["reason"]) == ("False", "AwaitingAutoscaler")
        assert "replicas" not in (_decode(cluster) or {})["spec"] or _replicas(cluster) == 1

        switch = {"engine": "hpa", "prometheusAddress": None}  # a merge patch: the rest is kept
        await kube.patch(
            MODELSERVICES, "qwen", {"spec": {"decode": {"autoscaling": switch}}}, cluster.namespace
        )
        await wait_for(
            lambda: (
                cluster.get("keda.sh/v1alpha1", "ScaledObject", "qwen-decode") is None
                and cluster.get("autoscaling/v2", "HorizontalPodAutoscaler", "qwen-decode") is not None
            ),
            10,
            "the ScaledObject replaced by an HPA",
        )


@pytest.mark.parametrize(
    "command",
    [("scale", "modelservice/qwen", "--replicas=3"), ("apply", "-f", "-")],
    ids=["kubectl scale", "kubectl apply"],
)
async def test_replicas_beside_autoscaling_is_refused_by_the_api_server_too(
    cluster: Cluster, command: tuple[str, ...]
) -> None:
    # The webhook denies it with a path; the scale subresource never reaches the webhook, so the
    # CRD's own rule must refuse it as well (no reconciler needed: the API server decides).
    await cluster.create(model_service("qwen", decode={"autoscaling": SCALING}))
    both = model_service("qwen", cluster.namespace, decode={"replicas": 3, "autoscaling": SCALING})
    result = await asyncio.to_thread(
        cluster.cp.kubectl, *command, "-n", cluster.namespace, stdin=json.dumps(both), check=False
    )
    assert result.returncode != 0
    assert "spec.decode.replicas" in result.stderr, result.stderr
    assert "replicas and autoscaling are mutually exclusive" in result.stderr, result.stderr
    assert "replicas" not in (get(cluster, "ModelService", "qwen") or {})["spec"]["decode"]


async def test_a_create_with_both_is_refused_at_the_field(cluster: Cluster) -> None:
    with pytest.raises(ApiError) as refused:
        await cluster.create(model_service("qwen", decode={"replicas": 2, "autoscaling": SCALING}))
    assert refused.value.code == 422
    causes = refused.value.body["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [("spec.decode.replicas", "FieldValueForbidden")]


async def test_without_keda_the_scaled_object_is_skipped_and_said_so_until_keda_is_installed(
    bare_cluster: Cluster,
) -> None:
    cluster = bare_cluster
    keda = {"engine": "keda", "maxReplicas": 2, "requestsWaiting": 4, "prometheusAddress": "http://p:9090"}
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", decode={"autoscaling": keda}))
        skipped = await wait_for(
            lambda: condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady"),
            10,
            "AutoscalingReady",
        )
        assert (skipped["status"], skipped["reason"]) == ("False", "CRDNotInstalled")
        assert skipped["message"] == "decode: ScaledObject CRD not installed (is KEDA installed?)"
        integrations = condition(get(cluster, "ModelService", "qwen"), "IntegrationsReady")
        assert "ScaledObject" in integrations["message"]
        # Serving goes on without its autoscaler: the Deployment exists, at the API server's default.
        await wait_for(lambda: _replicas(cluster) == 1, 10, "the decode Deployment")

        await cluster.install_crd(keda_crd())
        await wait_for(
            lambda: cluster.get("keda.sh/v1alpha1", "ScaledObject", "qwen-decode") is not None,
            15,
            "the ScaledObject once its CRD is served",
        )
        await wait_for(
            lambda: (
                condition(get(cluster, "ModelService", "qwen"), "AutoscalingReady").get("reason")
                == "AwaitingAutoscaler"
            ),
            10,
            "AutoscalingReady waiting for KEDA",
        )
