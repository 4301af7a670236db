"""The reconciler against the real API server: create, converge, follow spec changes, stay quiet."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply import FIELD_MANAGER, FIELDS
from reconciler.reconcile import FINALIZER
from reconciler.runtime.client import Client
from shared.api import ModelService
from shared.builders import build_all
from shared.settings import OperatorSettings
from tests.reconciler.harness import (
    MODELSERVICES,
    Manifest,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster

GC_TIMEOUT = 60.0


def _desired(cluster: Cluster, name: str, settings: OperatorSettings) -> tuple[list[Manifest], list[Any]]:
    stored = get(cluster, "ModelService", name)
    assert stored is not None
    state = build_all(ModelService.model_validate(stored), settings)
    return list(state.objects), list(state.absent)


def _live(cluster: Cluster, obj: Manifest) -> Manifest | None:
    meta = obj["metadata"]
    return cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))


def _converged(cluster: Cluster, name: str, settings: OperatorSettings) -> bool:
    """Every desired child exists as built (subset), no absent child exists."""
    objects, absent = _desired(cluster, name, settings)
    for obj in objects:
        live = _live(cluster, obj)
        if live is None or not FIELDS.is_subset(obj, live):
            return False
    return all(cluster.get(r.api_version, r.kind, r.name, r.namespace or "") is None for r in absent)


def _ready(cluster: Cluster, name: str) -> bool:
    return condition(get(cluster, "ModelService", name), "Ready").get("status") == "True"


async def test_a_new_model_service_gets_every_child_exactly_as_built(cluster: Cluster) -> None:
    settings = OperatorSettings()
    async with running_reconciler(cluster, settings):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _converged(cluster, "qwen", settings), message="children as built")
        objects, _ = _desired(cluster, "qwen", settings)
        kinds = sorted(o["kind"] for o in objects)
        assert kinds == sorted(
            [
                "Deployment",
                "ServiceAccount",
                "ConfigMap",
                "Deployment",
                "Service",
                "Role",
                "RoleBinding",
                "InferencePool",
                "HTTPRoute",
                "DestinationRule",
                "PodMonitor",
            ]
        )
        uid = get(cluster, "ModelService", "qwen")["metadata"]["uid"]  # type: ignore[index]
        for obj in objects:
            live = _live(cluster, obj)
            assert live is not None
            assert live["metadata"]["ownerReferences"][0]["uid"] == uid
            managers = [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]]
            assert (FIELD_MANAGER, "Apply") in managers
        await wait_for(lambda: _ready(cluster, "qwen"), message="Ready")


async def test_a_second_reconcile_makes_no_api_requests(cluster: Cluster) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen"))
        await cluster.create(model_service("pd", **_pd_spec()))
        await wait_for(lambda: _ready(cluster, "qwen") and _ready(cluster, "pd"), message="both Ready")
        await r.idle()
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "a no-op reconcile must make neither reads nor writes"


async def test_converging_a_new_model_service_writes_each_child_once(cluster: Cluster) -> None:
    settings = OperatorSettings()
    async with running_reconciler(cluster, settings) as r:
        await r.idle()
        r.mark()
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _converged(cluster, "qwen", settings))
        await r.idle()
        objects, _ = _desired(cluster, "qwen", settings)
        counts = r.since_mark()
        assert counts.get(("patch", 201), 0) == len(objects), "each child is created by one apply"
        assert counts.get(("create", 201), 0) == r.manager.events.sent
        assert counts.get(("update", 200), 0) == 0, "nothing is replaced"
        assert not [k for k in counts if k[1] >= 400], counts


def _pd_spec() -> dict[str, Any]:
    return {
        "decode": {"replicas": 2},
        "prefill": {"replicas": 1},
        "routingProxy": {},
    }


async def _patch_spec(cluster: Cluster, kube: Client, name: str, spec: dict[str, Any]) -> None:
    await kube.patch(MODELSERVICES, name, {"spec": spec}, cluster.namespace)


def _exists(cluster: Cluster, api_version: str, kind: str, name: str) -> bool:
    return cluster.get(api_version, kind, name) is not None


@pytest.mark.parametrize(
    ("change", "appears", "disappears"),
    [
        (
            {"prefill": {"replicas": 1}, "routingProxy": {}},
            [
                ("apps/v1", "Deployment", "qwen-prefill"),
                ("monitoring.coreos.com/v1", "PodMonitor", "qwen-prefill"),
            ],
            [],
        ),
        (
            {"inferencePool": {"endpointPicker": {}}},
            [
                ("v1", "Secret", "qwen-epp-sa-metrics-reader-secret"),
                ("rbac.authorization.k8s.io/v1", "ClusterRole", "{namespace}-qwen-epp"),
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "{namespace}-qwen-epp"),
            ],
            [],
        ),
        (
            {"monitoring": {"podMonitor": {"enabled": False}}},
            [],
            [("monitoring.coreos.com/v1", "PodMonitor", "qwen-decode")],
        ),
    ],
    ids=["adding-prefill", "adding-an-inference-pool", "disabling-pod-monitors"],
)
async def test_children_follow_a_spec_change_and_its_undo(
    cluster: Cluster,
    kube: Client,
    change: dict[str, Any],
    appears: list[tuple[str, str, str]],
    disappears: list[tuple[str, str, str]],
) -> None:
    settings = OperatorSettings()

    def present(refs: list[tuple[str, str, str]], want: bool) -> bool:
        named = [(a, k, n.format(namespace=cluster.namespace)) for a, k, n in refs]
        return all((cluster.get(a, k, n) is not None) == want for a, k, n in named)

    async with running_reconciler(cluster, settings):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _converged(cluster, "qwen", settings) and present(appears, False))
        await _patch_spec(cluster, kube, "qwen", change)
        await wait_for(lambda: present(appears, True) and present(disappears, False), message="the change")
        await wait_for(lambda: _converged(cluster, "qwen", settings))
        await _patch_spec(cluster, kube, "qwen", dict.fromkeys(change))
        await wait_for(lambda: present(appears, False) and present(disappears, True), message="the undo")
        await wait_for(lambda: _converged(cluster, "qwen", settings))


async def test_prefill_switches_the_epp_config_and_back(cluster: Cluster, kube: Client) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))

        def config_key() -> str | None:
            cm = cluster.get("v1", "ConfigMap", "qwen-epp-config")
            return next(iter(cm["data"])) if cm else None

        await wait_for(lambda: config_key() == "default-plugins.yaml")
        await _patch_spec(cluster, kube, "qwen", {"prefill": {}, "routingProxy": {}})
        await wait_for(lambda: config_key() == "pd-config.yaml")
        await _patch_spec(cluster, kube, "qwen", {"prefill": None, "routingProxy": None})
        await wait_for(lambda: config_key() == "default-plugins.yaml")


async def test_removing_a_field_we_set_removes_it_from_the_child(cluster: Cluster, kube: Client) -> None:
    route = {"gatewayRef": {"name": "gw", "namespace": "gateways"}, "hostnames": ["a.example.com"]}
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", httpRoute=route))

        def route_spec() -> dict[str, Any]:
            live = cluster.get("gateway.networking.k8s.io/v1", "HTTPRoute", "qwen")
            return live["spec"] if live else {}

        await wait_for(lambda: route_spec().get("hostnames") == ["a.example.com"])
        await _patch_spec(cluster, kube, "qwen", {"httpRoute": {"hostnames": None}})
        await wait_for(lambda: route_spec() and "hostnames" not in route_spec(), message="hostnames removed")
        await _patch_spec(cluster, kube, "qwen", {"httpRoute": None})
        await wait_for(
            lambda: (
                route_spec().get("parentRefs", [{}])[0].get("name") == OperatorSettings().default_gateway_name
            )
        )


async def test_a_provider_change_in_the_settings_removes_the_destination_rule(cluster: Cluster) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _exists(cluster, "networking.istio.io/v1beta1", "DestinationRule", "qwen-epp"))
    async with running_reconciler(cluster, OperatorSettings(provider="none")):
        await wait_for(
            lambda: not _exists(cluster, "networking.istio.io/v1beta1", "DestinationRule", "qwen-epp")
        )
        assert _exists(cluster, "apps/v1", "Deployment", "qwen-epp")


async def test_the_finalizer_is_only_added_for_cluster_scoped_children(
    cluster: Cluster, kube: Client
) -> None:
    def finalizers() -> list[str]:
        return list(
            (get(cluster, "ModelService", "qwen") or {"metadata": {}})["metadata"].get("finalizers") or []
        )

    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        await wait_for(lambda: _ready(cluster, "qwen"))
        assert finalizers() == []
        await _patch_spec(cluster, kube, "qwen", {"inferencePool": {"endpointPicker": {}}})
        await wait_for(lambda: finalizers() == [FINALIZER])
        await wait_for(
            lambda: _exists(
                cluster, "rbac.authorization.k8s.io/v1", "ClusterRole", f"{cluster.namespace}-qwen-epp"
            )
        )
        await _patch_spec(cluster, kube, "qwen", {"inferencePool": None})
        await wait_for(lambda: finalizers() == [], message="finalizer released")
        assert not _exists(
            cluster, "rbac.authorization.k8s.io/v1", "ClusterRole", f"{cluster.namespace}-qwen-epp"
        )


async def test_deleting_runs_the_finalizer_and_garbage_collection_removes_the_rest(
    cluster: Cluster, kube: Client
) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool={"endpointPicker": {}}))
        await wait_for(
            lambda: _exists(
                cluster, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f"{cluster.namespace}-qwen-epp"
            )
        )
        await wait_for(lambda: _ready(cluster, "qwen"))
        await kube.delete(MODELSERVICES, "qwen", cluster.namespace)
        await wait_for(lambda: get(cluster, "ModelService", "qwen") is None, message="ModelService gone")
        for kind in ("ClusterRole", "ClusterRoleBinding"):
            assert not _exists(cluster, "rbac.authorization.k8s.io/v1", kind, f"{cluster.namespace}-qwen-epp")
        # The garbage collector learns of a new CRD's kind on its own discovery round (30 s).
        await wait_for(lambda: not cluster.list("apps/v1", "Deployment"), GC_TIMEOUT, "GC of Deployments")
        # Every namespace keeps the cluster's root CA bundle, published by the controller-manager.
        await wait_for(
            lambda: [c["metadata"]["name"] for c in cluster.list("v1", "ConfigMap")] == ["kube-root-ca.crt"],
            GC_TIMEOUT,
            "GC of ConfigMaps",
        )


async def test_only_the_configured_namespaces_are_reconciled(cluster: Cluster) -> None:
    other = cluster.cp.create_namespace("other-")
    async with running_reconciler(cluster, namespaces=(cluster.namespace,)) as r:
        await cluster.create(model_service("elsewhere", namespace=other))
        await cluster.create(model_service("here"))
        await wait_for(lambda: _ready(cluster, "here"))
        await r.resync()
        assert cluster.get("apps/v1", "Deployment", "elsewhere-decode", other) is None
        assert r.manager.cache.keys() == [f"{cluster.namespace}/here"]
    cluster.cp.delete_namespace(other)
